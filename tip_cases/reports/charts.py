"""PURE: small server-side SVG charts (bars and lines), accessible and CSP-safe.

Rendered on the server because border posts and district offices have poor connectivity and the
content security policy forbids inline scripts: no JavaScript and no CDN. Each chart is an <svg
role="img"> labelled by its <title> and <desc>; the template puts the same figures in a table beside
it, for screen readers and for copying. Only presentation attributes are used (fill, stroke), never
style="...", which the CSP would block.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from html import escape

from screening.engine.phrases import say

PALETTE = ["#1f5f8b", "#c0392b", "#2e8b57", "#b8860b", "#6a3d9a", "#555555"]
_ids = itertools.count(1)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _nice_max(v: float) -> float:
    """The next round number above v, so axis ticks read 0, 25, 50 rather than 0, 23.7, 47.4."""
    if v <= 0:
        return 1
    magnitude = 10 ** (len(str(int(v))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= v:
            return top
    return 10 * magnitude


def _open(title: str, desc: str, width: int, height: int) -> tuple[str, str]:
    n = next(_ids)
    tid, did = f"chart-title-{n}", f"chart-desc-{n}"
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="tsela-chart" '
            f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
            f'aria-labelledby="{tid} {did}" font-family="sans-serif" font-size="12">'
            f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>')
    return head, "</svg>"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None], *, unit: str = "",
              width: int = 560, bar_height: int = 22) -> str:
    """Horizontal bars (long post names stay readable); None values are drawn as 'suppressed'."""
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    shown = [v for v in values if v is not None]
    desc = "; ".join(f"{lab}: {'suppressed' if v is None else _fmt(v)}{(' ' + unit) if v is not None and unit else ''}"
                     for lab, v in zip(labels, values, strict=True)) or "No data"
    label_w = min(220, 12 + 7 * max((len(lab) for lab in labels), default=4))
    plot_w = width - label_w - 60
    height = 20 + max(1, len(labels)) * (bar_height + 6) + 10
    head, tail = _open(title, desc, width, height)
    top = _nice_max(max(shown, default=0))
    parts = [head]
    if not labels:
        parts.append('<text x="10" y="30" fill="#555">No data for this selection</text>')
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * (bar_height + 6)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
                     f'fill="#222">{escape(str(lab))}</text>')
        if v is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + bar_height * 0.7:.1f}" fill="#777" '
                         f'font-style="italic">suppressed</text>')
            continue
        w = 0 if top == 0 else plot_w * float(v) / top
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{PALETTE[0]}"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height * 0.7:.1f}" fill="#222">{_fmt(v)}</text>')
    parts.append(f'<line x1="{label_w}" y1="14" x2="{label_w}" y2="{height - 6}" stroke="#888"/>')
    parts.append(tail)
    return "".join(parts)


def line_chart(title: str, x_labels: Sequence[str], series: dict[str, Sequence[float]], *,
               width: int = 640, height: int = 240, tr: Callable[[str], str] = str) -> str:
    """One line per series over shared x labels (days); the legend names each series in text.
    `tr` says the screen reader's summary (a `say` phrase) in the reader's language."""
    for name, ys in series.items():
        if len(ys) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(ys)} points for {len(x_labels)} labels")
    left, right, top_pad, bottom = 50, 20, 30, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    peak = _nice_max(max((v for ys in series.values() for v in ys), default=0))
    totals = ", ".join(tr(say("{name}: {total} in total, peak {peak}", name=name, total=_fmt(sum(ys)),
                                 peak=_fmt(max(ys, default=0)))) for name, ys in series.items())
    span = tr(say("{count} points from {first} to {last}.", count=len(x_labels), first=x_labels[0],
                  last=x_labels[-1])) if x_labels else tr(say("No period."))
    head, tail = _open(title, f"{span} {totals}".strip(), width, height)
    parts = [head]
    # Axes and three gridlines.
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{_fmt(peak * frac)}</text>')
    n = len(x_labels)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    if n:
        for i in sorted({0, n // 2, n - 1}):
            parts.append(f'<text x="{x_at(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'fill="#555">{escape(str(x_labels[i]))}</text>')
    for s, (name, ys) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        points = " ".join(f"{x_at(i):.1f},{top_pad + plot_h * (1 - float(v) / peak):.1f}" for i, v in enumerate(ys))
        if n == 1:
            x, y = points.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
        elif n:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        lx = left + s * 150
        parts.append(f'<rect x="{lx}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 16}" y="18" fill="#222">{escape(name)}</text>')
    parts.append(tail)
    return "".join(parts)
