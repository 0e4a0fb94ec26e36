"""Charts as inline SVG drawn on the server (no scripts, nothing fetched): bars, a goal gauge, a heat map."""
from __future__ import annotations

from html import escape

PALETTE = ["#2f6fdf", "#f29f05", "#2aa876", "#9b59b6", "#e74c3c", "#16a2b8"]


def stacked_bars(labels: list[str], series: dict[str, list[float]], names: dict[str, str],
                 width: int = 720, height: int = 260) -> str:
    """One bar per label, stacked by series; a legend under the chart."""
    if not labels:
        return _empty(width)
    totals = [sum(vals[i] for vals in series.values()) for i in range(len(labels))]
    top = max(totals + [1.0])
    left, bottom, plot_h = 40, 40, height - 70
    step = (width - left - 10) / len(labels)
    bar_w = max(4.0, step * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img">']
    for frac in (0.0, 0.5, 1.0):
        y = 10 + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - 5}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{top * frac:.0f}</text>')
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar_w) / 2
        y = 10 + plot_h
        for k, (name, vals) in enumerate(series.items()):
            h = plot_h * vals[i] / top
            if h > 0:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                             f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(names.get(name, name))} '
                             f'{escape(label)}: {vals[i]:g}</title></rect>')
        if len(labels) <= 16 or i % max(1, len(labels) // 8) == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="10">{escape(label)}</text>')
    x = left
    for k, name in enumerate(series):
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{height - 7}" font-size="11">{escape(names.get(name, name))}</text>')
        x += 20 + 9 * len(names.get(name, name)) + 20
    parts.append("</svg>")
    return "".join(parts)


def goal_gauge(value: float | None, goal: float, label: str, goal_label: str, width: int = 720) -> str:
    """A 0–100 bar with the goal marked: green at or above the goal, red below."""
    if value is None:
        return _empty(width)
    height, left, bar_w = 70, 10, width - 20
    color = "#2aa876" if value >= goal else "#e74c3c"
    gx = left + bar_w * goal / 100
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img">'
            f'<rect x="{left}" y="20" width="{bar_w}" height="24" fill="#eee"/>'
            f'<rect x="{left}" y="20" width="{bar_w * min(value, 100) / 100:.1f}" height="24" fill="{color}"/>'
            f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="12" y2="52" stroke="#222" stroke-width="2"/>'
            f'<text x="{gx:.1f}" y="66" text-anchor="middle" font-size="11">{escape(goal_label)} {goal:g}</text>'
            f'<text x="{left}" y="14" font-size="13" font-weight="bold">{escape(label)} {value:.1f}</text></svg>')


def hbars(rows: list[tuple[str, float, str]], unit: str, width: int = 720) -> str:
    """Horizontal bars: (label, value, colour)."""
    if not rows:
        return _empty(width)
    top = max([v for _, v, _ in rows] + [1.0])
    height = 28 * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img">']
    for i, (label, value, color) in enumerate(rows):
        y = 8 + i * 28
        w = (width - 260) * value / top
        parts.append(f'<text x="170" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
                     f'<rect x="178" y="{y}" width="{w:.1f}" height="20" fill="{color}"/>'
                     f'<text x="{182 + w:.1f}" y="{y + 15}" font-size="12">{value:.1f} {escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(rows: list[str], cols: list[str], counts: dict[tuple[str, str], int], width: int = 720) -> str:
    """Rows × columns, darker red = more."""
    if not rows or not cols:
        return _empty(width)
    cell_w = min(90.0, (width - 130) / len(cols))
    cell_h = 30
    top = max(list(counts.values()) + [1])
    height = 30 + cell_h * len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img">']
    for j, col in enumerate(cols):
        parts.append(f'<text x="{130 + j * cell_w + cell_w / 2:.1f}" y="18" text-anchor="middle" '
                     f'font-size="12">{escape(col)}</text>')
    for i, row in enumerate(rows):
        y = 25 + i * cell_h
        parts.append(f'<text x="124" y="{y + 19}" text-anchor="end" font-size="12">{escape(row)}</text>')
        for j, col in enumerate(cols):
            n = counts.get((row, col), 0)
            alpha = 0.08 + 0.92 * n / top if n else 0.03
            parts.append(f'<rect x="{130 + j * cell_w:.1f}" y="{y}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" '
                         f'fill="rgba(220,40,40,{alpha:.2f})"><title>{escape(row)} / {escape(col)}: {n}</title>'
                         f'</rect><text x="{130 + j * cell_w + cell_w / 2:.1f}" y="{y + 19}" text-anchor="middle" '
                         f'font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _empty(width: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} 40" role="img">'
            '<text x="10" y="25" font-size="13" fill="#888">—</text></svg>')
