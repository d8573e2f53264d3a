"""The mutation runner's scenario map: which @safety scenarios can notice a mutant on a given line."""
from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

from tools.mutants import scenario_map as sm

ROOT = Path(__file__).resolve().parents[2]

MODULE = textwrap.dedent('''\
    from __future__ import annotations
    import functools

    LIMIT = 5


    def guarded(fn):
        return fn


    class Breaker:
        threshold = LIMIT + 1

        @guarded
        def trip(self, failures: int, limit: int = LIMIT * 2) -> bool:
            if (failures
                    >= self.threshold):
                return True
            elif failures < 0:
                raise ValueError(
                    "negative",
                )
            try:
                return failures > limit
            except TypeError:
                return False


    if LIMIT:
        def late(x=LIMIT):
            return x + 1
    ''')
TREE = ast.parse(MODULE)


def line_of(text: str, nth: int = 1) -> int:
    hits = [n for n, line in enumerate(MODULE.splitlines(), 1) if text in line]
    return hits[nth - 1]


def test_a_statement_written_over_several_lines_is_mapped_by_all_of_its_lines():
    call = line_of('"negative"')
    assert list(sm.span(TREE, call, call)) == [line_of("raise ValueError"), call, call + 1]
    # a compound statement: its header only, not the body under it
    condition = line_of(">= self.threshold")
    assert list(sm.span(TREE, condition, condition)) == [line_of("if (failures"), condition]
    assert list(sm.span(TREE, line_of("elif"), line_of("elif"))) == [line_of("elif")]
    assert list(sm.span(TREE, line_of("except TypeError"), line_of("except TypeError"))) == [line_of("except TypeError")]


def test_what_runs_when_a_module_or_class_is_defined_is_definition_time():
    lines = sm.definition_lines(TREE)
    for text in ("LIMIT = 5", "def guarded", "threshold = LIMIT", "@guarded", "def trip", "if LIMIT:", "def late"):
        assert line_of(text) in lines, text
    for text in ("return fn", "if (failures", "return True", "return failures > limit", "return x + 1"):
        assert line_of(text) not in lines, text


def _map(executed):
    return sm.ModuleMap(MODULE, executed)


def test_a_body_line_maps_to_the_scenarios_that_ran_it_in_behaves_order_and_a_line_none_ran_to_none():
    module = _map({line_of(">= self.threshold"): {"features/b.feature:9", "features/a.feature:12",
                                                  "features/a.feature:3"}})
    assert module.scenarios(line_of("if (failures")) == ("features/a.feature:3", "features/a.feature:12",
                                                         "features/b.feature:9")
    assert module.scenarios(line_of("return True")) == ()


def test_a_line_run_outside_any_scenario_or_at_definition_time_runs_everything():
    module = _map({line_of("return failures > limit"): {"", "features/a.feature:3"},
                   line_of("LIMIT = 5"): {"features/a.feature:3"}})
    assert module.scenarios(line_of("return failures > limit")) is sm.EVERYTHING
    assert module.scenarios(line_of("LIMIT = 5")) is sm.EVERYTHING  # only one scenario imported it, all see it
    assert module.scenarios(line_of("def trip"), line_of("def trip")) is sm.EVERYTHING  # the default argument


# ---- the map from a real run: behave under coverage, a child process with an environment of its own ---------------

PROJECT_MODULE = textwrap.dedent('''\
    def computed_at_import():
        return 41 + 1


    VALUE = computed_at_import()


    def in_the_parent(x):
        return x * 2


    def in_a_child(x):
        return x - 1


    def never(x):
        return x + 3
    ''')

STEPS = textwrap.dedent('''\
    import subprocess, sys, os
    from behave import step


    @step("the parent computes")
    def parent(context):
        import shop.core
        assert shop.core.in_the_parent(2) == 4


    @step("a child process computes")
    def child(context):
        import shop.core  # the same module, imported during a scenario
        done = subprocess.run([sys.executable, "-c", "import shop.core; assert shop.core.in_a_child(2) == 1"],
                              env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ["PYTHONPATH"]})
        assert done.returncode == 0
    ''')

