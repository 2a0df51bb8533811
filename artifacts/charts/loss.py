"""Geometry of the server-side loss chart: training and validation loss over steps.

Pure functions from metrics points to scales, ticks, lines and dots in pixels; the SVG markup is
``templates/partials/loss_chart.html`` (autoescaped), so pages draw the chart without JavaScript
and tests can read it. Missing or non-finite values break the line instead of crashing or drawing a
spike to zero: a NULL training loss means the trainer logged a non-finite value (see
``MetricsPoint``), a NULL validation loss means none was measured at that step. When the finite
values span more than two orders of magnitude (a run that blew up) the y axis turns logarithmic
so the healthy part of the curve stays readable.

Long runs log thousands of points, and each is drawn twice (wide and phone layouts) besides the
data table. The drawn lines are thinned to at most ``MAX_DRAWN_POINTS`` per series (keeping the
first and last point, each stretch's lowest and highest value, and every gap) and the table to
``MAX_TABLE_ROWS`` evenly spaced rows, so the page stays small whatever the run's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from artifacts.charts.axes import (
    AxisFrame,
    Layout,
    Scale,
    Tick,
    draw,
    format_value,
    linear_ticks,
    loss_axis_title,
    loss_ticks,
    wants_log_scale,
)
from pipeline.lib.numbers import finite_number

MAX_DRAWN_POINTS = 500
MAX_TABLE_ROWS = 200

T = TypeVar("T")


WIDE = Layout(width=960, height=340, left=64, right=20, top=38, bottom=48, x_ticks=10, y_ticks=5, font=12)
COMPACT = Layout(width=340, height=250, left=48, right=14, top=34, bottom=44, x_ticks=4, y_ticks=4, font=12)


@dataclass
class Series:
    name: str
    css: str
    points: list[tuple[float, float | None]] = field(default_factory=list)  # None = gap

    @property
    def finite(self) -> list[tuple[float, float]]:
        return [(x, y) for x, y in self.points if y is not None]


@dataclass(frozen=True)
class Polyline:
    """One unbroken stretch of a series, in pixels."""

    coords: tuple[tuple[float, float], ...]

    @property
    def points(self) -> str:
        """The value of the SVG ``points`` attribute."""
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.coords)


@dataclass(frozen=True)
class Trace:
    """A series as drawn: its lines (a break wherever a value is missing) and its dots."""

    name: str
    css: str
    lines: list[Polyline]
    dots: list[tuple[float, float]]


@dataclass(frozen=True)
class ChartMarker:
    """A step worth pointing at (the best validation loss, where overfitting starts)."""

    step: float
    label: str
    css: str


@dataclass(frozen=True)
class PlacedMarker:
    """A marker in pixels: a dashed vertical line at ``x`` with its label beside it."""

    x: float
    label: str
    css: str
    label_x: float
    anchor: str  # SVG text-anchor: "start" (label right of the line) or "end"


@dataclass(frozen=True)
class LegendEntry:
    x: int
    name: str
    css: str


@dataclass(frozen=True)
class Plot(AxisFrame):
    """Everything ``partials/loss_chart.html`` draws for one layout, as numbers and plain text."""

    chart_id: str
    layout: Layout
    title: str
    description: str
    y_title: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    nonfinite_marks: list[float]  # x of each non-finite training step's tick
    traces: list[Trace]
    legend: list[LegendEntry]
    nonfinite_legend_x: int | None  # where the "NaN" legend entry goes; None without one
    markers: list[PlacedMarker] = field(default_factory=list)

    @property
    def marker_label_y(self) -> int:
        return self.layout.top + 12

    @property
    def nonfinite_mark_end(self) -> int:
        return self.layout.top + 8


@dataclass
class LossChart:
    training: Series
    validation: Series
    nonfinite_steps: list[float]
    title: str
    description: str
    log_scale: bool
    wide: Plot | None  # None when nothing finite was recorded
    compact: Plot | None
    markers: list[ChartMarker] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return bool(self.training.finite or self.validation.finite)

    @cached_property
    def all_rows(self) -> list[tuple[float, float | None, float | None]]:
        """(step, training, validation) for every recorded step."""
        table: dict[float, list[float | None]] = {}
        for x, y in self.training.points:
            table.setdefault(x, [None, None])[0] = y
        for x, y in self.validation.points:
            table.setdefault(x, [None, None])[1] = y
        return [(x, v[0], v[1]) for x, v in sorted(table.items())]

    @cached_property
    def rows(self) -> list[tuple[float, float | None, float | None]]:
        """The accessible data table: every step, or ``MAX_TABLE_ROWS`` evenly spaced ones."""
        return evenly_spaced(self.all_rows, MAX_TABLE_ROWS)

    @property
    def rows_note(self) -> str:
        """Says so when the table leaves steps out; empty when it shows them all."""
        shown, total = len(self.rows), len(self.all_rows)
        if shown == total:
            return ""
        return f"Showing {shown:,} of {total:,} points, evenly spaced from the first step to the last."


def evenly_spaced(items: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` items, evenly spaced, always including the first and the last."""
    if len(items) <= limit:
        return list(items)
    if limit < 2:
        return list(items[-limit:]) if limit else []
    last = len(items) - 1
    return [items[i] for i in sorted({round(k * last / (limit - 1)) for k in range(limit)})]


