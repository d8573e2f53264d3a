"""Order placement through the whole bot, and the share each layer adds.

Measured from outside, without touching the bot's code: in interleaved rounds the same
resting limit order (buy 0.0002 XBT/EUR at 95 % of mid, cancelled at once, untimed) is
placed through each layer in turn:

- ``bare client``: ``KrakenClient.trading.add_order`` on a client with no guard/store;
- ``bot client``: the bot's own client (its guard audits every call into SQLite);
- ``executor``: ``Executor.place`` (durable intent, audit, AddOrder, status sync);
- ``safety wrapper``: ``SafetyWrapper.submit_order`` (mode, kill switch, breaker, status,
  market data, risk, executor, audit): placement → acknowledgement as the bot sees it;
- ``store.record_intent``, ``risk.check`` and the wrapper's risk snapshot timed directly, on their own.

The stages show what each entry point costs on its own. The layers are measured *inside* the
wrapper's placement, in further placements with a timing shim around each layer's entry
(``_in_situ_layers``). A resting limit placement makes no exchange request but AddOrder
(SystemStatus is cached on the clock, the free balance is held locally, a resting order is not
read back: ``requests_per_placement`` shows it), so no other request is subtracted. A ``cProfile``
pass over the wrapper splits one placement into HTTP, SQLite and Python time. The store's share
on the placement's path is the intent's durable commit (on disk when it returns), measured in
situ; ``store.record_intent`` alone is the same commit on a store of its own. Placement → fill uses a
marketable limit (±2 % of mid, buys and sells alternating, inside the same rounds) and stops
the clock when the bot's order status reads FILLED (refreshing if the ack did not already say so).
"""
from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from bench.botkit import PAIR, VOLUME, bare_client, build_bot, order_request, price_at, time_layers
from bench.simproc import SimProcess
from bench.stats import summarize_ns


def _timed(fn: Callable[[], Any], into: list[int]) -> Any:
    start = time.perf_counter_ns()
    result = fn()
    into.append(time.perf_counter_ns() - start)
    return result


def _endpoints(sim: SimProcess, place: Callable[[], Callable[[], Any]]) -> list[str]:
    """Which exchange requests one placement makes (from the simulator's access log)."""
    before = len(sim.call("access_log"))
    cancel = place()
    endpoints = [r.endpoint for r in sim.call("access_log_since", before)]
    cancel()
    return endpoints


def _profile_split(place: Callable[[], Callable[[], Any]], repeats: int) -> dict:
    """Microseconds per placement in HTTP round trips, SQLite and everything else (cProfile;
    the untimed cancel after each placement is outside the profile)."""
    prof = cProfile.Profile()
    for _ in range(repeats):
        prof.enable()
        cancel = place()
        prof.disable()
        cancel()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = sum(v[2] for v in stats.values())
    # a private call goes through the transport's send and receive (``request`` is the public calls' pair of them)
    http = sum(v[3] for k, v in stats.items()
               if k[0].endswith("client/_transport.py") and k[2] in ("send", "receive"))
    sqlite = sum(v[2] for k, v in stats.items() if "sqlite3" in k[2])
    risk = sum(v[3] for k, v in stats.items() if k[0].endswith("risk/manager.py") and k[2] == "check")
    per = 1e6 / repeats
    return {
        "total_us": total * per,
        "http_us": http * per,
        "sqlite_us": sqlite * per,
        "risk_check_us": risk * per,
        "other_python_us": (total - http - sqlite) * per,
        "note": "cProfile inflates Python time; use the shares, not the absolute figures",
    }


_CLIENT_CALL = "client: AddOrder call (HTTP round trip, signing, parsing; without the guard)"
_GUARD = "client: guard + its audit row"
_COMMIT = "executor: the intent's durable commit + its audit row (Store.record_intent, on disk when it returns)"
_LAYERS = (  # (name in the table, object attribute path on the bot, method)
    (_CLIENT_CALL, "client.trading", "add_order"),
    (_GUARD, "client", "_check_call"),
    (_COMMIT, "store", "record_intent"),
    ("executor: post-ack bookkeeping (status, audit row, trade count: one ordinary commit)", "safety.executor",
     "_transition"),
    ("", "safety.executor", "_count_placed"),
    ("wrapper: risk snapshot (cached balances and status, open orders, position)", "safety", "_snapshot"),
    ("wrapper: risk.check", "safety.risk", "check"),
)


