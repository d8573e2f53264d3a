"""Render one run's results: the printed table, latest.md, latest.json and latency.svg.

File names under ``bench/results/`` are stable: the specification attaches
``latency.svg`` and ``latest.md`` to its Allure report.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from bench.peers import CALLS
from bench.svg_chart import latency_svg


def _f(value, fmt: str = "{:.0f}", missing: str = "–") -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return fmt.format(value)
    return missing


def _latency_md(results: dict) -> list[str]:
    lat = results.get("latency") or {}
    lines = ["## Per-call latency (µs) against the simulator on loopback", ""]
    meta = results.get("meta", {})
    lines.append(
        f"{meta.get('timed', '?')} timed calls per client and call after {meta.get('warmup', '?')} warm-ups, "
        f"interleaved rounds; simulator: {meta.get('sim_mode', '?')}. Ratio = p50 / the floor's p50 in this run."
    )
    lines.append("")
    header = "| client | " + " | ".join(f"{c} p50 (× floor) | p95 | p99" for c in CALLS) + " | errors |"
    lines += [header, "|---" * (2 + 3 * len(CALLS)) + "|"]
    for client, per_call in lat.items():
        cells = []
        errors = 0
        for call in CALLS:
            f = per_call.get(call) or {}
            cells.append(f"{_f(f.get('p50'))} ({_f(f.get('ratio_p50'), '{:.2f}')})")
            cells += [_f(f.get("p95")), _f(f.get("p99"))]
            errors += sum((f.get("errors") or {}).values())
        lines.append(f"| {client} | " + " | ".join(cells) + f" | {errors} |")
    for client, why in (results.get("unavailable") or {}).items():
        lines.append(f"| {client} | not measured: {why} |" + " |" * (3 * len(CALLS)))
    if any(f.get("cpu_p50") is not None for per in lat.values() for f in per.values()):
        lines += ["", "Client-side CPU per call (µs, p50 of the measuring thread's CPU time: the client's own work, "
                      "without the simulator's time or the wait for it):", "",
                  "| client | " + " | ".join(f"{c} CPU p50 (× floor)" for c in CALLS) + " |",
                  "|---" * (1 + len(CALLS)) + "|"]
        for client, per_call in lat.items():
            cells = [f"{_f((per_call.get(c) or {}).get('cpu_p50'))} ({_f((per_call.get(c) or {}).get('ratio_cpu_p50'), '{:.2f}')})"
                     for c in CALLS]
            lines.append(f"| {client} | " + " | ".join(cells) + " |")
    notes = results.get("latency_notes") or {}
    if notes:
        lines.append("")
        lines += [f"- {client}: {note}" for client, note in notes.items() if note]
    errs = [
        f"- {client} {call}: {f['errors']}" for client, per in lat.items() for call, f in per.items() if f.get("errors")
    ]
    if errs:
        lines += ["", "Errors during timed calls (excluded from the percentiles):", *errs]
    nonce = results.get("krakenex_nonce")
    if nonce:
        lines += [
            "",
            f"krakenex stock nonce (`int(1000*time.time())`), {nonce['calls']} back-to-back Balance calls on a fresh key: "
            f"{nonce['invalid_nonce']} rejected with `EAPI:Invalid nonce` (other errors: "
            f"{ {k: v for k, v in nonce['errors'].items() if k != 'EAPI:Invalid nonce'} or 'none'})."
            " Timed rounds use a wait-free ms nonce instead.",
        ]
    return lines


def _imports_md(results: dict) -> list[str]:
    imports = results.get("imports") or {}
    if not imports:
        return []
    lines = ["## Import cost (fresh interpreter, median of samples)", "",
             "Every module imports from bytecode, as installed: pip wrote the peers' `.pyc` at install, the "
             "bench compiles `src/krakenbot` first (with `PYTHONDONTWRITEBYTECODE` set, as here, Python would "
             "otherwise recompile our source on every import).", "",
             "| module | import s | RSS after import MiB | RSS growth MiB |", "|---|---|---|---|"]
    for module, row in imports.items():
        module = "the whole bot (krakenbot.bot + Bot.build's imports)" if "," in module else module
        if "error" in row:
            lines.append(f"| {module} | error: {row['error']} | | |")
            continue
        lines.append(
            f"| {module} | {_f(row.get('seconds'), '{:.3f}')} | {_f(row.get('rss_after_mib'), '{:.1f}')} "
            f"| {_f(row.get('rss_growth_mib'), '{:.1f}')} |"
        )
    for module, row in imports.items():
        slowest = row.get("slowest")
        if slowest:
            label = "the whole bot" if "," in module else module
            lines.append(f"\nHeaviest imports under `import {label}` (self time, `-X importtime`): "
                         + ", ".join(f"{r['module']} {r['self_us'] / 1000:.1f} ms" for r in slowest) + ".")
    return lines


def _bot_md(results: dict) -> list[str]:
    bot = results.get("bot_path") or {}
    lines = ["## Order path through the bot (safety wrapper → risk → executor → store → client)", ""]
    if bot.get("skipped"):
        return lines + [f"Not measured: {bot['skipped']}"]
    lines.append(bot.get("method", ""))
    lines += ["", "| stage | p50 µs | p95 µs | p99 µs | share of the wrapper's p50 |", "|---|---|---|---|---|"]
    for row in bot.get("stages", []):
        lines.append(
            f"| {row['stage']} | {_f(row.get('p50'))} | {_f(row.get('p95'))} | {_f(row.get('p99'))} "
            f"| {_f(row.get('share'), '{:.0%}')} |"
        )
    layers = bot.get("layers") or []
    if layers:
        situ = bot.get("in_situ") or {}
        lines += ["", f"Layers inside the wrapper's placement ({situ.get('placements', '?')} further placements with a "
                      f"timing shim on each layer; their p50 total {_f(situ.get('total_p50'))} µs):", "",
                  "| layer (p50 of its time per placement) | µs | share of the shimmed placement |", "|---|---|---|"]
        lines += [f"| {row['layer']} | {_f(row.get('p50_us'))} | {_f(row.get('share'), '{:.0%}')} |" for row in layers]
    per = bot.get("requests_per_placement") or {}
    if per:
        lines += ["", "Exchange requests per placement (simulator access log): "
                  + "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in per.items()) + "."]
    split = bot.get("profile_split") or {}
    if split.get("total_us"):
        total = split["total_us"]
        lines.append(
            f"cProfile split of one wrapper placement: HTTP round trips {split['http_us'] / total:.0%}, "
            f"SQLite {split['sqlite_us'] / total:.0%}, other Python {split['other_python_us'] / total:.0%} "
            f"(of which risk.check {split['risk_check_us'] / total:.0%}); shares only, the profiler inflates Python time."
        )
    ack = bot.get("ack") or {}
    if ack:
        lines += ["", f"Placement → acknowledgement: wrapper p50 {_f(ack.get('wrapper_p50'))} µs vs the client call "
                      f"alone {_f(ack.get('client_p50'))} µs: the bot adds {_f(ack.get('overhead_ratio'), '{:.2f}')}× a "
                      f"bare client call."]
        blocks = [r for r in ack.get("block_ratios") or [] if r is not None]
        if blocks:
            lines[-1] += (f" The same comparison within {len(blocks)} consecutive blocks of rounds: "
                          + ", ".join(f"+{r:.2f}×" for r in blocks) + ".")
        if ack.get("store_ratio") is not None:
            line = (f"Of that, the store's share on the placement's path (the intent's durable commit, in-situ "
                    f"p50) is {_f(ack['store_ratio'], '{:.2f}')}× the client call and everything else "
                    f"{_f(ack['rest_ratio'], '{:.2f}')}×.")
            if ack.get("store_alone_ratio") is not None:
                line += (f" The same commit on a store of its own (`store.record_intent`) takes "
                         f"{_f(ack['store_alone_ratio'], '{:.2f}')}×.")
            lines.append(line)
    fill = bot.get("fill") or {}
    if fill:
        lines.append(
            f"Placement → fill (marketable limit, status FILLED seen by the bot): p50 {_f(fill.get('p50'))} µs, "
            f"p95 {_f(fill.get('p95'))} µs over {fill.get('n', 0)} orders; {fill.get('how', '')}"
        )
    scaling = (bot.get("risk_scaling") or {}).get("rows") or []
    if scaling:
        lines.append(
            "`risk.check` as the fill history grows (synthetic fills in the store): "
            + ", ".join(f"{row['fills']:,} fills → p50 {_f(row.get('p50'))} µs" for row in scaling) + ".")
    for note in bot.get("notes", []):
        lines.append(f"- {note}")
    return lines


def _memory_md(results: dict) -> list[str]:
    mem = results.get("memory") or {}
    lines = ["## Memory", ""]
    if mem.get("skipped"):
        lines.append(f"Order cycles: not measured: {mem['skipped']}")
    elif mem:
        if mem.get("reduced_to_fit_budget"):
            lines.append(f"Only {mem['cycles']:,} of the {mem['cycles_asked']:,} cycles asked fitted the run's time "
                         "budget (`--budget 0` runs them all).")
        lines.append(
            f"In a fresh interpreter (bot + bench only), "
            f"{mem.get('cycles', 0):,} order cycles ({mem.get('cycle', '')}) in {_f(mem.get('seconds'), '{:.1f}')} s: "
            f"RSS start {_f(mem.get('start_mib'), '{:.1f}')} MiB, peak {_f(mem.get('peak_mib'), '{:.1f}')} MiB, "
            f"end {_f(mem.get('end_mib'), '{:.1f}')} MiB; growth {_f(mem.get('growth_mib'), '{:.2f}')} MiB "
            f"(after a {mem.get('warmup_cycles', 0)}-cycle warm-up; errors {mem.get('errors', 0)})."
        )
    cache = results.get("cache") or {}
    if cache.get("skipped"):
        lines.append(f"Market data cache: not measured: {cache['skipped']}")
    elif cache:
        lines.append(
            f"Market data cache: {cache.get('keys_inserted', 0):,} distinct keys inserted, size afterwards "
            f"{cache.get('size_after')} (bound {cache.get('bound')}): {'bounded' if cache.get('bounded') else 'NOT bounded'}."
        )
    return lines


def _throughput_md(results: dict) -> list[str]:
    tp = results.get("throughput") or {}
    lines = ["## Simulator throughput (signed private Balance, raw http.client clients)", ""]
    if tp.get("skipped"):
        return lines + [f"Not measured: {tp['skipped']}"]
    lines += ["| client threads | other traders' flow | req/s (median window) | best window | p50 ms | p99 ms | failures |",
              "|---|---|---|---|---|---|---|"]
    for row in tp.get("rows", []):
        flow = row.get("flow_rate") or 0
        lines.append(
            f"| {row['threads']} | {f'{flow:g}/s per pair' if flow else 'off'} "
            f"| {_f(row.get('req_per_s'), '{:,.0f}')} | {_f(row.get('best_req_per_s'), '{:,.0f}')} "
            f"| {_f(row.get('p50_ms'), '{:.3f}')} | {_f(row.get('p99_ms'), '{:.3f}')} | {row.get('failures')} |"
        )
    if tp.get("how"):
        lines += ["", tp["how"] + "."]
    return lines


def _sim_ws_md(results: dict) -> list[str]:
    ws = results.get("sim_ws") or {}
    lines = ["## Simulator WebSocket book stream (updates/s to one subscriber, depth 10)", ""]
    if ws.get("skipped"):
        return lines + [f"Not measured: {ws['skipped']}"]
    if not ws:
        return []
    lines += ["| change | driven from | updates/s (median window) | best window | windows | checksums checked | mismatches |",
              "|---|---|---|---|---|---|---|"]
    for row in ws.get("rows", []):
        change = "level sizes" if row["change"] == "sizes" else "price, one tick"
        driver = "the server's event loop" if row["driver"] == "loop" else "a thread of its own"
        lines.append(f"| {change} | {driver} | {_f(row.get('updates_per_s'), '{:,.0f}')} "
                     f"| {_f(row.get('best_updates_per_s'), '{:,.0f}')} | {row.get('windows_updates_per_s')} "
                     f"| {row.get('checked')} | {row.get('mismatches')} |")
    if ws.get("how"):
        lines += ["", ws["how"] + ". The target is judged on the size changes driven on the loop (the push path "
                  "alone); from a thread, every system call of the loop hands the GIL to the spinning driver and back."]
    return lines


def _book_md(results: dict) -> list[str]:
    book = results.get("book") or {}
    lines = ["## Book throughput, checksum verified on every message (recorded Kraken feed, 510 frames)", ""]
    if book.get("skipped"):
        return lines + [f"Not measured: {book['skipped']}"]
    if not book:
        return []
    lines += ["| contender | updates/s (median round) | best round | checksums verified | ours / it |",
              "|---|---|---|---|---|"]
    for row in (book.get("rows") or {}).values():
        lines.append(f"| {row['label']} | {_f(row.get('updates_per_s'), '{:,.0f}')} | {_f(row.get('best'), '{:,.0f}')} "
                     f"| {row.get('verified')}/{row.get('messages')} | {_f(row.get('ratio_ours_to_it'), '{:.2f}')}x |")
    for name, why in (book.get("unavailable") or {}).items():
        lines.append(f"| {name} | not measured: {why} | | | |")
    lines += ["", f"ccxt pro with `watchOrderBook.checksum = True`, as shipped: {book.get('ccxt_checksum_as_shipped')} "
              "on the first message; its check is measured with the pair's precision instead (bench/book.py). "
              f"{book.get('frames_per_round', 0):,} frames per round, {book.get('rounds')} interleaved rounds; "
              f"{book.get('how', '')}."]
    mem = book.get("memory") or {}
    if mem:
        lines.append(f"Memory at depth {mem['depth']}: {mem['bytes_after_snapshot'] / 1024:,.0f} KiB after the snapshot, "
                     f"{mem['bytes_half_way'] / 1024:,.0f} KiB after {mem['updates'] // 2:,} updates, "
                     f"{mem['bytes_at_end'] / 1024:,.0f} KiB after {mem['updates']:,} ({mem['levels']:,} levels kept; "
                     f"{mem['verified']}/{mem['messages']} checksums verified; two thirds of the inserts land beyond "
                     "the depth and are cut off).")
    return lines


def _stream_md(results: dict) -> list[str]:
    stream = results.get("stream") or {}
    lines = ["## Tick to order and fill notice: streams vs REST polling (1 s cycle)", ""]
    if stream.get("skipped"):
        return lines + [f"Not measured: {stream['skipped']}"]
    if not stream:
        return []
    lines += ["| path | p50 ms | p99 ms | samples | missed |", "|---|---|---|---|---|"]
    labels = (("tick_stream", "tick to order, streams (the loop reacts to the book's move)"),
              ("tick_poll", "tick to order, REST polling every 1 s"),
              ("order_path", "the bot's order path alone (submit_order to AddOrder's arrival)"),
              ("fill_stream", "fill notice, streams (the exchange's executions notice)"),
              ("fill_poll", "fill notice, REST polling every 1 s (the cycle's order refresh)"))
    for key, label in labels:
        row = stream.get(key) or {}
        lines.append(f"| {label} | {_f((row.get('p50') or 0) / 1000, '{:.2f}')} | "
                     f"{_f((row.get('p99') or 0) / 1000, '{:.2f}')} | {row.get('n')} | "
                     f"{(stream.get('missed') or {}).get(key)} |")
    lines += ["", f"{stream.get('rounds')} interleaved rounds, one simulator process, two bots (bench/stream_latency.py). "
              "Both ends on the machine's wall clock, read in two processes. Polling reads prices through the market "
              "data cache (2 s TTL), as the bot does; each timed event comes a random 0-2 s into the polling bot's cycle."]
    return lines


def _suites_md(results: dict) -> list[str]:
    lines = ["## Specification and chaos soak", ""]
    spec = results.get("spec") or {}
    if spec.get("skipped"):
        lines.append(f"Specification: not measured: {spec['skipped']}")
    for key, label in (("all", "whole specification"), ("safety", "@safety subset")):
        row = spec.get(key)
        if row:
            lines.append(f"- {label}: {_f(row.get('seconds'), '{:.1f}')} s wall (exit {row.get('returncode')}; "
                         f"`{row.get('command')}`) {row.get('summary', '')}")
    chaos = results.get("chaos") or {}
    if chaos.get("skipped"):
        lines.append(f"- chaos soak: not measured: {chaos['skipped']}")
    elif chaos:
        lines.append(f"- chaos soak: {_f(chaos.get('ops_per_s'), '{:,.0f}')} operations/s "
                     f"({chaos.get('operations')} operations, {_f(chaos.get('seconds'), '{:.1f}')} s wall with start-up); "
                     f"{chaos.get('detail', '')}")
    return lines


def _targets_md(results: dict) -> list[str]:
    lines = ["## Targets (ratios from this run)", "", "| target | measured | limit | result |", "|---|---|---|---|"]
    for t in results.get("targets", []):
        lines.append(f"| {t['name']} | {t['measured']} | {t['limit']} | **{t['status']}** |")
    return lines


def markdown(results: dict) -> str:
    meta = results.get("meta", {})
    lines = [
        "# Benchmark results",
        "",
        f"Run {meta.get('started', '?')} UTC on {meta.get('machine', '?')}; Python {meta.get('python', '?')}; "
        f"commit {meta.get('commit', '?')}; total {_f(meta.get('seconds'), '{:.0f}')} s.",
        "",
    ]
    if meta.get("section_seconds"):
        lines += ["Sections: " + ", ".join(f"{k} {v:.0f} s" for k, v in meta["section_seconds"].items())
                  + (f". Load average (1/5/15 min) before {meta.get('load_before')}, after {meta.get('load_after')}"
                     f" on {os.cpu_count()} cores: other work on the machine inflates absolute figures, "
                     "not the ratios within the run." if meta.get("load_before") else "."), ""]
    if meta.get("section_errors"):
        lines += ["Sections that failed: " + "; ".join(f"{k}: {v}" for k, v in meta["section_errors"].items()), ""]
    for part in (_targets_md, _latency_md, _bot_md, _imports_md, _memory_md, _throughput_md, _sim_ws_md, _book_md,
                 _stream_md, _suites_md):
        section = part(results)
        if section:
            lines += section + [""]
    return "\n".join(lines).rstrip() + "\n"


def write(results: dict, out_dir: Path) -> dict[str, Path]:
    """Write latest.json, latest.md and latency.svg; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "latest.json",
        "md": out_dir / "latest.md",
        "svg": out_dir / "latency.svg",
    }
    paths["json"].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(results))
    title = f"Per-call latency against krakensim on loopback ({results.get('meta', {}).get('started', '')} UTC)"
    paths["svg"].write_text(latency_svg(results.get("latency") or {}, CALLS, title))
    return paths
