"""The latency chart as hand-written SVG (no plotting dependency).

One panel per call; a bar per client up to its p50, a whisker from p50 to p95 and a tick
at p99, on one shared logarithmic axis (tails on a loaded machine are ten times the median;
a linear axis would flatten the medians that the comparison is about). The file name
``latency.svg`` is stable: the specification attaches it to the Allure report.
"""
from __future__ import annotations

import math
from html import escape

PALETTE = {
    "floor": "#6b7280",
    "krakenbot": "#2563eb",
    "urllib3": "#0891b2",
    "requests": "#d97706",
    "krakenex": "#dc2626",
    "ccxt": "#7c3aed",
}


def _nice_ceiling(value: float) -> float:
    """Round up to 1, 2 or 5 times a power of ten, for readable axis ticks."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if value <= m * exp * 1.000001:
            return m * exp
    return 10 * exp


def _nice_floor(value: float) -> float:
    """Round down to 1, 2 or 5 times a power of ten."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (5, 2, 1):
        if value >= m * exp * 0.999999:
            return m * exp
    return exp


def _ticks(lo: float, hi: float) -> list[float]:
    out = []
    exp = 10 ** math.floor(math.log10(lo))
    while exp <= hi:
        out += [m * exp for m in (1, 2, 5) if lo * 0.999999 <= m * exp <= hi * 1.000001]
        exp *= 10
    return out


def latency_svg(latency: dict, calls: tuple[str, ...], title: str) -> str:
    """SVG text for ``latency[client][call] = {"p50", "p95", "p99", "ratio_p50"}`` (µs)."""
    clients = list(latency)
    label_w, chart_w, bar_h, gap, panel_pad = 200, 520, 18, 6, 34
    right_w = 150
    width = label_w + chart_w + right_w
    def values(key: str) -> list[float]:
        return [f[key] for per in latency.values() for c, f in per.items() if c in calls
                and isinstance(f.get(key), (int, float)) and math.isfinite(f[key]) and f[key] > 0]

    lo = _nice_floor(min(values("p50"), default=100.0) / 2)
    hi = _nice_ceiling(max(values("p99") + values("p95"), default=1000.0))
    if hi <= lo:
        hi = lo * 10
    span = math.log10(hi) - math.log10(lo)

    def x_of(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_w + chart_w * (math.log10(v) - math.log10(lo)) / span

    panel_h = panel_pad + len(clients) * (bar_h + gap)
    height = 50 + len(calls) * panel_h + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text x="10" y="40" fill="#555">log axis; bar = p50, whisker = p95, tick = p99; '
        f'right: p50 as a multiple of the floor</text>',
    ]
    y = 50
    for call in calls:
        out.append(f'<text x="10" y="{y + 18}" font-weight="bold">{escape(call)}</text>')
        for value in _ticks(lo, hi):
            x = x_of(value)
            label = f"{value / 1000:g} ms" if value >= 1000 else f"{value:g} µs"
            out.append(f'<line x1="{x:.1f}" y1="{y + 24}" x2="{x:.1f}" y2="{y + panel_h - 4}" stroke="#e5e7eb"/>')
            out.append(f'<text x="{x:.1f}" y="{y + 20}" text-anchor="middle" fill="#777" font-size="10">{label}</text>')
        row_y = y + panel_pad - 6
        for client in clients:
            figures = latency[client].get(call) or {}
            colour = PALETTE.get(client, "#059669")
            out.append(f'<text x="{label_w - 8}" y="{row_y + 13}" text-anchor="end">{escape(client)}</text>')
            p50, p95, p99 = (figures.get(k) for k in ("p50", "p95", "p99"))
            if isinstance(p50, (int, float)) and math.isfinite(p50):
                mid = row_y + bar_h / 2
                out.append(
                    f'<rect x="{label_w}" y="{row_y}" width="{x_of(p50) - label_w:.1f}" height="{bar_h}" fill="{colour}">'
                    f'<title>{escape(client)} {escape(call)} p50 {p50:.0f} µs</title></rect>'
                )
                if isinstance(p95, (int, float)) and math.isfinite(p95):
                    out.append(
                        f'<line x1="{x_of(p50):.1f}" y1="{mid}" x2="{x_of(p95):.1f}" '
                        f'y2="{mid}" stroke="#111" stroke-width="1.5"/>'
                    )
                if isinstance(p99, (int, float)) and math.isfinite(p99):
                    x99 = x_of(p99)
                    out.append(
                        f'<line x1="{x99:.1f}" y1="{row_y + 3}" x2="{x99:.1f}" y2="{row_y + bar_h - 3}" '
                        f'stroke="#111" stroke-width="1.5"/>'
                    )
                ratio = figures.get("ratio_p50")
                text = f"{p50:.0f} µs" + (f" ({ratio:.2f}×)" if isinstance(ratio, (int, float)) else "")
                out.append(f'<text x="{label_w + chart_w + 8}" y="{row_y + 13}">{escape(text)}</text>')
            else:
                out.append(f'<text x="{label_w + 4}" y="{row_y + 13}" fill="#999">not measured</text>')
            row_y += bar_h + gap
        y += panel_h
    out.append("</svg>")
    return "\n".join(out) + "\n"
