"""Reliability tests import ``bench.chaos`` (repository root, outside ``src``) and the
driver scripts next to this file: make both importable however pytest is started."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