ENVIRONMENT = textwrap.dedent(f'''\
    import os, sys
    sys.path.insert(0, {str(ROOT)!r})
    from tools.mutants import scenario_map

    MAP = bool(os.environ.get(scenario_map.ENV))


    def before_all(context):
        if MAP:
            scenario_map.start()


    def before_scenario(context, scenario):
        if MAP:
            scenario_map.enter(str(scenario.location))


    def after_scenario(context, scenario):
        if MAP:
            scenario_map.leave()
    ''')

FEATURE = textwrap.dedent('''\
    Feature: shop

      Scenario: in this process
        Given the parent computes

      Scenario: in another process
        Given a child process computes
    ''')


def _map_of_a_project(root, module_text: str, feature: str, steps: str):
    """The runner's scenario map of ``src/shop/core.py`` in a small behave project written under ``root``."""
    import tools.mutants.__main__ as runner

    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    (root / "src" / "shop" / "core.py").write_text(module_text)
    (root / "features").mkdir()
    (root / "features" / "shop.feature").write_text(feature)
    (root / "steps").mkdir()
    (root / "steps" / "shop_steps.py").write_text(steps)
    (root / "environment.py").write_text(ENVIRONMENT)
    module = "src/shop/core.py"
    maps = runner._map_scenarios(root, f"{sys.executable} -m behave -f plain --no-junit features", [module], 60)
    assert maps is not None
    return maps[module]


def test_a_real_map_run_labels_the_parents_and_the_childs_lines_and_sends_import_time_code_everywhere(tmp_path):
    """The line run only at import (in before_all) runs everything; the line run only in a process that a
    scenario started, with an environment of its own, maps to that scenario; one run by none, to none."""
    core = _map_of_a_project(tmp_path, PROJECT_MODULE, FEATURE, STEPS)
    line = {text: n for n, row in enumerate(PROJECT_MODULE.splitlines(), 1) for text in [row.strip()]}
    assert core.scenarios(line["return 41 + 1"]) is sm.EVERYTHING
    assert core.scenarios(line["return x * 2"]) == ("features/shop.feature:3",)
    assert core.scenarios(line["return x - 1"]) == ("features/shop.feature:6",)
    assert core.scenarios(line["return x + 3"]) == ()


# ---- review10: a result kept across scenarios (a process-wide cache) -------------------------------------------

CACHED_MODULE = textwrap.dedent('''\
    from functools import lru_cache


    @lru_cache(maxsize=None)
    def limit(mode):
        return 5
    ''')

CACHED_STEPS = textwrap.dedent('''\
    from behave import step


    @step("the limit is read")
    def read(context):
        import shop.core
        shop.core.limit("live")


    @step("the limit is five")
    def five(context):
        import shop.core
        assert shop.core.limit("live") == 5
    ''')

CACHED_FEATURE = textwrap.dedent('''\
    Feature: shop

      Scenario: the first to ask
        Given the limit is read

      Scenario: one that relies on the answer
        Given the limit is five
    ''')


def test_a_line_whose_result_a_process_wide_cache_keeps_is_judged_by_every_scenario_that_uses_it(tmp_path):
    """safety/allowlist.py's ``check`` is ``lru_cache``d: its body runs in the first scenario that asks each
    (mode, endpoint) (20 of the 230 @safety scenarios), every later one reads the kept verdict. A mutant there
    (``return 6``) is killed by the second scenario in a whole run, but the map judges it by the first alone,
    which passes: survived, a wrong verdict. The module docstring says whatever acts beyond the scenario that ran
    it runs everything."""
    core = _map_of_a_project(tmp_path, CACHED_MODULE, CACHED_FEATURE, CACHED_STEPS)
    judged_by = core.scenarios(CACHED_MODULE.splitlines().index("    return 5") + 1)
    assert judged_by is sm.EVERYTHING or "features/shop.feature:6" in judged_by, judged_by
