"""The simulator's HTTP control API under ``/_sim/`` (never under ``/0/``).

Lets a process that does not embed the simulator (``krakensim serve``, a spec
run in another process) drive it: reset, inject faults, move the market, change
the system status, advance a manual clock, read state and the access log.
Answers loopback clients only.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from krakensim import errors

if TYPE_CHECKING:
    from krakensim import KrakenSimulator

LOOPBACK = ("127.", "::1", "::ffff:127.")
FAULT_FIELDS = ("endpoint", "kind", "error", "status", "seconds", "times", "probability")


class ControlAPI:
    """Callable the gateway hands ``(http_method, endpoint, params, client_ip)``; returns ``(status, json)``."""

    def __init__(self, sim: "KrakenSimulator") -> None:
        self._sim = sim
        self._routes = {
            ("GET", "state"): self._state,
            ("POST", "reset"): self._reset,
            ("GET", "faults"): self._list_faults,
            ("POST", "faults"): self._inject_fault,
            ("DELETE", "faults"): self._clear_faults,
            ("POST", "market"): self._market,
            ("POST", "status"): self._status,
            ("POST", "flow"): self._flow,
            ("POST", "advance"): self._advance,
            ("GET", "access-log"): self._access_log,
        }

    def __call__(self, http_method: str, endpoint: str, params: dict[str, Any], client_ip: str) -> tuple[int, Any]:
        if not client_ip.startswith(LOOPBACK):
            return 403, {"error": ["control API is loopback only"]}
        route = self._routes.get((http_method, endpoint.strip("/")))
        if route is None:
            known = {name for _, name in self._routes}
            return (405 if endpoint.strip("/") in known else 404), {"error": [f"no route {http_method} /_sim/{endpoint}"]}
        try:
            return 200, route(params)
        except errors.KrakenAPIError as exc:
            return 400, {"error": [exc.code]}
        except (ValueError, TypeError, KeyError, InvalidOperation, OverflowError) as exc:
            return 400, {"error": [f"{type(exc).__name__}: {exc}"]}

    def _state(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sim.state()

    def _reset(self, params: dict[str, Any]) -> dict[str, Any]:
        self._sim.reset()
        return {"reset": True}

    def _list_faults(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"faults": [f.to_json() for f in self._sim.faults.all()]}

    def _inject_fault(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = set(params) - set(FAULT_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = self._sim.faults.inject(**params)
        return {"fault": fault.to_json()}

    def _clear_faults(self, params: dict[str, Any]) -> dict[str, Any]:
        self._sim.faults.clear()
        return {"faults": []}

    def _market(self, params: dict[str, Any]) -> dict[str, Any]:
        pair = params["pair"]
        done: dict[str, Any] = {"pair": pair}
        if "price" in params:
            self._sim.set_price(pair, _decimal(params["price"]))
            done["price"] = str(params["price"])
        if "shock_pct" in params:
            self._sim.shock(pair, _decimal(params["shock_pct"]))
            done["shock_pct"] = str(params["shock_pct"])
        if "liquidity" in params:
            self._sim.set_liquidity(pair, _decimal(params["liquidity"]))
            done["liquidity"] = str(params["liquidity"])
        if len(done) == 1:
            raise ValueError("give price, shock_pct or liquidity")
        return done

    def _flow(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{"rate": arrivals a second on each pair, "volatility": random-walk step}``, either or both."""
        unknown = set(params) - {"rate", "volatility"}
        if unknown or not params:
            raise ValueError(f"give rate and/or volatility (unknown: {sorted(unknown)})")
        rate = params.get("rate")
        if isinstance(rate, bool):
            raise ValueError("rate must be a number")
        volatility = params.get("volatility")
        self._sim.set_flow(rate, None if volatility is None else _decimal(volatility))
        return {"rate": self._sim.exchange.flow_rate, "volatility": str(self._sim.exchange.volatility)}

    def _status(self, params: dict[str, Any]) -> dict[str, Any]:
        self._sim.set_system_status(params["status"])
        return {"status": params["status"]}

    def _advance(self, params: dict[str, Any]) -> dict[str, Any]:
        seconds = params["seconds"]
        if isinstance(seconds, bool):
            raise ValueError("seconds must be a number")
        now = self._sim.advance(float(seconds))
        return {"time": now}

    def _access_log(self, params: dict[str, Any]) -> dict[str, Any]:
        since = int(params.get("since", 0))
        if since < 0:
            raise ValueError("since must be a record index (0 or more)")
        return {"records": [r.to_json() for r in self._sim.access_log_since(since)]}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):  # JSON numbers arrive as float; go through their shortest text form
        value = repr(value)
    return Decimal(str(value))
