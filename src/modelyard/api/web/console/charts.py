"""Charts by day as inline SVG, drawn here on the server: no script, no library, nothing
fetched. Each chart has axes with their unit, the highest value labelled, and a ``<title>``
on every bar or point (the value a pointer shows on hover; ``console-charts.js`` shows it to
keyboard users too). Colours and sizes of text come from ``console-charts.css`` through
classes (the console's policy refuses ``style`` attributes); positions are presentation
attributes, which it allows.

Heights are computed with floats (a pixel needs no more); every value written as text (the
titles, the labels) is formatted from the exact value by the caller's ``fmt``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

Number = int | Decimal
Format = Callable[[Number], str]

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 76, 8, 28, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICKS = 4  # gridlines above zero, about


@dataclass(frozen=True)
class Series:
    """One quantity per day (``None``: nothing to show that day, e.g. no latency without
    calls); ``css``: its class (its colour)."""

    name: str
    css: str
    values: Sequence[Number | None]


def nice_step(top: float, whole: bool = False) -> float:
    """A round step (1, 2 or 5 times a power of ten) dividing ``[0, top]`` in about
    :data:`TICKS` parts; at least 1 for ``whole`` quantities (calls, errors)."""
    if top <= 0:
        return 1.0
    raw = top / TICKS
    if whole and raw <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover  (the loop always returns)


def tick_label(value: float, step: float) -> str:
    """An axis label, as short as the step allows: ``1.5M``, ``250k``, ``1,200``, ``0.005``."""
    if step >= 100_000:
        return f"{value / 1_000_000:g}M"
    if step >= 1_000:
        return f"{value / 1_000:g}k"
    if step >= 1:
        return f"{value:,.0f}"
    places = max(0, -math.floor(math.log10(step)))
    return f"{value:.{places}f}"


def _axes(days: Sequence[date], top: float, step: float, unit: str) -> list[str]:
    parts = ['<g class="axis" aria-hidden="true">']
    count = round(top / step)
    for i in range(count + 1):
        value = i * step
        y = TOP + PLOT_H - PLOT_H * value / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(tick_label(value, step))}</text>"
        )
    parts.append(
        f'<text class="unit" x="{LEFT - 6}" y="{TOP - 8}" text-anchor="end">{escape(unit)}</text>'
    )
    slot = PLOT_W / max(len(days), 1)
    every = max(1, math.ceil(len(days) / 7))
    for i, day in enumerate(days):
        if i % every and i != len(days) - 1:
            continue
        if i != len(days) - 1 and len(days) - 1 - i < every / 2:
            continue  # too close to the last day's label
        x, anchor = LEFT + slot * (i + 0.5), "middle"
        if i == len(days) - 1 and len(days) > 1:
            x, anchor = LEFT + slot * (i + 1), "end"  # inside the chart's right edge
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="{anchor}">'
            f"{day.strftime('%b')} {day.day}</text>"
        )
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + PLOT_H}" y2="{TOP + PLOT_H}"/>'
    )
    parts.append("</g>")
    return parts


def _scale(highest: float, whole: bool) -> tuple[float, float]:
    """The axis' top and step: room above the highest value for its label."""
    roomy = highest * 1.15
    step = nice_step(roomy, whole)
    top = step * max(1, math.ceil(roomy / step))
    return top, step


def _open(chart_id: str, label: str) -> list[str]:
    return [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(label)}" tabindex="0" '
        'data-chart preserveAspectRatio="xMidYMid meet">'
    ]


