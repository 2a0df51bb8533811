"""The server-side loss chart: gaps for missing/NaN points, a lone point, log scale, axes.

``artifacts.charts.loss`` computes the geometry; ``partials/loss_chart.html`` draws it. The tests read
the SVG the page would show for the wide layout.
"""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

from django.template.loader import render_to_string

from artifacts.charts.axes import format_tick, linear_ticks
from artifacts.charts.loss import MAX_DRAWN_POINTS, Plot, evenly_spaced, loss_chart, thin


def points(rows):
    return [SimpleNamespace(step=s, training_loss=t, validation_loss=v) for s, t, v in rows]


def render_plot(plot: Plot | None) -> str:
    """The chart's SVG as the page renders it (nothing when there is no plot)."""
    return render_to_string("partials/loss_chart.html", {"plot": plot}).strip()


def test_nan_and_null_training_loss_break_the_line():
    chart = loss_chart(
        points(
            [
                (0, 2.0, None),
                (10, 1.5, None),
                (20, float("nan"), None),
                (30, 1.0, None),
                (40, 0.8, None),
                (50, None, None),
            ]
        )
    )
    svg = render_plot(chart.wide)
    assert svg.count('<polyline class="chart__line chart__line--train"') == 2
    attributes = re.findall(r'="([^"]*)"', svg)
    assert not [a for a in attributes if "nan" in a.lower() or "inf" in a.lower()]
    assert chart.nonfinite_steps == [20, 50]
    assert "not finite (NaN or infinite) at 2 steps, first at step 20" in chart.description


def test_sparse_validation_is_connected_and_dotted():
    chart = loss_chart(points([(0, 2.0, 2.1), (10, 1.5, None), (20, 1.2, 1.3), (30, 1.0, None), (40, 0.9, 1.0)]))
    svg = render_plot(chart.wide)
    assert svg.count('<polyline class="chart__line chart__line--val"') == 1
    assert svg.count('<circle class="chart__dot chart__line--val"') == 3
    assert chart.rows[1] == (10, 1.5, None)


def test_a_single_point_is_drawn_as_a_dot():
    chart = loss_chart(points([(100, 0.8, None)]))
    svg = render_plot(chart.wide)
    assert "<polyline" not in svg
    assert svg.count('<circle class="chart__dot chart__line--train"') == 1
    assert "over 1 point;" in chart.description


def test_no_points_means_no_chart():
    chart = loss_chart([])
    assert not chart.has_data and render_plot(chart.wide) == ""
    assert not loss_chart(points([(0, None, None)])).has_data


def test_axes_have_round_tick_labels_titles_and_accessible_names():
    chart = loss_chart(points([(0, 2.45, None), (500, 1.1, 1.2), (975, 0.32, 0.4)]), chart_id="x")
    svg = render_plot(chart.wide)
    ticks = re.findall(r'class="chart__tick"[^>]*>([^<]+)<', svg)
    assert {"0", "1.0", "2.0", "500", "1,000"} <= set(ticks)
    assert 'aria-labelledby="x-wide-title x-wide-desc"' in svg
    assert ">Step</text>" in svg and ">Loss</text>" in svg
    assert ">Training loss</text>" in svg and ">Validation loss</text>" in svg
    assert not chart.log_scale


def test_a_blown_up_run_switches_to_a_log_axis():
    chart = loss_chart(points([(0, 2.0, None), (10, 1.5, None), (20, 3000.0, None), (30, 2_500_000.0, None)]))
    assert chart.log_scale
    ticks = re.findall(r'class="chart__tick"[^>]*>([^<]+)<', render_plot(chart.wide))
    assert "1k" in ticks and "1M" in ticks
    assert "Loss (log scale)" in render_plot(chart.wide)


def test_tick_helpers():
    assert linear_ticks(0.32, 2.45, 5) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert linear_ticks(1.0, 1.0, 5)[0] < 1.0 < linear_ticks(1.0, 1.0, 5)[-1]
    assert format_tick(0.25, 0.25) == "0.25" and format_tick(1500, 500) == "1,500"


