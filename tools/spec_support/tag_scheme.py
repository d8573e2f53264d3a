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
from fnmatch import fnmatchcase
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


def _scheme_tag(tag: str) -> bool:
    """A tag the scheme names outright (stories are any slug, so they are not among these)."""
    epic = _EPIC.match(tag)
    return tag in AREA_TAGS or tag in PURPOSE_TAGS or tag in SEVERITY_TAGS or bool(epic and epic["epic"] in EPICS)


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
    if problems:  # a typo explains the rest (a misspelt @safety leaves @critical "reserved"): name it alone
        return problems
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


def expression_tags(expression) -> list[str]:
    """The tag names (or wildcard patterns) in a behave tag expression, v1 or v2, without ``@``."""
    if expression is None:
        return []
    if hasattr(expression, "ands"):  # v1: [["@a", "~@b"], ...]
        return [t.lstrip("~-").lstrip("@") for group in expression.ands for t in group]
    found: list[str] = []
    for term in getattr(expression, "terms", None) or [getattr(expression, "term", None)]:
        if term is not None:
            found += expression_tags(term)
    name = getattr(expression, "pattern", None) or getattr(expression, "name", None)
    if isinstance(name, str) and not hasattr(expression, "terms") and not hasattr(expression, "term"):
        found.append(name.lstrip("@"))
    return found


def check_tag_expression(expression, features: Iterable) -> list[TagProblem]:
    """Tags in ``--tags`` that no scenario carries and the scheme does not name: a typo such as
    ``--tags=@saftey`` would otherwise select nothing, or (after ``not``) everything."""
    used = {str(t) for feature in features for scenario in feature.walk_scenarios()
            for t in scenario.effective_tags}
    problems = []
    for tag in dict.fromkeys(expression_tags(expression)):
        if any(c in tag for c in "*?["):
            known = any(fnmatchcase(t, tag) for t in used | AREA_TAGS | PURPOSE_TAGS | SEVERITY_TAGS)
        else:
            known = tag in used or _scheme_tag(tag)
        if not known:
            problems.append(TagProblem("--tags", f"unknown tag @{tag}"))
    return problems


# Story slugs whose words need more than a capital letter (an apostrophe, a hyphen kept).
STORY_WORDS = {"dead-mans-switch": "Dead man's switch", "live-opt-in": "Live opt-in", "read-only": "Read-only"}


def story_title(slug: str) -> str:
    """How a story reads in the report: ``position-size`` -> ``Position size``."""
    return STORY_WORDS.get(slug) or slug.replace("-", " ").capitalize()


def one_line_each(problems: Iterable[TagProblem]) -> list[str]:
    """One line per distinct problem, naming every place it occurs (``file:line``): the same typo
    pasted on seven scenarios is one mistake, told once."""
    places: dict[str, list[str]] = {}
    for p in problems:
        places.setdefault(p.problem, []).append(p.where.split(" ", 1)[0])
    return [f"{problem} at {', '.join(where)}" for problem, where in places.items()]
