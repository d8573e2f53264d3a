"""Fixtures: ``clean_run`` (a real specification run, once per session) and ``evidence`` (a copy to break)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safety_report_rig import Evidence, run_spec_subset


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clean-run")
    result = run_spec_subset(folder)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder


@pytest.fixture
def evidence(clean_run, tmp_path) -> Evidence:
    copy = tmp_path / "copy"
    shutil.copytree(clean_run, copy)
    return Evidence(copy)