def polyline_points(svg: str, css: str) -> list[list[str]]:
    return [p.split() for p in re.findall(rf'<polyline class="chart__line {css}" points="([^"]*)"', svg)]


def test_a_long_run_is_thinned_but_keeps_its_ends_spike_and_gap():
    rows = [(i, 1.0 + (i % 7) / 100, None) for i in range(10_000)]
    rows[4321] = (4321, 9.0, None)  # a spike
    rows[7000] = (7000, float("nan"), None)  # a break in the line
    rows[-1] = (9999, 0.25, None)  # the final loss
    chart = loss_chart(points(rows))
    svg = render_plot(chart.wide)

    lines = polyline_points(svg, "chart__line--train")
    assert len(lines) == 2  # broken once, at the NaN
    drawn = [xy for line in lines for xy in line]
    assert len(drawn) <= MAX_DRAWN_POINTS
    ys = [float(xy.split(",")[1]) for xy in drawn]
    assert drawn[0].startswith("64.0,")  # step 0 on the left edge
    assert drawn[-1].startswith("939.9,") and ys[-1] == max(ys)  # step 9,999, the lowest loss, is drawn
    assert min(ys) < 100 < 250 < sorted(ys)[1]  # the one spike is drawn, far above the rest
    assert chart.nonfinite_steps == [7000]
    assert svg.count('class="chart__nonfinite"') == 1 + 1  # the tick and its legend entry
    assert len(svg) < 40_000


def test_thinning_keeps_first_last_extremes_and_gaps_in_order():
    series = [(float(x), float(x % 10)) for x in range(2000)]
    series[1000] = (1000.0, None)
    series[1500] = (1500.0, -5.0)
    thinned = thin(series)

    assert len(thinned) <= MAX_DRAWN_POINTS
    assert thinned[0] == series[0] and thinned[-1] == series[-1]
    assert (1000.0, None) in thinned and (1500.0, -5.0) in thinned
    assert [x for x, _ in thinned] == sorted(x for x, _ in thinned)
    assert thin(series[:300]) == series[:300]


def test_a_run_of_nan_steps_draws_one_tick_per_pixel_not_one_per_step():
    rows = [(i, 2.0 - i / 10_000, None) for i in range(2000)] + [(i, None, None) for i in range(2000, 10_000)]
    chart = loss_chart(points(rows))
    assert len(chart.nonfinite_steps) == 8000
    assert "not finite (NaN or infinite) at 8,000 steps, first at step 2,000" in chart.description
    ticks = render_plot(chart.wide).count('<line class="chart__nonfinite"')
    assert 1 < ticks <= 960


def test_the_data_table_shows_at_most_200_evenly_spaced_rows_and_says_so():
    chart = loss_chart(points([(i * 10, 1.0, 1.1 if i % 2 else None) for i in range(1000)]))
    assert len(chart.rows) == 200
    assert chart.rows[0][0] == 0 and chart.rows[-1][0] == 9990
    gaps = {b[0] - a[0] for a, b in zip(chart.rows, chart.rows[1:], strict=False)}
    assert gaps <= {50, 60}
    assert chart.rows_note == "Showing 200 of 1,000 points, evenly spaced from the first step to the last."

    small = loss_chart(points([(0, 2.0, None), (10, 1.0, 1.1)]))
    assert small.rows == [(0, 2.0, None), (10, 1.0, 1.1)] and small.rows_note == ""


def test_evenly_spaced():
    assert evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert evenly_spaced(list(range(3)), 4) == [0, 1, 2]
    assert evenly_spaced(list(range(101)), 2) == [0, 100]


def test_the_svg_escapes_its_text():
    chart = loss_chart(points([(0, 2.0, None), (10, 1.0, None)]))
    assert chart.wide is not None
    plot = dataclasses.replace(chart.wide, title='<script>alert("x")</script>')

    svg = render_plot(plot)

    assert "<script>" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in svg
