"""The spec tests import ``tools.spec_support`` from the repository root."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(config, items):
    """``report`` tests check the rendered report, so they run only when asked for
    (``make report-check`` runs ``pytest -m report`` after ``make spec``)."""
    import pytest

    if "report" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="checks the rendered report: run after the spec with `make report-check`")
    for item in items:
        if "report" in item.keywords:
            item.add_marker(skip)
