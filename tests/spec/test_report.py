"""The rendered report shows what the specification run produced.

Runs after ``make spec`` (``make report-check``): opens allure-report/index.html in headless
Chromium from ``file://`` (the single-file report must work offline), reads the page text,
checks that the totals shown match behave's JUnit results, and saves a screenshot to
reports/report-screenshot.png. Installs nothing: ``make browser`` provides Chromium.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tools.spec_support.junit import count

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
REPORT = ROOT / "allure-report" / "index.html"
SCREENSHOT = ROOT / "reports" / "report-screenshot.png"

pytestmark = pytest.mark.report


def render(index: Path, screenshot: Path) -> str:
    """The page's visible text after the app has rendered."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--window-size=1400,1000", "--virtual-time-budget=15000", f"--screenshot={screenshot}",
             "--dump-dom", index.as_uri()],
            capture_output=True, text=True, timeout=90)
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", result.stdout, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def test_the_report_shows_the_runs_totals_and_a_screenshot_is_saved():
    assert CHROMIUM.exists(), "Chromium is missing: run `make browser` (apt-get install chromium)"
    assert REPORT.exists(), "no report: run `make spec` first"
    counts = count(ROOT / "reports" / "junit")
    assert counts.total > 0, "no JUnit results: run `make spec` first"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)

    text = render(REPORT, SCREENSHOT)

    total = re.search(r"\bTotal (\d+)", text)
    assert total, f"the page shows no total; text starts: {text[:500]!r}"
    assert int(total.group(1)) in (counts.passed + counts.failed, counts.total), (text[:500], counts.line())
    assert re.search(rf"\bPassed {counts.passed}\b", text) or counts.passed == 0, (text[:500], counts.line())
    failed = re.search(r"\bFailed (\d+)", text)
    shown_failed = int(failed.group(1)) if failed else 0
    assert shown_failed == counts.failed, (text[:500], counts.line())
    assert "target simulator" in text or "target live" in text, "the run's metadata should be shown"
    overall = json.loads((ROOT / "reports" / "safety-report.json").read_text())["overall"]
    assert f"safety verdict {overall} (" in text, "the landing page should show the safety verdict"
    assert SCREENSHOT.exists() and SCREENSHOT.stat().st_size > 10_000, "a screenshot of the report should be saved"



def test_the_report_renders_without_java(tmp_path):
    """Allure 3 is pure Node (the README asks for no Java): its command line renders a one-result
    report with a PATH that holds node alone (and no history file: the real report's trend stays)."""
    import shutil

    node, cli = shutil.which("node"), ROOT / "node_modules" / ".bin" / "allure"
    assert node and cli.exists(), "node or node_modules/allure is missing: run `make install`"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "node").symlink_to(Path(node).resolve())
    assert shutil.which("java", path=str(bin_dir)) is None
    results = tmp_path / "results"
    results.mkdir()
    (results / "a-result.json").write_text(json.dumps({
        "uuid": "a", "historyId": "a", "name": "one scenario", "fullName": "f: one scenario", "status": "passed",
        "stage": "finished", "start": 1, "stop": 2, "labels": [{"name": "feature", "value": "f"}]}))
    config = json.loads((ROOT / "allurerc.json").read_text())
    config.pop("historyPath", None)
    (tmp_path / "allurerc.json").write_text(json.dumps(config))

    result = subprocess.run([str(bin_dir / "node"), str(cli.resolve()), "generate", str(results), "--config",
                             str(tmp_path / "allurerc.json"), "--output", str(tmp_path / "report")],
                            cwd=ROOT, env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "report" / "index.html").is_file()
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["stats"] == {"total": 1, "passed": 1}
