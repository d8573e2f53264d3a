"""The performance targets, judged PASS / MISS / N/A from one run's figures.

Client targets are ratios within the same run (absolute figures move ±20-30 % between
runs on this kind of machine); the others are absolute limits from the issue.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from bench.peers import CALLS

MiB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    limit: str
    status: str  # "PASS" | "MISS" | "N/A"

    def as_dict(self) -> dict:
        return asdict(self)


def _num(value) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _judge(name: str, measured: float | None, limit: float, fmt: str, limit_text: str, why_na: str = "") -> Target:
    if measured is None:
        return Target(name, why_na or "not measured", limit_text, "N/A")
    return Target(name, fmt.format(measured), limit_text, "PASS" if measured <= limit else "MISS")


def _book_targets(book: dict) -> list[Target]:
    """Book throughput (checksum verified on every message) >= 2x ccxt pro's; memory bounded at depth 1000."""
    rows = book.get("rows") or {}
    ours, theirs = rows.get("krakenbot") or {}, rows.get("ccxt_pro_checksum") or {}
    ratio = _num(theirs.get("ratio_ours_to_it"))
    why = book.get("skipped") or (book.get("unavailable") or {}).get("ccxt_pro_checksum", "")
    wrong = [name for name, row in rows.items() if row.get("verified") != row.get("messages")]
    if ratio is None:
        tp = Target("book updates/s >= 2x ccxt pro (checksum on)", why or "not measured", ">= 2.00x", "N/A")
    else:
        measured = f"{ratio:.2f}x ({ours.get('updates_per_s', 0):,.0f} vs {theirs.get('updates_per_s', 0):,.0f}/s)"
        if wrong:
            measured += f"; NOT every checksum verified: {', '.join(wrong)}"
        tp = Target("book updates/s >= 2x ccxt pro (checksum on)", measured, ">= 2.00x",
                    "PASS" if ratio >= 2.0 and not wrong else "MISS")
    mem = book.get("memory") or {}
    growth = _num(mem.get("growth_second_half"))
    if growth is None:
        bound = Target("book memory bounded at depth 1000", book.get("skipped") or "not measured",
                       "< 5 % growth", "N/A")
    else:
        bound = Target("book memory bounded at depth 1000",
                       f"{mem['bytes_at_end'] / 1024:,.0f} KiB for {mem['levels']:,} levels; "
                       f"{growth * 100:+.2f} % over the second {mem['updates'] // 2:,} updates",
                       "< 5 % growth", "PASS" if growth < 0.05 and mem.get("verified") == mem.get("messages")
                       else "MISS")
    return [tp, bound]


def _sim_ws_target(ws: dict) -> Target:
    """The simulator's push path: size changes made on its event loop; the other rows are shown beside it."""
    name, limit = "simulator >= 10,000 WS book updates/s to one subscriber", ">= 10,000/s"
    rows = {(r.get("driver"), r.get("change")): r for r in ws.get("rows") or []}
    rate = _num((rows.get(("loop", "sizes")) or {}).get("updates_per_s"))
    if rate is None:
        return Target(name, ws.get("skipped") or "not measured", limit, "N/A")
    measured = f"{rate:,.0f}/s"
    thread = _num((rows.get(("thread", "sizes")) or {}).get("updates_per_s"))
    if thread is not None:
        measured += f" (changes from another thread: {thread:,.0f}/s)"
    wrong = sum(r.get("mismatches") or 0 for r in rows.values())
    if wrong:
        measured += f"; {wrong} checksum mismatches"
    return Target(name, measured, limit, "PASS" if rate >= ws.get("target", 10_000) and not wrong else "MISS")


def _stream_targets(stream: dict) -> list[Target]:
    """Tick to order on the streams: p50 <= 2x the bot's own order path alone (the feed adds at most one)."""
    ratio = _num(stream.get("tick_stream_to_order_path"))
    tick, path = stream.get("tick_stream") or {}, stream.get("order_path") or {}
    if ratio is None:
        return [Target("tick to order p50 (streams) <= 2x the bot's order path", stream.get("skipped") or "not measured",
                       "<= 2.00x", "N/A")]
    return [Target("tick to order p50 (streams) <= 2x the bot's order path",
                   f"{ratio:.2f}x ({tick.get('p50', 0) / 1000:.2f} ms vs {path.get('p50', 0) / 1000:.2f} ms)",
                   "<= 2.00x", "PASS" if ratio <= 2.0 else "MISS")]


