"""``krakenbot report`` regenerates the report from saved evidence, without re-running anything;
the files it writes are self-contained and carry the same verdicts."""
from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

from tools import safety_report as reporting
from krakenbot.cli import main as krakenbot_main
from safety_report_rig import ROOT


def _json_verdicts(path) -> dict[str, str]:
    data = json.loads(path.read_text())
    return {v["criterion"]: v["status"] for v in data["verdicts"]}


def test_krakenbot_report_regenerates_the_same_verdicts_from_saved_evidence(evidence, tmp_path, capsys):
    expected = {v.criterion: v.status for v in reporting.judge(reporting.load(evidence.run_dir))}
    out = tmp_path / "out"

    code = krakenbot_main(["report", "--evidence", str(evidence.run_dir), "--out", str(out)])

    assert code == 0
    assert _json_verdicts(out / "safety-report.json") == expected
    printed = capsys.readouterr().out
    assert "overall" in printed and f"safety report: {out / 'safety-report.html'}" in printed
    assert (out / "safety-report.md").read_text().count("| **PASS** |") == 7


def test_krakenbot_report_exits_1_and_names_the_failing_evidence(evidence, tmp_path):
    """The real command, as an operator types it, on evidence with one fill altered."""
    row = next(r for r in evidence.rows if r["safety"]["store"].get("fills") and r["mode"] != "dry-run")
    fill = row["safety"]["store"]["fills"][0]
    fill["price"] = str(Decimal(fill["price"]) + 1)
    evidence.save()
    out = tmp_path / "out"

    result = subprocess.run([sys.executable, "-m", "krakenbot.cli", "report", "--evidence", str(evidence.run_dir),
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Zero data corruption or loss                 FAIL" in result.stdout
    assert f"trade {fill['trade_id']}: store price {fill['price']} != exchange price" in result.stdout
    assert _json_verdicts(out / "safety-report.json")["Zero data corruption or loss"] == "FAIL"
    html = (out / "safety-report.html").read_text()
    assert f"trade {fill['trade_id']}: store price" in html and row["name"] in html


def test_krakenbot_report_without_evidence_says_so_and_exits_2(tmp_path, capsys):
    code = krakenbot_main(["report", "--evidence", str(tmp_path / "nothing"), "--out", str(tmp_path)])

    assert code == 2
    assert "no evidence" in capsys.readouterr().err
    assert not (tmp_path / "safety-report.html").exists()


def test_the_html_report_is_self_contained_and_holds_the_run_metadata(evidence, tmp_path):
    report = reporting.generate(evidence.run_dir, tmp_path)
    html = (tmp_path / "safety-report.html").read_text()

    assert "<style>" in html and "src=" not in html and "<link" not in html and "http" not in html
    for criterion in (v.criterion for v in report.verdicts):
        assert criterion in html
    for field in ("target", "seed", "git commit", "package versions", "started", "ended", "mode(s)"):
        assert f"<th>{field}</th>" in html
    assert report.meta["modes"] and "live" in report.meta["modes"]
    assert "behave" in report.meta["versions"]
