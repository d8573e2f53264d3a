"""Issue 22: a real ``krakenbot run`` tells its operator what it does, one line per cycle and per order
event, in the file it was given, against the simulator over loopback HTTP."""
from __future__ import annotations

import json
import re

from krakensim import KrakenSimulator

from test_operator_controls import cli_run, sim_env

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _run(sim, tmp_path, mode: str, log_format: str, **env: str) -> tuple[list[str], object]:
    log_file = tmp_path / f"{mode}.log"
    live = ["--live"] if mode == "live" else []
    done = cli_run(["run", "--mode", mode, *live, "--interval", "0.6", "--cycles", "4", "--log-file", str(log_file),
                    "--log-format", log_format],
                   sim_env(sim, tmp_path / "home", STRATEGY_INTERVAL_SECONDS="1", KRAKEN_LIVE_TRADING="yes", **env),
                   tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INFO" not in done.stderr  # the log went to the file, not to stderr
    return log_file.read_text().splitlines(), done


def test_a_paper_run_logs_one_line_per_cycle_and_each_order_sent_and_validated(tmp_path):
    with KrakenSimulator(seed=7, tier="pro") as sim:
        lines, _ = _run(sim, tmp_path, "paper", "text")
        sent = [r for r in sim.access_log if r.endpoint == "AddOrder"]
    cycles = [line for line in lines if re.match(rf"{TIME} INFO +orchestrator: cycle \d+: ", line)]
    assert [re.search(r"cycle (\d+):", line).group(1) for line in cycles] == ["1", "2", "3", "4"], lines
    assert any("XBTEUR buy " in line and ": validated (paper)" in line for line in cycles), cycles
    assert len(sent) >= 1
    events = [re.search(r"executor: order (\w+) (sent|validated)", line) for line in lines]
    said = [(m.group(1), m.group(2)) for m in events if m]
    assert len(said) == 2 * len(sent) and [s for _, s in said] == ["sent", "validated"] * len(sent), lines


def test_a_live_run_logs_acknowledgement_fill_and_a_refusal_with_its_code_as_json(tmp_path):
    with KrakenSimulator(seed=7, tier="pro") as sim:
        lines, _ = _run(sim, tmp_path, "live", "json", MAX_DAILY_TRADES="1")
    records = [json.loads(line) for line in lines]
    assert all(re.fullmatch(TIME, r["time"]) and r["level"] and r["component"] and r["message"] for r in records)
    events = [(r["event"], r["cl_ord_id"]) for r in records if r["component"] == "executor" and "event" in r]
    first = events[0][1]
    assert [e for e, cl in events if cl == first][:3] == ["sent", "acknowledged", "filled"], events
    filled = next(r for r in records if r.get("event") == "filled")
    assert filled["volume_executed"] == filled["volume"] and filled["txid"]
    refused = [r for r in records if r["component"] == "safety" and r.get("event") == "refused"]
    assert refused and refused[0]["codes"] == ["DAILY_TRADE_LIMIT"], records
    assert "order refused DAILY_TRADE_LIMIT" in refused[0]["message"]
    cycles = [r for r in records if r["component"] == "orchestrator" and "cycle" in r]
    assert [r["cycle"] for r in cycles] == [1, 2, 3, 4]
    assert any("refused DAILY_TRADE_LIMIT" in r["decisions"]["XBTEUR"] for r in cycles), cycles
