"""Small self-made SVG charts for the report (no plotting library needed for one chart).

Why SVG by hand: the report must render offline and the chart is a single series of
latencies; a plotting dependency would cost more than these forty lines.
"""
from __future__ import annotations

from html import escape

from tools.spec_support.facade import percentile


def latency_svg(samples_ms: list[float], title: str, width: int = 640, height: int = 300) -> str:
    """Each call's time in order, with the p50/p95/p99 lines drawn across."""
    pad_l, pad_b, pad_t, pad_r = 60, 30, 30, 70
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    top = max(samples_ms or [1.0]) * 1.1 or 1.0
    n = max(1, len(samples_ms) - 1)

    def x(i: int) -> float:
        return pad_l + plot_w * i / n

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - v / top)

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(samples_ms))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" stroke="black"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" stroke="black"/>',
        f'<text x="{pad_l - 6}" y="{pad_t + 4}" text-anchor="end">{top:.1f} ms</text>',
        f'<text x="{pad_l - 6}" y="{pad_t + plot_h}" text-anchor="end">0</text>',
        f'<text x="{pad_l + plot_w / 2}" y="{height - 6}" text-anchor="middle">call number (1..{len(samples_ms)})</text>',
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1" points="{points}"/>',
    ]
    for label, pct, colour in (("p50", 50, "#2ca02c"), ("p95", 95, "#ff7f0e"), ("p99", 99, "#d62728")):
        value = percentile(samples_ms, pct)
        parts.append(f'<line x1="{pad_l}" y1="{y(value):.1f}" x2="{pad_l + plot_w}" y2="{y(value):.1f}" '
                     f'stroke="{colour}" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{pad_l + plot_w + 4}" y="{y(value) + 4:.1f}" fill="{colour}">{label} {value:.2f}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def figures_table(rows: list[tuple[str, str]]) -> str:
    """A two-column CSV table (Allure shows CSV attachments as a table)."""
    return "figure,value\n" + "\n".join(f"{escape(name)},{escape(value)}" for name, value in rows)
