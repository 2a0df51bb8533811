"""Geometry of a multi-series loss chart: one line per model on shared axes (the compare page).

Same scales, ticks and rules as the single-model chart (``artifacts.charts.axes``): missing values
break a line, a range over two orders of magnitude turns the y axis logarithmic. The markup is
``templates/partials/compare_chart.html`` (autoescaped SVG); each model's line is one ``<path>``
whose colour comes from its position (``series-0`` … ``series-3`` in the stylesheet), and the
legend is HTML beside the chart so long model names wrap on a phone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from artifacts.charts.axes import (
    AxisFrame,
    Layout,
    Point,
    Scale,
    Tick,
    draw,
    format_value,
    linear_ticks,
    loss_axis_title,
    loss_ticks,
    wants_log_scale,
)

# Two charts sit side by side on a desktop; on a phone each is drawn in the compact layout.
HALF = Layout(width=560, height=320, left=56, right=16, top=16, bottom=46, x_ticks=6, y_ticks=5, font=12)
PHONE = Layout(width=340, height=240, left=46, right=12, top=12, bottom=44, x_ticks=4, y_ticks=4, font=12)


@dataclass
class ModelSeries:
    """One model's values of one quantity: (step, loss), None where the line breaks."""

    model_id: str
    index: int  # the model's position, which picks its colour
    label: str  # short name for the chart's text description, e.g. "A"
    points: Sequence[Point] = field(default_factory=list)
    faint: bool = False  # a background line (raw values behind a smoothed one)
    dots: bool = False  # mark each value (sparse series such as validation loss)


@dataclass(frozen=True)
class DrawnSeries:
    model_id: str
    css: str
    path: str  # the SVG path: "M x,y L x,y …", a new "M" after each break; "" if nothing to draw
    dots: list[tuple[float, float]]


@dataclass(frozen=True)
class MultiPlot(AxisFrame):
    chart_id: str
    layout: Layout
    title: str
    description: str
    y_title: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[DrawnSeries]


@dataclass(frozen=True)
class MultiChart:
    title: str
    description: str
    log_scale: bool
    wide: MultiPlot | None  # None when no model has a finite value
    compact: MultiPlot | None

    @property
    def has_data(self) -> bool:
        return self.wide is not None


def describe(title: str, series: Sequence[ModelSeries], log_scale: bool) -> str:
    """The chart in words, for screen readers: where each model's line starts, ends and bottoms out."""
    parts = [f"{title}."]
    for s in series:
        if s.faint:
            continue
        finite = [(x, y) for x, y in s.points if y is not None and math.isfinite(y)]
        if not finite:
            parts.append(f"Model {s.label}: nothing recorded.")
            continue
        (x0, y0), (x1, y1) = finite[0], finite[-1]
        low = min(y for _, y in finite)
        parts.append(
            f"Model {s.label}: from {format_value(y0)} at step {x0:,.0f} to {format_value(y1)} at step "
            f"{x1:,.0f}, lowest {format_value(low)}."
        )
    if log_scale:
        parts.append("The loss axis is logarithmic.")
    return " ".join(parts)


def _plot(
    chart_id: str,
    layout: Layout,
    title: str,
    description: str,
    series: Sequence[ModelSeries],
    x_range: tuple[float, float],
    ys: list[float],
    log_scale: bool,
) -> MultiPlot:
    x_ticks = linear_ticks(x_range[0], x_range[1], layout.x_ticks)
    y_ticks, y_step = loss_ticks(ys, log_scale, layout.y_ticks)
    scale = Scale(layout, x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1], log_scale)
    x_marks, y_marks = scale.ticks(x_ticks, y_ticks, y_step)

    drawn = []
    for s in series:
        lines, dots = draw(s.points, scale, s.dots)
        path = " ".join("M" + " L".join(f"{round(x, 1)},{round(y, 1)}" for x, y in line) for line in lines)
        css = f"series-{s.index}" + (" cmp-line--faint" if s.faint else "")
        drawn.append(DrawnSeries(s.model_id, css, path, dots))

    return MultiPlot(
        chart_id=chart_id,
        layout=layout,
        title=title,
        description=description,
        y_title=loss_axis_title(log_scale, short=layout is not HALF),
        y_ticks=y_marks,
        x_ticks=x_marks,
        series=drawn,
    )


def multi_chart(
    chart_id: str, title: str, series: Sequence[ModelSeries], x_range: Sequence[float] | None = None
) -> MultiChart:
    """Both layouts of one chart. ``x_range`` shares the step axis between charts; by default it
    spans these series' own steps."""
    ys = [y for s in series for _, y in s.points if y is not None and math.isfinite(y)]
    log_scale = wants_log_scale(ys)
    description = describe(title, series, log_scale)
    if not ys:
        return MultiChart(title, description, log_scale, None, None)
    xs = [x for s in series for x, _ in s.points]
    low, high = (x_range[0], x_range[1]) if x_range else (min(xs), max(xs))
    span = (max(0.0, low) if low >= 0 else low, high if high > low else low + 1)
    wide = _plot(f"{chart_id}-wide", HALF, title, description, series, span, ys, log_scale)
    compact = _plot(f"{chart_id}-compact", PHONE, title, description, series, span, ys, log_scale)
    return MultiChart(title, description, log_scale, wide, compact)
