"""The runner fails a run that would execute nothing (behave itself exits 0 then)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tools.run_spec import readable_stories, strip_analytics

ROOT = Path(__file__).resolve().parents[2]


def test_a_tag_filter_that_selects_nothing_fails_the_run(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.run_spec", "--no-report", "--quiet", "--tags=@wip",
         "--results-dir", str(tmp_path / "results"), "--junit-dir", str(tmp_path / "junit"),
         "-D", f"evidence={tmp_path / 'evidence.jsonl'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--tags='@wip' --tags='not @wip' select(s) no scenario in features" in result.stderr
    assert "nothing was judged and no report was written" in result.stderr


def test_the_analytics_tags_are_removed_and_nothing_else(tmp_path):
    index = tmp_path / "index.html"
    index.write_text('<head><script>window.allure={};</script>\n'
                     '<script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
                     "<script>\n window.dataLayer = window.dataLayer || [];\n function gtag(){dataLayer.push(arguments);}\n"
                     " gtag('js', new Date());\n</script></head>")
    assert strip_analytics(index) == 2
    assert index.read_text() == "<head><script>window.allure={};</script>\n\n</head>"


def test_stories_read_as_words_in_the_allure_results_and_nothing_else_changes(tmp_path):
    labels = [{"name": "epic", "value": "Protection"}, {"name": "story", "value": "position-size"},
              {"name": "tag", "value": "risk"}, {"name": "feature", "value": "Risk limits"}]
    (tmp_path / "a-result.json").write_text(json.dumps({"name": "x", "labels": labels}))
    (tmp_path / "b-result.json").write_text(json.dumps({"name": "y", "labels": [{"name": "story",
                                                                                  "value": "dead-mans-switch"}]}))

    assert readable_stories(tmp_path) == 2
    assert readable_stories(tmp_path) == 0  # words stay words

    a = json.loads((tmp_path / "a-result.json").read_text())["labels"]
    assert a == [{"name": "epic", "value": "Protection"}, {"name": "story", "value": "Position size"},
                 {"name": "tag", "value": "risk"}, {"name": "feature", "value": "Risk limits"}]
    assert json.loads((tmp_path / "b-result.json").read_text())["labels"][0]["value"] == "Dead man's switch"