def _in_situ_layers(bot: Any, place: Callable[[], Callable[[], Any]], placements: int) -> dict:
    """Time each layer inside real wrapper placements (shims on the bot's own objects, removed after).
    Per placement: the time in each layer (nested layers are subtracted from their parent), then p50s."""
    current: dict[str, int] = {}
    name = ""
    layers = []
    for label, path, method in _LAYERS:
        name = label or name  # an empty label adds to the previous layer
        layers.append((name, path, method))
    remove = time_layers(bot, layers, current)
    per_layer: dict[str, list[int]] = {label: [] for label, _, _ in _LAYERS if label}
    totals: list[int] = []
    on_path: list[int] = []  # the store's share on the placement's path: the intent's durable commit
    try:
        for _ in range(placements):
            current.clear()
            start = time.perf_counter_ns()
            cancel = place()
            totals.append(time.perf_counter_ns() - start)
            spent = dict(current)  # before the (untimed) cancel adds its own calls
            cancel()
            client = spent.get(_CLIENT_CALL, 0) - spent.get(_GUARD, 0)  # the guard runs inside the client call
            for label in per_layer:
                per_layer[label].append(client if label == _CLIENT_CALL else spent.get(label, 0))
            on_path.append(spent.get(_COMMIT, 0))
    finally:
        remove()
    summaries = {label: summarize_ns(samples).p50 for label, samples in per_layer.items()}
    rest = [t - sum(per_layer[label][i] for label in per_layer) for i, t in enumerate(totals)]
    return {
        "total_p50": summarize_ns(totals).p50,
        "layers": summaries,
        "rest_p50": summarize_ns(rest).p50,
        "store_on_path_p50": summarize_ns(on_path).p50,
        "placements": placements,
    }


def overhead_ratio(wrapper_p50: float, client_p50: float) -> float | None:
    """What the bot adds to a placement, in bare client calls: (wrapper - client) / client."""
    return (wrapper_p50 - client_p50) / client_p50 if client_p50 else None


def block_ratios(wrapper_ns: list[int], client_ns: list[int], blocks: int = 5) -> list[float | None]:
    """The overhead ratio within each of ``blocks`` consecutive runs of rounds, each its own interleaved
    comparison: how far the run's one verdict could have moved with the rounds it happened to get.
    Empty when a block would hold fewer than 20 rounds."""
    size = min(len(wrapper_ns), len(client_ns)) // blocks
    if size < 20:
        return []
    return [overhead_ratio(summarize_ns(wrapper_ns[b * size:(b + 1) * size]).p50,
                           summarize_ns(client_ns[b * size:(b + 1) * size]).p50) for b in range(blocks)]