def evaluate(results: dict) -> list[Target]:
    """Every target the issue lists, in its order."""
    out: list[Target] = []
    lat = results.get("latency") or {}
    ours = lat.get("krakenbot") or {}
    why = (results.get("unavailable") or {}).get("krakenbot", "")
    for call in CALLS:
        mine = _num((ours.get(call) or {}).get("p50"))
        floor = _num(((lat.get("floor") or {}).get(call) or {}).get("p50"))
        ratio = mine / floor if mine and floor else None
        out.append(_judge(f"client {call} p50 <= 1.3x floor", ratio, 1.3, "{:.2f}x floor", "<= 1.30x", why))
        for peer in ("krakenex", "ccxt"):
            theirs = _num(((lat.get(peer) or {}).get(call) or {}).get("p50"))
            peer_ratio = mine / theirs if mine and theirs else None
            peer_why = why or (results.get("unavailable") or {}).get(peer, "")
            out.append(
                _judge(f"client {call} p50 <= 0.5x {peer}", peer_ratio, 0.5, "{:.2f}x " + peer, "<= 0.50x", peer_why)
            )
    bot = results.get("bot_path") or {}
    ack = bot.get("ack") or {}
    overhead = _num(ack.get("overhead_ratio"))
    blocks = [r for r in (_num(v) for v in ack.get("block_ratios") or []) if r is not None]
    spread = f" (blocks +{min(blocks):.2f}..+{max(blocks):.2f}x)" if blocks else ""
    out.append(
        _judge("bot path adds <= 1.5x a bare client call", overhead, 1.5, "+{:.2f}x client call" + spread, "<= +1.50x",
               bot.get("skipped", ""))
    )
    rows = (results.get("throughput") or {}).get("rows", [])
    for label, flowing in (("1 client thread", False), ("1 client thread, other traders' flow on", True)):
        row = next((r for r in rows if r.get("threads") == 1 and bool(r.get("flow_rate")) == flowing), {})
        one = _num(row.get("req_per_s"))
        out.append(
            Target(f"simulator >= 1,500 private req/s ({label})",
                   f"{one:,.0f} req/s" if one is not None else (results.get("throughput") or {}).get("skipped", "not measured"),
                   ">= 1,500 req/s",
                   "N/A" if one is None else ("PASS" if one >= 1500 else "MISS"))
        )
    out.append(_sim_ws_target(results.get("sim_ws") or {}))
    spec = results.get("spec") or {}
    for key, limit, label in (("all", 60.0, "whole specification < 60 s"), ("safety", 20.0, "@safety subset < 20 s")):
        row = spec.get(key) or {}
        seconds = _num(row.get("seconds"))
        if seconds is None:
            out.append(Target(label, spec.get("skipped") or "not measured", f"< {limit:.0f} s", "N/A"))
            continue
        failed = "" if row.get("returncode") == 0 else f" (exit {row.get('returncode')}: {row.get('summary', '')})"
        out.append(Target(label, f"{seconds:.1f} s{failed}", f"< {limit:.0f} s", "PASS" if seconds < limit else "MISS"))
    out += _book_targets(results.get("book") or {})
    out += _stream_targets(results.get("stream") or {})
    mem = results.get("memory") or {}
    growth = _num(mem.get("growth_mib"))
    fmt = "{:.2f} MiB" + (f" (only {mem['cycles']:,} of {mem['cycles_asked']:,} cycles fitted the time budget)"
                          if mem.get("reduced_to_fit_budget") else "")
    out.append(_judge("RSS growth over 10,000 order cycles < 5 MiB", growth, 4.999999, fmt, "< 5 MiB",
                      mem.get("skipped", "")))
    imports = results.get("imports") or {}
    kb = _num((imports.get("krakenbot") or {}).get("seconds"))
    cc = _num((imports.get("ccxt") or {}).get("seconds"))
    out.append(_judge("import krakenbot < 0.25 s", kb, 0.249999, "{:.3f} s", "< 0.25 s"))
    from bench.imports import WHOLE_BOT

    whole = _num((imports.get(WHOLE_BOT) or {}).get("seconds"))
    out.append(_judge("import the whole bot (krakenbot.bot + what Bot.build imports) < 0.25 s", whole, 0.249999,
                      "{:.3f} s", "< 0.25 s"))
    out.append(
        Target("import krakenbot below import ccxt",
               f"{kb:.3f} s vs {cc:.3f} s" if kb is not None and cc is not None else "not measured",
               "krakenbot < ccxt",
               "N/A" if kb is None or cc is None else ("PASS" if kb < cc else "MISS"))
    )
    return out
