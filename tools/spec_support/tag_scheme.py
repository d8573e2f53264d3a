"""The specification's tag scheme, checked before any scenario runs.

A typo such as ``@saftey`` would silently drop a scenario from ``make safety``,
so every tag must be known here and ``environment.before_all`` fails the run on
any deviation.

Tags
----
Area (exactly one per Feature, on the Feature line):
    @connectivity @market-data @orders @risk @failsafe @reconciliation
    @performance @safety-wrapper @operations
Purpose (on scenarios):
    @safety          the scenario guards money; needs severity @critical or @blocker
    @live-safe       deploys no capital and needs no fault injection: may run
                     against the real exchange (paper / read-only modes only)
    @fault-injection needs the simulator's fault or market controls; skipped on live
    @wip             work in progress; excluded by default
Severity (exactly one per scenario, Feature or scenario level):
    @blocker @critical (for @safety) and @normal @minor @trivial (otherwise)
Allure labels (single-token values):
    @allure.label.epic:<Epic>   on the Feature line (one of EPICS)
    @allure.label.story:<story> on scenarios, optional
    No @allure.label.feature: tag: allure-behave already labels each result with
    the Feature's title, and a second feature label splits the Behaviours tree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

AREA_TAGS = frozenset(
    {"connectivity", "market-data", "orders", "risk", "failsafe", "reconciliation", "performance", "safety-wrapper",
     "operations"}
)
PURPOSE_TAGS = frozenset({"safety", "live-safe", "fault-injection", "wip"})
SEVERITY_TAGS = frozenset({"blocker", "critical", "normal", "minor", "trivial"})
SAFETY_SEVERITIES = frozenset({"blocker", "critical"})
EPICS = frozenset({"Exchange-access", "Trading", "Protection", "Operations"})
_STORY = re.compile(r"^allure\.label\.story:[a-z0-9][a-z0-9-]*$")
_EPIC = re.compile(r"^allure\.label\.epic:(?P<epic>[A-Za-z-]+)$")


@dataclass(frozen=True)
class TagProblem:
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def _known(tag: str) -> bool:
    return (
        tag in AREA_TAGS
        or tag in PURPOSE_TAGS
        or tag in SEVERITY_TAGS
        or bool(_STORY.match(tag))
        or bool(_EPIC.match(tag))
    )


def check_feature(feature) -> list[TagProblem]:
    """Every problem with one parsed behave Feature's tags (empty list: all good)."""
    problems: list[TagProblem] = []
    where = f"{feature.filename}:{feature.line} Feature {feature.name!r}"
    ftags = [str(t) for t in feature.tags]
    for tag in ftags:
        if not _known(tag):
            problems.append(TagProblem(where, f"unknown tag @{tag}"))
    areas = [t for t in ftags if t in AREA_TAGS]
    if len(areas) != 1:
        problems.append(TagProblem(where, f"needs exactly one area tag, has {areas or 'none'}"))
    epics = [m.group("epic") for t in ftags if (m := _EPIC.match(t))]
    if len(epics) != 1 or epics[0] not in EPICS:
        problems.append(TagProblem(where, f"needs exactly one @allure.label.epic: from {sorted(EPICS)}, has {epics}"))
    if getattr(feature, "rules", None):
        problems.append(TagProblem(where, "uses Rule:, which allure-behave 2.16.2 drops from the report"))
    for scenario in feature.scenarios:
        problems.extend(_check_scenario(scenario, ftags))
    return problems


def _check_scenario(scenario, ftags: list[str]) -> list[TagProblem]:
    where = f"{scenario.filename}:{scenario.line} Scenario {scenario.name!r}"
    stags = [str(t) for t in scenario.tags]
    problems = [TagProblem(where, f"unknown tag @{t}") for t in stags if not _known(t)]
    if any(t in AREA_TAGS for t in stags):
        problems.append(TagProblem(where, "area tags belong on the Feature line"))
    if any(_EPIC.match(t) for t in stags):
        problems.append(TagProblem(where, "epic labels belong on the Feature line"))
    tags = set(ftags) | set(stags)
    severities = [t for t in ftags + stags if t in SEVERITY_TAGS]
    if len(severities) != 1:
        problems.append(TagProblem(where, f"needs exactly one severity tag, has {severities or 'none'}"))
    if "safety" in tags and not (set(severities) & SAFETY_SEVERITIES):
        problems.append(TagProblem(where, "@safety scenarios need severity @critical or @blocker"))
    if "safety" not in tags and set(severities) & SAFETY_SEVERITIES:
        problems.append(TagProblem(where, "@critical/@blocker are reserved for @safety scenarios"))
    if "live-safe" in tags and "fault-injection" in tags:
        problems.append(TagProblem(where, "@live-safe and @fault-injection exclude each other"))
    return problems


def check_features(features: Iterable) -> list[TagProblem]:
    problems: list[TagProblem] = []
    for feature in features:
        problems.extend(check_feature(feature))
    return problems