def measure(orders: int = 300, fills: int = 100) -> dict:
    from krakenbot.store import OrderRecord, Store

    stages = {name: [] for name in ("bare client", "bot client", "executor", "safety wrapper",
                                    "store.record_intent", "risk.check", "risk snapshot")}
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        workdir = Path(tmp)
        bot = build_bot(sim, workdir)
        bare = bare_client(sim)
        side_store = Store(str(workdir / "record_intent.sqlite"))
        try:
            safety = bot.safety
            mid = safety.ticker(PAIR).mid
            info = safety.pair_info(PAIR)
            rest = price_at(mid, "0.95")
            pair_id = info.name
            seq = iter(range(10**9))

            last_txid: list[str] = []

            def via_bare():
                ack = bare.trading.add_order(order_request("buy", rest, pair=pair_id, cl_ord_id=f"bb{next(seq)}"))
                return lambda: bare.trading.cancel_order(txid=ack.txids[0])

            def via_bot_client():
                ack = bot.client.trading.add_order(order_request("buy", rest, pair=pair_id, cl_ord_id=f"bc{next(seq)}"))
                last_txid[:] = ack.txids[:1]
                return (lambda: bot.client.trading.cancel_order(txid=ack.txids[0]))

            def via_executor():
                result = safety.executor.place(order_request("buy", rest))
                return (lambda: safety.executor.cancel(result.cl_ord_id))

            def via_wrapper():
                outcome = safety.submit_order(PAIR, "buy", "limit", VOLUME, rest)
                if not outcome.placed:
                    raise RuntimeError(f"wrapper refused the bench order: {outcome.reason}")
                return (lambda: safety.cancel_order(outcome.cl_ord_id))

            def record_intent():
                n = next(seq)
                now = time.time()
                side_store.record_intent(OrderRecord(
                    cl_ord_id=f"ri{n}", pair=pair_id, side="buy", ordertype="limit", volume=VOLUME, price=rest,
                    status="PENDING_SUBMIT", created_at=now, updated_at=now, intent={"why": "bench"}))

            snapshot = safety._snapshot(info, mid, PAIR)  # the wrapper's own snapshot builder, once
            request = order_request("buy", rest)

            layered = [("bare client", via_bare), ("bot client", via_bot_client), ("executor", via_executor),
                       ("safety wrapper", via_wrapper)]
            for _ in range(max(3, orders // 20)):  # warm-up: connections, caches, SQLite pages
                for _, fn in layered:
                    fn()()
            fill_ns: list[int] = []
            refreshes = [0]

            def fill_once(n: int) -> None:
                side, factor = ("buy", "1.02") if n % 2 == 0 else ("sell", "0.98")
                start = time.perf_counter_ns()
                outcome = safety.submit_order(PAIR, side, "limit", VOLUME, price_at(mid, factor))
                status = outcome.status
                tries = 0
                while status != "FILLED" and outcome.placed and tries < 50:
                    safety.refresh_orders()
                    record = safety.order(outcome.cl_ord_id)
                    status = str(getattr(getattr(record, "status", None), "value", getattr(record, "status", "")))
                    tries += 1
                if status == "FILLED":
                    fill_ns.append(time.perf_counter_ns() - start)
                refreshes[0] += tries

            fill_every = max(1, orders // max(1, fills))
            for i in range(orders):
                for name, fn in layered[i % 4:] + layered[:i % 4]:
                    cancel = _timed(fn, stages[name])
                    cancel()
                _timed(record_intent, stages["store.record_intent"])
                _timed(lambda: safety.risk.check(request, snapshot), stages["risk.check"])
                _timed(lambda: safety._snapshot(info, mid, PAIR), stages["risk snapshot"])
                if i % fill_every == 0 and len(fill_ns) < fills:
                    fill_once(i // fill_every)
            for n in range(fills - (orders + fill_every - 1) // fill_every):  # fills beyond the rounds, if asked
                fill_once(n)

            requests_per = {name: _endpoints(sim, fn) for name, fn in layered}
            split = _profile_split(via_wrapper, max(5, orders // 6))
            in_situ = _in_situ_layers(bot, via_wrapper, max(20, orders // 2))

        finally:
            side_store.close()
            bare.close()
            bot.close()

    summaries = {name: summarize_ns(samples) for name, samples in stages.items()}
    wrapper_p50 = summaries["safety wrapper"].p50
    client_p50 = summaries["bare client"].p50
    rows = []
    for name in stages:
        s = summaries[name]
        rows.append({"stage": name, **s.as_dict(), "share": s.p50 / wrapper_p50 if wrapper_p50 else None})
    situ_total = in_situ["total_p50"]
    layers = [(label, us) for label, us in in_situ["layers"].items()]
    layers.append(("the rest: gates, market data, ids, local checks, audit rows, local hold (wrapper + executor)",
                   in_situ["rest_p50"]))
    fill = summarize_ns(fill_ns)
    return {
        "method": (f"{orders} placements per stage in interleaved rounds (each cancelled untimed); "
                   "real SQLite file, system clock, LIVE mode against the simulator."),
        "stages": rows,
        "layers": [{"layer": n, "p50_us": v, "share": v / situ_total if situ_total else None} for n, v in layers],
        "in_situ": {k: v for k, v in in_situ.items() if k != "layers"},
        "ack": {"wrapper_p50": wrapper_p50, "client_p50": client_p50,
                "overhead_ratio": overhead_ratio(wrapper_p50, client_p50),
                "block_ratios": block_ratios(stages["safety wrapper"], stages["bare client"]),
                # the store's share on the placement's path (in situ: the intent's durable commit) and,
                # for comparison, the same commit on a store of its own
                "store_ratio": in_situ["store_on_path_p50"] / client_p50 if client_p50 else None,
                "store_alone_ratio": summaries["store.record_intent"].p50 / client_p50 if client_p50 else None,
                "rest_ratio": ((wrapper_p50 - client_p50 - in_situ["store_on_path_p50"]) / client_p50
                               if client_p50 else None)},
        "fill": {**fill.as_dict(), "refreshes": refreshes[0], "attempted": fills,
                 "how": (f"marketable limit ±2 % of mid, alternating buy/sell, in the same interleaved rounds; "
                         f"{refreshes[0]} refreshes needed in total")},
        "requests_per_placement": requests_per,
        "profile_split": split,
        "notes": [],
    }


def risk_check_scaling(fill_counts: tuple[int, ...] = (0, 1000, 5000), checks: int = 10) -> dict:
    """``risk.check`` time as the store's fill history grows (synthetic fills of today, alternating
    buy/sell): a pre-trade check must not grow with the bot's age."""
    from krakenbot.store import FillRecord

    rows = []
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="kb-bench-risk-") as tmp:
        bot = build_bot(sim, Path(tmp))
        try:
            safety = bot.safety
            mid = safety.ticker(PAIR).mid
            info = safety.pair_info(PAIR)
            snapshot = safety._snapshot(info, mid, PAIR)
            request = order_request("buy", price_at(mid, "0.95"))
            recorded = 0
            when = time.time() - 60
            for target in fill_counts:
                while recorded < target:
                    bot.store.record_fill(FillRecord(
                        trade_id=f"TBENCH{recorded}", txid=f"OBENCH{recorded}", pair=info.name,
                        side="buy" if recorded % 2 == 0 else "sell", price=Decimal("60000"), volume=VOLUME,
                        cost=Decimal("12"), fee=Decimal("0.048"), time=when, maker=False))
                    recorded += 1
                samples: list[int] = []
                for _ in range(checks):
                    _timed(lambda: safety.risk.check(request, snapshot), samples)
                rows.append({"fills": target, **summarize_ns(samples).as_dict()})
        finally:
            bot.close()
    return {"rows": rows, "checks_per_row": checks}
