"""What every loss chart shares: layouts, round-numbered ticks, the loss axis's range and scale, and
how a series with gaps becomes lines and dots in pixels.

The single-model chart (``artifacts.charts.loss``) and the compare page's chart
(``artifacts.charts.compare``) draw with these same rules, so a run looks the same on both: a
missing or non-finite value breaks the line, a lone value is a dot, a loss axis starts at zero
when its lowest value is close to zero anyway, and values spanning more than two orders of
magnitude (a run that blew up) put the loss axis on a log scale. The axes' markup is
``templates/partials/chart_axes.html``, fed by an :class:`AxisFrame`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LOG_SCALE_RATIO = 100.0

Point = tuple[float, float | None]  # (step, value); None where the line breaks


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x_ticks: int
    y_ticks: int
    font: int

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along its axis
    label: str


class AxisFrame:
    """Where the axes, tick labels and axis titles of a plot go: shared by every chart template."""

    layout: Layout

    @property
    def plot_right(self) -> int:
        return self.layout.left + self.layout.plot_width

    @property
    def plot_bottom(self) -> int:
        return self.layout.top + self.layout.plot_height

    @property
    def y_label_x(self) -> int:
        return self.layout.left - 8

    @property
    def x_mark_end(self) -> int:
        return self.plot_bottom + 5

    @property
    def x_label_y(self) -> int:
        return self.plot_bottom + 18

    @property
    def x_title_x(self) -> float:
        return round(self.layout.left + self.layout.plot_width / 2, 1)

    @property
    def x_title_y(self) -> int:
        return self.layout.height - 6

    @property
    def y_title_y(self) -> float:
        return round(self.layout.top + self.layout.plot_height / 2, 1)


# ---------------------------------------------------------------------------------------------
# Ticks and their labels
# ---------------------------------------------------------------------------------------------


def nice_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude * (1 + 1e-9):
            return multiple * magnitude
    return 10 * magnitude


def linear_ticks(low: float, high: float, count: int) -> list[float]:
    """Round-numbered ticks covering [low, high]."""
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    n = int(round((end - start) / step))
    return [round(start + i * step, 12) for i in range(n + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks = [10.0**k for k in range(first, last + 1)]
    if len(ticks) < 3:
        ticks = sorted({t * m for t in ticks for m in (1, 2, 5) if t * m <= 10.0**last})
    return ticks


def format_tick(value: float, step: float | None = None) -> str:
    if value == 0:
        return "0"
    if step is None:  # log axis: powers of ten and their 2x / 5x
        for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= threshold:
                return f"{value / threshold:g}{suffix}"
        return f"{value:g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step / 10.0**-decimals, 6) % 1:  # 2.5, 0.25 …
        decimals += 1
    if decimals == 0:
        return f"{value:,.0f}"
    return f"{value:.{decimals}f}"


def format_value(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4f}"


def step_of(ticks: Sequence[float]) -> float:
    """The distance between neighbouring linear ticks (1 for a lone tick), which sets their labels' decimals."""
    return ticks[1] - ticks[0] if len(ticks) > 1 else 1.0


# ---------------------------------------------------------------------------------------------
# The loss axis and the scales
# ---------------------------------------------------------------------------------------------


def wants_log_scale(values: Sequence[float]) -> bool:
    """Whether finite, positive losses span more than ``LOG_SCALE_RATIO``: a run that blew up."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SCALE_RATIO


def loss_axis_title(log_scale: bool, short: bool) -> str:
    """The loss axis's title; ``short`` for a narrow layout."""
    if not log_scale:
        return "Loss"
    return "Loss (log)" if short else "Loss (log scale)"


def loss_ticks(values: Sequence[float], log_scale: bool, count: int) -> tuple[list[float], float | None]:
    """The loss axis's ticks for these finite values, and the step between them (None on a log axis).

    A linear axis starts at zero when the lowest value is under a quarter of the highest (close to
    zero anyway); otherwise it is padded by 8% of the range (10% of the value for a flat line) so
    no point sits on the plot's edge, and never padded below zero for positive values.
    """
    if log_scale:
        return log_ticks(min(values), max(values)), None
    low, high = min(values), max(values)
    if low >= 0 and low < high * 0.25:
        low = 0.0
    else:
        pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
        low = low - pad if low - pad > 0 or low < 0 else 0.0
        high += pad
    ticks = linear_ticks(low, high, count)
    return ticks, step_of(ticks)


@dataclass(frozen=True)
class Scale:
    """Data to pixels for one plot: steps along x, losses up y (logarithmically when ``log``)."""

    layout: Layout
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    log: bool

    def x(self, value: float) -> float:
        return self.layout.left + (value - self.x_min) / ((self.x_max - self.x_min) or 1) * self.layout.plot_width

    def y(self, value: float) -> float:
        if self.log:
            span = (math.log10(self.y_max) - math.log10(self.y_min)) or 1
            frac = (math.log10(value) - math.log10(self.y_min)) / span
        else:
            frac = (value - self.y_min) / ((self.y_max - self.y_min) or 1)
        return self.layout.top + (1 - frac) * self.layout.plot_height

    def ticks(
        self, x_ticks: Sequence[float], y_ticks: Sequence[float], y_step: float | None
    ) -> tuple[list[Tick], list[Tick]]:
        """Both axes' ticks in pixels (to a tenth), each labelled as every chart labels it."""
        x_step = step_of(x_ticks)
        return (
            [Tick(round(self.x(t), 1), format_tick(t, x_step)) for t in x_ticks],
            [Tick(round(self.y(t), 1), format_tick(t, y_step)) for t in y_ticks],
        )


# ---------------------------------------------------------------------------------------------
# Series with gaps
# ---------------------------------------------------------------------------------------------


def segments(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """The unbroken stretches of a series: a missing or non-finite value ends one."""
    stretches: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None or not math.isfinite(y):
            if stretches[-1]:
                stretches.append([])
        else:
            stretches[-1].append((x, y))
    return [s for s in stretches if s]


def draw(
    points: Sequence[Point], scale: Scale, dotted: bool
) -> tuple[list[list[tuple[float, float]]], list[tuple[float, float]]]:
    """A series in pixels: one line per stretch of two or more values, and its dots (rounded to a
    tenth of a pixel): every value when ``dotted``, else only the lone values a line cannot show."""
    lines: list[list[tuple[float, float]]] = []
    dots: list[tuple[float, float]] = []
    for stretch in segments(points):
        if len(stretch) > 1:
            lines.append([(scale.x(x), scale.y(y)) for x, y in stretch])
        if dotted or len(stretch) == 1:
            dots.extend((round(scale.x(x), 1), round(scale.y(y), 1)) for x, y in stretch)
    return lines, dots
