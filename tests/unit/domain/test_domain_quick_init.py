"""``quick_init``: the faster ``__init__`` must behave exactly as the dataclass's own."""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from krakenbot.execution.executor import PlacementResult
from krakenbot.models import OrderRequest, quick_init
from krakenbot.risk.checks import RiskSnapshot
from krakenbot.safety.outcomes import OrderOutcome
from krakenbot.store import OrderRecord

QUICK = [OrderRequest, OrderRecord, RiskSnapshot, PlacementResult, OrderOutcome]


def _reference(cls: type) -> type:
    """The same fields as a plain frozen dataclass (its generated ``__init__``)."""
    spec = [(f.name, f.type, field(default=f.default) if f.default is not dataclasses.MISSING else
             field(default_factory=f.default_factory) if f.default_factory is not dataclasses.MISSING else field())
            for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(f"Reference{cls.__name__}", spec, frozen=True)


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_the_signature_is_the_dataclasses_own(cls):
    ours = inspect.signature(cls.__init__).parameters
    assert list(ours) == list(inspect.signature(_reference(cls).__init__).parameters)
    for f in dataclasses.fields(cls):
        default = ours[f.name].default
        if f.default is not dataclasses.MISSING:
            assert default is f.default or default == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert default is not inspect.Parameter.empty, f.name  # a sentinel: the factory runs per call
        else:
            assert default is inspect.Parameter.empty, f.name


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_instances_hold_the_same_values_stay_frozen_and_compare_as_before(cls):
    fields = dataclasses.fields(cls)
    values = {f.name: f"v-{f.name}" for f in fields
              if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    if cls is OrderRequest:
        values.update(side="buy", ordertype="limit", volume="0.01")
    made = cls(**values)
    reference = _reference(cls)(**values) if cls is not OrderRequest else None
    for f in fields:
        if reference is not None:
            assert getattr(made, f.name) == getattr(reference, f.name), f.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, fields[0].name, "changed")
    assert made == cls(**values) and repr(made).startswith(cls.__name__ + "(")


def test_post_init_still_runs_and_refuses_a_float():
    with pytest.raises(TypeError, match="never a float"):
        OrderRequest("XBTEUR", "buy", "limit", 0.1)
    request = OrderRequest("XBTEUR", "buy", "limit", "0.10")
    assert request.volume == Decimal("0.10") and request.side.value == "buy"


def test_default_factories_give_each_instance_its_own_value():
    first, second = RiskSnapshot(), RiskSnapshot()
    assert first.free_balances == {} and first.free_balances is not second.free_balances


def test_positional_and_missing_arguments_behave_as_before():
    assert PlacementResult("id", "OPEN", "T", True).reason is None
    with pytest.raises(TypeError):
        PlacementResult("id")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        PlacementResult("id", "OPEN", "T", True, unknown=1)  # type: ignore[call-arg]


def test_a_field_may_be_called_as_the_generated_codes_helpers_were():
    @quick_init
    @dataclass(frozen=True)
    class Named:
        state: str
        default: int = 0
        factory: list = field(default_factory=list)

    made = Named("open")
    assert (made.state, made.default, made.factory) == ("open", 0, [])


def test_what_it_does_not_handle_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="frozen"):
        @quick_init
        @dataclass
        class Mutable:
            a: int

    with pytest.raises(TypeError, match="plain init field"):
        @quick_init
        @dataclass(frozen=True)
        class Hidden:
            a: int
            b: int = field(default=0, init=False)

    with pytest.raises(TypeError, match="generated __init__"):
        @quick_init
        @dataclass(frozen=True, init=False)
        class OwnInit:
            a: str

            def __init__(self, a: int) -> None:
                object.__setattr__(self, "a", str(a))

    with pytest.raises(TypeError, match="reserved"):  # made outside a class body: no name mangling
        quick_init(dataclasses.make_dataclass("Reserved", [("__qi_state", int)], frozen=True))

    with pytest.raises(TypeError, match="InitVar"):
        @quick_init
        @dataclass(frozen=True)
        class WithInitVar:
            a: int
            b: dataclasses.InitVar[int] = 0
