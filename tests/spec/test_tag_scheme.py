"""The tag scheme check that before_all runs: typos and missing tags fail loudly."""
from __future__ import annotations

from pathlib import Path

import pytest
from behave.parser import parse_feature, parse_file

from tools.spec_support.tag_scheme import check_feature, check_features

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
@risk @allure.label.epic:Protection
Feature: Limits
  @safety @critical
  Scenario: guarded
    Given something
  @normal @live-safe
  Scenario: plain
    Given something
"""


def problems(text: str) -> list[str]:
    return [str(p) for p in check_feature(parse_feature(text, filename="x.feature"))]


def test_a_well_tagged_feature_has_no_problem():
    assert problems(GOOD) == []


@pytest.mark.parametrize("old, new, expected", [
    ("@safety @critical", "@saftey @critical", "unknown tag @saftey"),
    ("@risk @allure", "@allure", "exactly one area tag"),
    ("@risk @allure", "@risk @orders @allure", "exactly one area tag"),
    ("@safety @critical", "@safety @normal", "need severity @critical or @blocker"),
    ("@normal @live-safe", "@critical @live-safe", "reserved for @safety"),
    ("@normal @live-safe", "@normal @live-safe @fault-injection", "exclude each other"),
    ("@normal @live-safe", "@live-safe", "exactly one severity"),
    ("epic:Protection", "epic:Whatever", "epic"),
])
def test_each_deviation_is_reported(old, new, expected):
    assert any(expected in p for p in problems(GOOD.replace(old, new, 1)))


def test_rule_blocks_are_refused_because_the_report_would_drop_them():
    text = GOOD.replace("  @safety @critical\n  Scenario: guarded", "  Rule: r\n  @safety @critical\n  Scenario: guarded")
    assert any("Rule:" in p for p in problems(text))


def test_the_specification_itself_follows_the_scheme():
    features = [parse_file(str(p)) for p in sorted((ROOT / "features").glob("*.feature"))]
    assert len(features) >= 8
    assert check_features(features) == []