def thin(
    points: Sequence[tuple[float, float | None]], limit: int = MAX_DRAWN_POINTS
) -> list[tuple[float, float | None]]:
    """At most ``limit`` points of a series that draw (nearly) the same line.

    Keeps the first and the last point and, for each run of neighbouring points, its lowest and
    highest value and its first gap (a missing or non-finite value), in their original order. So
    spikes, the line's breaks and its ends survive; only points hidden between them go.
    """
    if len(points) <= limit:
        return list(points)
    inner = points[1:-1]
    buckets = max(1, (limit - 2) // 3)  # up to three points kept per bucket
    kept = [points[0]]
    for b in range(buckets):
        chunk = inner[len(inner) * b // buckets : len(inner) * (b + 1) // buckets]
        picks: set[int] = set()
        finite = [i for i, (_, y) in enumerate(chunk) if y is not None]
        if finite:
            picks.add(min(finite, key=lambda i: chunk[i][1] or 0.0))
            picks.add(max(finite, key=lambda i: chunk[i][1] or 0.0))
        gap = next((i for i, (_, y) in enumerate(chunk) if y is None), None)
        if gap is not None:
            picks.add(gap)
        kept.extend(chunk[i] for i in sorted(picks))
    kept.append(points[-1])
    return kept


def build_series(points: Iterable[Any]) -> tuple[Series, Series, list[float]]:
    """Split metrics points (objects with step/training_loss/validation_loss) into two series."""
    training = Series("Training loss", "chart__line--train")
    validation = Series("Validation loss", "chart__line--val")
    nonfinite: list[float] = []
    for point in points:
        step = finite_number(getattr(point, "step", None))
        if step is None:
            continue
        train_raw = getattr(point, "training_loss", None)
        train = finite_number(train_raw)
        training.points.append((step, train))
        if train is None:
            nonfinite.append(step)
        val_raw = getattr(point, "validation_loss", None)
        if val_raw is None:
            continue  # not measured at this step: connect across it
        validation.points.append((step, finite_number(val_raw)))
    return training, validation, nonfinite


def _describe(training: Series, validation: Series, nonfinite: list[float], log_scale: bool) -> str:
    parts = []
    for series in (training, validation):
        finite = series.finite
        if not finite:
            parts.append(f"No {series.name.lower()} recorded.")
            continue
        (x0, y0), (x1, y1) = finite[0], finite[-1]
        low = min(y for _, y in finite)
        parts.append(
            f"{series.name} goes from {format_value(y0)} at step {x0:,.0f} to {format_value(y1)} at "
            f"step {x1:,.0f} over {len(finite):,} point{'s' if len(finite) != 1 else ''}; "
            f"lowest {format_value(low)}."
        )
    if nonfinite:
        parts.append(
            f"Training loss was not finite (NaN or infinite) at {len(nonfinite):,} step"
            f"{'s' if len(nonfinite) != 1 else ''}, first at step {nonfinite[0]:,.0f}."
        )
    if log_scale:
        parts.append("The loss axis is logarithmic.")
    return " ".join(parts)


def build_plot(
    chart_id: str,
    layout: Layout,
    training: Series,
    validation: Series,
    title: str,
    description: str,
    log_scale: bool,
    nonfinite: list[float],
    markers: Sequence[ChartMarker] = (),
) -> Plot:
    """Scales, ticks, lines, dots and legend of one layout of the chart, in pixels."""
    xs = [x for x, _ in training.points + validation.points]
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_ticks = linear_ticks(x_low, x_high, layout.x_ticks)
    y_ticks, y_step = loss_ticks([y for _, y in training.finite + validation.finite], log_scale, layout.y_ticks)
    scale = Scale(layout, x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1], log_scale)
    x_marks, y_marks = scale.ticks(x_ticks, y_ticks, y_step)
    sx = scale.x

    # Non-finite training steps: short red ticks along the top of the plot, one per pixel column
    # at most (thousands of NaN steps would otherwise draw thousands of overlapping ticks).
    column = 1 if len(nonfinite) <= MAX_DRAWN_POINTS else 0
    marks = sorted({round(sx(step), column) for step in nonfinite})

    traces = []
    for series, dotted in ((training, False), (validation, True)):
        lines, dots = draw(series.points, scale, dotted)
        traces.append(Trace(series.name, series.css, [Polyline(tuple(line)) for line in lines], dots))

    legend = []
    legend_x = layout.left
    for series in (training, validation):
        if series.finite:
            legend.append(LegendEntry(legend_x, series.name, series.css))
            legend_x += 24 + int(len(series.name) * layout.font * 0.6) + 18

    placed = []
    middle = layout.left + layout.plot_width / 2
    for marker in markers:
        if not scale.x_min <= marker.step <= scale.x_max:
            continue
        x = round(sx(marker.step), 1)
        left_side = x > middle  # label on the side with more room
        placed.append(
            PlacedMarker(
                x, marker.label, marker.css, round(x - 4 if left_side else x + 4, 1), "end" if left_side else "start"
            )
        )

    return Plot(
        markers=placed,
        chart_id=chart_id,
        layout=layout,
        title=title,
        description=description,
        y_title=loss_axis_title(log_scale, short=layout is not WIDE),
        y_ticks=y_marks,
        x_ticks=x_marks,
        nonfinite_marks=marks,
        traces=traces,
        legend=legend,
        nonfinite_legend_x=legend_x if nonfinite else None,
    )


def loss_chart(points: Iterable[Any], chart_id: str = "loss-chart", markers: Sequence[ChartMarker] = ()) -> LossChart:
    """Build the chart for metrics points ordered by time (as ``MetricsPoint`` orders them).

    ``markers`` are steps to mark with a labelled dashed line (drawn only inside the step axis).
    """
    training, validation, nonfinite = build_series(points)
    ys = [y for _, y in training.finite + validation.finite]
    log_scale = wants_log_scale(ys)
    title = "Training and validation loss by step"
    description = _describe(training, validation, nonfinite, log_scale)
    wide = compact = None
    if ys:
        drawn_training = Series(training.name, training.css, thin(training.points))
        drawn_validation = Series(validation.name, validation.css, thin(validation.points))
        wide, compact = (
            build_plot(
                f"{chart_id}-{label}",
                size,
                drawn_training,
                drawn_validation,
                title,
                description,
                log_scale,
                nonfinite,
                markers,
            )
            for label, size in (("wide", WIDE), ("compact", COMPACT))
        )
    return LossChart(training, validation, nonfinite, title, description, log_scale, wide, compact, list(markers))