def bars(
    chart_id: str,
    label: str,
    unit: str,
    days: Sequence[date],
    stack: Sequence[Series],
    fmt: Format,
    *,
    whole: bool = False,
) -> Markup:
    """Bars by day, the series stacked bottom up; each bar's title names the day and every
    series' value, and the highest day's total is written above its bar."""
    totals = [sum((s.values[i] or 0 for s in stack), Decimal(0)) for i in range(len(days))]
    highest = float(max(totals, default=0))
    top, step = _scale(highest, whole)
    parts = _open(chart_id, label) + _axes(days, top, step, unit)
    slot = PLOT_W / max(len(days), 1)
    width = max(1.0, slot * 0.7)
    peak = max(range(len(days)), key=lambda i: totals[i], default=None)
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - width) / 2
        title = _title(day, [(s.name, s.values[i]) for s in stack], fmt, len(stack) > 1)
        parts.append(f'<g class="day" data-value="{escape(title)}"><title>{escape(title)}</title>')
        base = 0.0
        for s in stack:
            value = float(s.values[i] or 0)
            h = PLOT_H * value / top
            y = TOP + PLOT_H - base - h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{width:.1f}" height="{h:.1f}"/>'
            )
            base += h
        # an invisible full-height target, so a day with a tiny bar is easy to point at
        parts.append(
            f'<rect class="hit" x="{LEFT + slot * i:.1f}" y="{TOP}" '
            f'width="{slot:.1f}" height="{PLOT_H}"/></g>'
        )
    if peak is not None and totals[peak] > 0:
        height = PLOT_H * float(totals[peak]) / top
        parts.append(_peak(peak, len(days), TOP + PLOT_H - height - 6, fmt(totals[peak])))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (built here; every text escaped)


def line(
    chart_id: str,
    label: str,
    unit: str,
    days: Sequence[date],
    series: Series,
    fmt: Format,
) -> Markup:
    """A line through the days that have a value (a day without is a gap), a point with
    its title on each."""
    values = series.values
    highest = float(max((v for v in values if v is not None), default=0))
    top, step = _scale(highest, False)
    parts = _open(chart_id, label) + _axes(days, top, step, unit)
    slot = PLOT_W / max(len(days), 1)
    runs: list[list[str]] = [[]]
    points: list[str] = []
    peak = max(
        (i for i, v in enumerate(values) if v is not None),
        key=lambda i: values[i] or 0,
        default=None,
    )
    for i, day in enumerate(days):
        value = values[i]
        if value is None:
            runs.append([])
            continue
        x = LEFT + slot * (i + 0.5)
        y = TOP + PLOT_H - PLOT_H * float(value) / top
        runs[-1].append(f"{x:.1f},{y:.1f}")
        title = _title(day, [(series.name, value)], fmt, False)
        points.append(
            f'<g class="day" data-value="{escape(title)}"><title>{escape(title)}</title>'
            f'<circle class="{escape(series.css)}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>'
            f'<rect class="hit" x="{LEFT + slot * i:.1f}" y="{TOP}" '
            f'width="{slot:.1f}" height="{PLOT_H}"/></g>'
        )
    for run in runs:
        if len(run) > 1:
            parts.append(f'<polyline class="{escape(series.css)} line" points="{" ".join(run)}"/>')
    parts += points
    if peak is not None and (values[peak] or 0) > 0:
        height = PLOT_H * float(values[peak] or 0) / top
        parts.append(_peak(peak, len(days), TOP + PLOT_H - height - 9, fmt(values[peak] or 0)))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (built here; every text escaped)


def _peak(index: int, count: int, y: float, text: str) -> str:
    """The highest value's label above its day, kept inside the chart at either end."""
    slot = PLOT_W / max(count, 1)
    if index >= count * 0.75:
        x, anchor = LEFT + slot * (index + 1), "end"
    elif index < count * 0.25:
        x, anchor = LEFT + slot * index, "start"
    else:
        x, anchor = LEFT + slot * (index + 0.5), "middle"
    return (
        f'<text class="peak" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
        f'aria-hidden="true">{escape(text)}</text>'
    )


def _title(day: date, values: Sequence[tuple[str, Number | None]], fmt: Format, named: bool) -> str:
    """``2026-12-05: 1,234 calls`` or, stacked, ``2026-12-05: prompt 10, completion 5``."""
    if not named:
        value = values[0][1]
        return f"{day.isoformat()}: {'no calls' if value is None else fmt(value)}"
    return f"{day.isoformat()}: " + ", ".join(f"{n} {fmt(v or 0)}" for n, v in values)
