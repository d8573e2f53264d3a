"""The report as Markdown, self-contained HTML (inline CSS, no external assets) and JSON.

Why three: the Markdown reads well in a terminal and a pull request, the HTML is the page a
product owner signs off (it opens offline and is attached to the Allure report), and the JSON
is for machines (``krakenbot report`` compares verdicts from it).
"""
from __future__ import annotations

import html
import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from tools.safety_report.criteria import FAIL, PASS, Verdict

TITLE = "Safety validation report"


def _when(ts: Any) -> str:
    try:
        return datetime.fromtimestamp(float(ts), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):
        return "unknown"


def metadata_rows(meta: dict[str, Any]) -> list[tuple[str, str]]:
    versions = meta.get("versions") or {}
    return [
        ("target", str(meta.get("target", "unknown"))),
        ("mode(s)", ", ".join(meta.get("modes") or ()) or "none recorded"),
        ("seed", str(meta.get("seed", "unknown"))),
        ("git commit", str(meta.get("git_commit", "unknown"))),
        ("tags", str(meta.get("tag_expression") or "(all)")),
        ("deliberately broken", str(meta.get("breakage") or "nothing")),
        ("started", _when(meta.get("started_at"))),
        ("ended", _when(meta.get("ended_at"))),
        ("package versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "unknown"),
    ]


def overall(verdicts: list[Verdict]) -> str:
    return FAIL if any(v.status == FAIL for v in verdicts) else PASS


def _figures(v: Verdict) -> str:
    return "; ".join(f"{k}: {val}" for k, val in v.figures.items())


def to_markdown(meta: dict[str, Any], verdicts: list[Verdict], generated_at: float) -> str:
    out = [f"# {TITLE}", "", f"**Overall: {overall(verdicts)}** "
           f"({sum(v.status == PASS for v in verdicts)} PASS, {sum(v.status == FAIL for v in verdicts)} FAIL, "
           f"{sum(v.status not in (PASS, FAIL) for v in verdicts)} NOT EXERCISED); generated {_when(generated_at)}",
           "", "## Verdicts", "", "| criterion | verdict | evidence | figures |", "|---|---|---|---|"]
    for v in verdicts:
        evidence = "<br>".join(_cell(e) for e in ((v.note,) if v.note else ()) + v.evidence)
        out.append(f"| {_cell(v.criterion)} | **{v.status}** | {evidence} | {_cell(_figures(v))} |")
    out += ["", "## Run", "", "| | |", "|---|---|"] + [f"| {k} | {_cell(val)} |" for k, val in metadata_rows(meta)]
    failing = [v for v in verdicts if v.failures]
    if failing:
        out += ["", "## Failures and the evidence that proves them"]
        for v in failing:
            out += ["", f"### {v.criterion}: {v.status}"]
            for failure in v.failures:
                out += ["", f"- **{failure.scenario}**"] + [f"  - `{line}`" for line in failure.lines]
    out += ["", "## Evidence per criterion"]
    for v in verdicts:
        out += ["", f"### {v.criterion}"] + [f"- {line}" for line in v.evidence]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;padding:0 1rem}
h1{margin-bottom:.2rem}table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #d0d7de;padding:.45rem .6rem;vertical-align:top;text-align:left;font-size:.92rem}
th{background:#f3f5f8}.PASS{background:#dff5e3;color:#12632a;font-weight:700}
.FAIL{background:#fde2e1;color:#a11d16;font-weight:700}.NOT{background:#fff4d6;color:#7a5a00;font-weight:700}
.overall{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;margin:.5rem 0}
code{font-size:.85rem;background:#f6f8fa;padding:0 .2rem}ul{margin:.2rem 0}small{color:#57606a}
""".strip()


def to_html(meta: dict[str, Any], verdicts: list[Verdict], generated_at: float) -> str:
    e = html.escape
    status = overall(verdicts)
    rows = []
    for v in verdicts:
        cls = v.status.split()[0]
        evidence = "".join(f"<li>{e(line)}</li>" for line in ((v.note,) if v.note else ()) + v.evidence)
        figures = "".join(f"<li>{e(k)}: <b>{e(str(val))}</b></li>" for k, val in v.figures.items())
        rows.append(f"<tr><td>{e(v.criterion)}</td><td class=\"{cls}\">{e(v.status)}</td>"
                    f"<td><ul>{evidence}</ul></td><td><ul>{figures}</ul></td></tr>")
    meta_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(val)}</td></tr>" for k, val in metadata_rows(meta))
    failures = []
    for v in verdicts:
        for failure in v.failures:
            lines = "".join(f"<li><code>{e(line)}</code></li>" for line in failure.lines)
            failures.append(f"<h3>{e(v.criterion)} &mdash; {e(failure.scenario)}</h3><ul>{lines}</ul>")
    failure_html = ("<h2>Failures and the evidence that proves them</h2>" + "".join(failures)) if failures else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body><h1>{TITLE}</h1>
<div class="overall {status}">Overall: {status}</div>
<small>generated {e(_when(generated_at))} from the run's recorded evidence</small>
<h2>Verdicts</h2>
<table><thead><tr><th>criterion</th><th>verdict</th><th>evidence</th><th>figures</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>Run</h2><table><tbody>{meta_rows}</tbody></table>
{failure_html}
</body></html>
"""


def to_json(meta: dict[str, Any], verdicts: list[Verdict], generated_at: float) -> str:
    data = {"title": TITLE, "overall": overall(verdicts), "generated_at": generated_at, "run": meta,
            "verdicts": [asdict(v) for v in verdicts]}
    return json.dumps(data, indent=1, sort_keys=True, default=str)


def summary_table(verdicts: list[Verdict]) -> str:
    """The short table printed at the end of ``make spec`` and by ``krakenbot report``."""
    width = max(len(v.criterion) for v in verdicts)
    lines = [f"{'safety criterion':<{width}}  verdict", f"{'-' * width}  -------------"]
    for v in verdicts:
        first = v.failures[0].lines[0] if v.failures and v.failures[0].lines else v.note
        lines.append(f"{v.criterion:<{width}}  {v.status}" + (f"  ({first})" if first else ""))
    lines.append(f"{'overall':<{width}}  {overall(verdicts)}")
    return "\n".join(lines)
