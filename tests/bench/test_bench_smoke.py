"""Smoke tests: the bench modules run with tiny counts and produce well-formed output.

No timed assertions anywhere: these check that the harness works (the right rows, the
right files, errors counted), never how fast anything is.
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest

from bench import report, targets
from bench.latency import add_ratios, measure
from bench.peers import FloorClient, RequestsClient
from bench.signing import MillisecondNonce, NonceCounter, kraken_signature
from bench.simproc import SimProcess
from bench.stats import percentile, summarize_ns
from bench.svg_chart import latency_svg

# Kraken's published vector (../shared/kraken/auth-and-errors.md §1.4)
VECTOR_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
VECTOR_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
VECTOR_SIGN = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


def test_baseline_signer_matches_krakens_published_vector():
    assert kraken_signature("/0/private/AddOrder", "1616492376594", VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGN


@pytest.mark.parametrize("make", [NonceCounter, MillisecondNonce])
def test_nonces_strictly_increase_back_to_back(make):
    nonce = make()
    drawn = [nonce() for _ in range(2000)]
    assert all(b > a for a, b in zip(drawn, drawn[1:]))


def test_percentiles_use_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    s = summarize_ns([1000 * v for v in range(1, 101)])
    assert (s.n, s.p50, s.p95, s.max) == (100, 50.0, 95.0, 100.0)
    assert math.isnan(summarize_ns([]).p50)


def _fake_latency() -> dict:
    lat = {
        "floor": {c: {"p50": 100.0, "p95": 150.0, "p99": 200.0} for c in ("Ticker", "Balance", "AddOrder")},
        "krakenbot": {c: {"p50": 150.0, "p95": 250.0, "p99": 300.0} for c in ("Ticker", "Balance", "AddOrder")},
        "ccxt": {c: {"p50": 500.0, "p95": 600.0, "p99": 700.0} for c in ("Ticker", "Balance", "AddOrder")},
        "krakenex": {c: {"p50": 250.0, "p95": 600.0, "p99": 700.0} for c in ("Ticker", "Balance", "AddOrder")},
    }
    add_ratios(lat)
    return lat


def test_targets_judge_ratios_within_the_run():
    results = {"latency": _fake_latency(), "imports": {"krakenbot": {"seconds": 0.3}, "ccxt": {"seconds": 0.4}}}
    by_name = {t.name: t for t in targets.evaluate(results)}
    assert by_name["client Ticker p50 <= 1.3x floor"].status == "MISS"        # 1.5x
    assert by_name["client Ticker p50 <= 0.5x ccxt"].status == "PASS"         # 0.3x
    assert by_name["client Ticker p50 <= 0.5x krakenex"].status == "MISS"     # 0.6x
    assert by_name["import krakenbot < 0.25 s"].status == "MISS"
    assert by_name["import krakenbot below import ccxt"].status == "PASS"
    assert by_name["whole specification < 60 s"].status == "N/A"
    results["latency"]["krakenbot"]["Ticker"]["p50"] = 125.0
    assert {t.name: t for t in targets.evaluate(results)}["client Ticker p50 <= 1.3x floor"].status == "PASS"  # 1.25x


def test_bot_path_verdict_shows_its_spread_over_blocks_of_rounds():
    from bench.bot_path import block_ratios

    client = [1000] * 100
    wrapper = [1900] * 20 + [2100] * 20 + [2000] * 60  # blocks of 20 rounds: +0.9, +1.1, +1.0, +1.0, +1.0
    assert [round(r, 2) for r in block_ratios(wrapper, client)] == [0.9, 1.1, 1.0, 1.0, 1.0]
    assert block_ratios(wrapper[:99], client[:99]) == []  # fewer than 20 rounds a block: no spread claimed
    results = {"bot_path": {"ack": {"overhead_ratio": 1.5, "block_ratios": [0.9, 1.1, 1.0, 1.0, 1.6]}}}
    row = {t.name: t for t in targets.evaluate(results)}["bot path adds <= 1.5x a bare client call"]
    assert (row.measured, row.status) == ("+1.50x client call (blocks +0.90..+1.60x)", "PASS")
    results["bot_path"]["ack"]["overhead_ratio"] = 1.51
    assert {t.name: t for t in targets.evaluate(results)}["bot path adds <= 1.5x a bare client call"].status == "MISS"


def test_our_package_is_timed_from_bytecode_written_for_it():
    import importlib.util
    import os

    from bench.imports import ROOT, compile_own_bytecode

    source = ROOT / "src" / "krakenbot" / "models.py"
    cached = importlib.util.cache_from_source(str(source))
    if os.path.exists(cached):
        os.remove(cached)
    assert compile_own_bytecode()
    assert os.path.exists(cached)  # written even where PYTHONDONTWRITEBYTECODE is set


def test_latency_chart_is_well_formed_svg_with_a_bar_per_client_and_call():
    svg = latency_svg(_fake_latency(), ("Ticker", "Balance", "AddOrder"), "t <&> title")
    root = ET.fromstring(svg)
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
    assert len(bars) == 4 * 3


def test_interleaved_rounds_against_the_simulator_count_samples_and_errors():
    with SimProcess() as sim:
        floor = FloorClient(sim.url, *sim.new_key())
        bare = RequestsClient(sim.url, *sim.new_key())
        broken = FloorClient(sim.url, sim.api_key, "AAAA" + sim.api_secret[4:])  # wrong secret: every private call fails
        broken.name = "broken"
        try:
            res = measure([floor, bare, broken], timed=5, warmup=2, calls=("Balance",))
        finally:
            for c in (floor, bare, broken):
                c.close()
    assert res["floor"]["Balance"]["n"] == 5 and not res["floor"]["Balance"]["errors"]
    assert res["requests"]["Balance"]["n"] == 5
    assert res["broken"]["Balance"]["n"] == 0
    assert sum(res["broken"]["Balance"]["errors"].values()) == 5


def test_quick_run_writes_the_three_stable_result_files(tmp_path):
    from bench.run import main

    assert main(["--quick", "--only", "latency", "--clients", "floor", "requests", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "latest.json").read_text())
    assert set(data["latency"]) == {"floor", "requests"}
    assert data["latency"]["floor"]["Balance"]["ratio_p50"] == 1.0
    assert "| floor |" in (tmp_path / "latest.md").read_text()
    ET.fromstring((tmp_path / "latency.svg").read_text())
    assert {t["name"] for t in data["targets"]} >= {"whole specification < 60 s", "import krakenbot < 0.25 s"}
    assert report.markdown(data).startswith("# Benchmark results")


def test_bot_path_times_every_layer_and_reaches_fills():
    from bench.bot_path import measure as bot_path

    res = bot_path(orders=4, fills=2)
    stages = {row["stage"]: row for row in res["stages"]}
    assert {name: stages[name]["n"] for name in stages} == {
        "bare client": 4, "bot client": 4, "executor": 4, "safety wrapper": 4,
        "store.record_intent": 4, "risk.check": 4, "risk snapshot": 4,
    }
    assert res["requests_per_placement"]["bare client"] == ["AddOrder"]
    # a resting limit order is not read back (the layer table subtracts no QueryOrders); SystemStatus
    # and BalanceEx are cached on the clock (5 s, 10 s), so they only show when a TTL ran out
    assert "AddOrder" in res["requests_per_placement"]["safety wrapper"]
    assert "QueryOrders" not in res["requests_per_placement"]["safety wrapper"]
    assert not any("SystemStatus" in row["layer"] or "QueryOrders" in row["layer"] for row in res["layers"])
    assert res["fill"]["n"] == 2
    assert res["ack"]["overhead_ratio"] is not None


def test_memory_cycles_run_through_the_bot_without_errors():
    from bench.memory import order_cycles

    res = order_cycles(cycles=20, warmup=2)
    assert res["errors"] == 0 and len(res["samples"]) == 20
    assert res["start_mib"] > 0 and res["peak_mib"] >= res["end_mib"]


def test_cache_bound_inserts_more_keys_than_the_bound():
    from bench.memory import cache_bound

    res = cache_bound(keys=60, max_entries=20)
    assert (res["keys_inserted"], res["bound"]) == (60, 20)
    assert res["bounded"] is (res["max_size_seen"] <= 20)


def test_chaos_summary_is_read_from_the_last_rate_line():
    from bench.suites import parse_chaos

    out = "seed 1: 120 operations/s (600 operations in 5.0 s wall)\n1,234 operations/s (1200 operations, seeds 1..2)\n"
    res = parse_chaos(out, 0, 2.5, 2.0)
    assert (res["ops_per_s"], res["operations"]) == (1234.0, 1200)
    assert res["detail"].startswith("money invariants held")
    assert "skipped" in parse_chaos("Traceback ...", 1, 1.0, 2.0)


def test_import_probe_reports_time_and_rss_from_a_fresh_interpreter():
    from bench.imports import probe

    res = probe("json,decimal")
    assert res["seconds"] > 0 and res["rss_after_kib"] >= res["rss_before_kib"] > 0
    assert "error" in probe("no_such_module_for_the_bench")


def test_throughput_reports_the_median_of_interleaved_windows():
    from bench.throughput import measure as throughput

    res = throughput(seconds=0.4, threads=(1, 2), windows=2)
    assert [(row["threads"], row["flow_rate"]) for row in res["rows"]] == [(1, 0), (2, 0), (1, res["flow_rate"])]
    assert res["flow_rate"] > 0  # the flow-on line runs with other traders' orders arriving
    for row in res["rows"]:
        assert len(row["windows_req_per_s"]) == 2 and row["failures"] == 0
        assert row["req_per_s"] <= row["best_req_per_s"]


def test_risk_check_is_timed_at_each_fill_history_size():
    from bench.bot_path import risk_check_scaling

    res = risk_check_scaling((0, 20), checks=2)
    assert [(row["fills"], row["n"]) for row in res["rows"]] == [(0, 2), (20, 2)]


def test_book_section_verifies_every_checksum_on_both_sides_and_is_judged():
    from bench.book import measure

    book = measure(quick=True)
    assert {name: (row["verified"], row["messages"]) for name, row in book["rows"].items()} == {
        "krakenbot": (510, 510), "ccxt_pro_checksum": (510, 510), "ccxt_pro_no_checksum": (510, 510)}
    assert book["memory"]["levels"] == 2000 and book["memory"]["verified"] == book["memory"]["messages"]
    verdicts = {t.name: t for t in targets.evaluate({"book": book})}
    assert verdicts["book updates/s >= 2x ccxt pro (checksum on)"].status in ("PASS", "MISS")
    assert verdicts["book memory bounded at depth 1000"].status in ("PASS", "MISS")
    book["rows"]["krakenbot"]["verified"] = 509  # a contender that missed a checksum never passes
    assert "NOT every checksum verified" in {t.name: t for t in targets.evaluate({"book": book})}[
        "book updates/s >= 2x ccxt pro (checksum on)"].measured


def test_sim_ws_stream_checks_checksums_in_every_window_and_is_judged():
    from bench.sim_ws_throughput import CHECKED, ROWS, measure

    ws = measure(seconds=0.2, windows=1)
    assert [(row["driver"], row["change"]) for row in ws["rows"]] == list(ROWS)
    for row in ws["rows"]:
        assert (row["checked"], row["mismatches"]) == (CHECKED, 0) and row["updates_per_s"] > 0
    name = "simulator >= 10,000 WS book updates/s to one subscriber"
    verdict = {t.name: t for t in targets.evaluate({"sim_ws": ws})}[name]
    assert verdict.status in ("PASS", "MISS") and "another thread" in verdict.measured
    ws["rows"][0]["updates_per_s"] = 10_000.0
    ws["rows"][1]["mismatches"] = 1  # a wrong stream never passes, however fast
    verdict = {t.name: t for t in targets.evaluate({"sim_ws": ws})}[name]
    assert (verdict.status, verdict.measured.endswith("1 checksum mismatches")) == ("MISS", True)
    assert "| level sizes | the server's event loop | 10,000 |" in report.markdown({"sim_ws": ws})
