"""Run the specification and render its report: ``python -m tools.run_spec [--tags=EXPR] [behave args]``.

Used by ``make spec`` and ``make safety``. Why a wrapper around behave:
- old files in ``allure-results/`` would leak into the report, so they are cleared first;
- behave exits 0 when a tag filter selects nothing, so the runner fails a run with no
  executed scenario, and prints ``behave: N passed, M failed, K skipped`` from JUnit;
- ``--tags`` given on behave's command line replaces its default tags, so ``@wip``
  is kept out here explicitly;
- the Allure 3 report is generated as one offline file with the analytics tag removed.

Options of its own: ``--no-report`` (skip rendering), ``--budget=SECONDS`` (fail if the
scenarios take longer; off unless given: the wall time is always printed, but a loaded machine's slow run is not a
failed specification, and speed is judged by ``bench/``), ``--quiet`` (progress dots
instead of the readable output), ``--out=DIR`` (where the run's files go: ``DIR/run`` evidence,
``DIR/junit``, ``DIR/safety-report.*``; default ``reports``. Any other ``DIR`` also gets its own
``allure-results`` and ``allure-report``, so ``make safety`` leaves the full run's reports as they
were). Everything else goes to behave unchanged.

A run stopped before any scenario ran (a misspelt tag, tags that select nothing: see
``environment.before_all``) ends with behave's one line saying why, and no report: the last
run's evidence and safety report are removed before behave starts, never reused.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tools.spec_support import safety_evidence, tag_scheme
from tools.spec_support.junit import count

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "allure-results"
REPORT = ROOT / "allure-report"
JUNIT = ROOT / "reports" / "junit"
DEFAULT_EXCLUDE = "not @wip"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # a story tag's value, as tag_scheme allows it
_ANALYTICS = re.compile(r"<script[^>]*googletagmanager[^>]*>\s*</script>|<script[^>]*>[^<]*(?:gtag\(|dataLayer)[^<]*</script>",
                        re.IGNORECASE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.run_spec", description=__doc__.splitlines()[0])
    parser.add_argument("--tags", action="append", default=[], help="behave tag expression (combined with 'not @wip')")
    parser.add_argument("--no-report", action="store_true", help="do not render the HTML report")
    parser.add_argument("--budget", type=float, default=None, help="fail if the scenarios take longer (seconds)")
    parser.add_argument("--quiet", action="store_true", help="progress output instead of the readable one")
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="where this run's files go (default reports)")
    parser.add_argument("--results-dir", type=Path, default=None, help=argparse.SUPPRESS)  # tests of the runner
    parser.add_argument("--junit-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args, behave_args = parser.parse_known_args(argv)
    out = (ROOT / args.out).resolve()
    own = out != (ROOT / "reports").resolve()  # a run beside the full one: its own Allure files too
    results = (args.results_dir or (out / "allure-results" if own else RESULTS)).resolve()
    junit = (args.junit_dir or out / "junit").resolve()
    evidence_dir, report_dir = safety_evidence.evidence_location(ROOT, behave_args)
    if evidence_dir is None:
        evidence_dir, report_dir = out / "run", out
        behave_args = [*behave_args, "-D", f"evidence={evidence_dir / 'evidence.jsonl'}"]

    for folder in (results, junit):
        shutil.rmtree(folder, ignore_errors=True)
    results.mkdir(parents=True)
    junit.mkdir(parents=True)
    stale = [evidence_dir / "evidence.jsonl", evidence_dir / "run.json",
             *(report_dir / f"safety-report.{suffix}" for suffix in ("md", "html", "json"))]
    for path in stale:  # never judged, shown or attached again as if this run had made them
        path.unlink(missing_ok=True)

    tags = [f"--tags={t}" for t in args.tags] + [f"--tags={DEFAULT_EXCLUDE}"]
    if _live_target(behave_args):
        tags.append("--show-skipped")  # on live, what was skipped (and why) belongs in the report
    command = [sys.executable, "-m", "behave", *tags,
               "-f", "allure_behave.formatter:AllureFormatter", "-o", str(results), "-D", f"allure_results={results}",
               "-f", "progress" if args.quiet else "pretty", "--no-color",
               "--junit", "--junit-directory", str(junit), *behave_args]
    print("$", " ".join(command[2:]), flush=True)
    started = time.perf_counter()
    behave_rc = subprocess.run(command, cwd=ROOT).returncode
    wall = time.perf_counter() - started

    ended = safety_evidence.run_status(evidence_dir)
    if ended in (None, "stopped"):
        print("FAILED: the run stopped before any scenario ran (behave says why just above); nothing was "
              "judged and no report was written", file=sys.stderr)
        return 2

    counts = count(junit)
    budget = args.budget
    print(counts.line())
    print(f"wall time: {wall:.1f} s" + (f" (budget {budget:.0f} s)" if budget is not None else ""))
    problems = []
    if counts.failed:
        problems.append(f"{counts.failed} scenario(s) failed")
    if counts.passed == 0:
        problems.append("no scenario passed: the tag filter selected nothing, or nothing ran")
    if behave_rc != 0 and not counts.failed:
        problems.append(f"behave exited with {behave_rc} (a hook failed: see above, e.g. a safety violation)")
    if budget is not None and wall > budget:
        problems.append(f"the run took {wall:.1f} s, over its {budget:.0f} s budget")

    readable_stories(results)
    problems += safety_evidence.publish(evidence_dir, junit, results, report_dir)  # verdicts + Allure attachment
    if not args.no_report:
        report = render_report(results, out / "allure-report" if own else REPORT)
        if report:
            print(f"report: {report}  (open it in a browser; it works offline, from file://)")
        else:
            problems.append("the HTML report was not rendered (see above)")
    if own:
        print(f"this run's files are in {_shown(out)}/; the full run's reports/ and allure-report/ are untouched")
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it (what a person types)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def readable_stories(results: Path) -> int:
    """Story labels as words in the report (``position-size`` -> ``Position size``): tags must be
    single tokens, so the slugs stay in the feature files and only the Allure results change."""
    changed = 0
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        stories = [label for label in data.get("labels") or ()
                   if label.get("name") == "story" and _SLUG.match(str(label.get("value", "")))]
        for label in stories:
            label["value"] = tag_scheme.story_title(label["value"])
        if stories:
            path.write_text(json.dumps(data), encoding="utf-8")
            changed += len(stories)
    return changed


def _live_target(behave_args: list[str]) -> bool:
    joined = " ".join(behave_args).replace("--define", "-D")
    return "target=live" in joined or os.environ.get("KRAKEN_TARGET", "").lower() == "live"


def render_report(results: Path = RESULTS, output: Path = REPORT) -> Path | None:
    """Allure 3 single-file report from allurerc.json; returns its index.html or None."""
    npx = shutil.which("npx")
    if npx is None or not (ROOT / "node_modules" / "allure").exists():
        print("report not rendered: run `make install` (needs node and node_modules/allure)", file=sys.stderr)
        return None
    shutil.rmtree(output, ignore_errors=True)
    result = subprocess.run([npx, "--no-install", "allure", "generate", str(results), "--config", "allurerc.json",
                             "--output", str(output)], cwd=ROOT, capture_output=True, text=True)
    index = output / "index.html"
    if result.returncode != 0 or not index.exists() or "error" in result.stdout.lower():
        print(f"report not rendered (allure exited {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}",
              file=sys.stderr)
        return None
    strip_analytics(index)
    return index


def strip_analytics(index: Path) -> int:
    """Remove the analytics script tags (they fail offline and phone home online)."""
    html = index.read_text(encoding="utf-8")
    cleaned, removed = _ANALYTICS.subn("", html)
    if removed:
        index.write_text(cleaned, encoding="utf-8")
    return removed


if __name__ == "__main__":
    sys.exit(main())
