"""The server-side loss chart: gaps for missing/NaN points, a lone point, log scale, axes."""

from __future__ import annotations

import re
from types import SimpleNamespace

from artifacts.charts import format_tick, linear_ticks, loss_chart


def points(rows):
    return [SimpleNamespace(step=s, training_loss=t, validation_loss=v) for s, t, v in rows]


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
    svg = str(chart.wide)
    assert svg.count('<polyline class="chart__line chart__line--train"') == 2
    attributes = re.findall(r'="([^"]*)"', svg)
    assert not [a for a in attributes if "nan" in a.lower() or "inf" in a.lower()]
    assert chart.nonfinite_steps == [20, 50]
    assert "not finite (NaN or infinite) at 2 steps, first at step 20" in chart.description


def test_sparse_validation_is_connected_and_dotted():
    chart = loss_chart(points([(0, 2.0, 2.1), (10, 1.5, None), (20, 1.2, 1.3), (30, 1.0, None), (40, 0.9, 1.0)]))
    svg = str(chart.wide)
    assert svg.count('<polyline class="chart__line chart__line--val"') == 1
    assert svg.count('<circle class="chart__dot chart__line--val"') == 3
    assert chart.rows[1] == (10, 1.5, None)


def test_a_single_point_is_drawn_as_a_dot():
    chart = loss_chart(points([(100, 0.8, None)]))
    svg = str(chart.wide)
    assert "<polyline" not in svg
    assert svg.count('<circle class="chart__dot chart__line--train"') == 1
    assert "over 1 point;" in chart.description


def test_no_points_means_no_chart():
    chart = loss_chart([])
    assert not chart.has_data and str(chart.wide) == ""
    assert not loss_chart(points([(0, None, None)])).has_data


def test_axes_have_round_tick_labels_titles_and_accessible_names():
    chart = loss_chart(points([(0, 2.45, None), (500, 1.1, 1.2), (975, 0.32, 0.4)]), chart_id="x")
    svg = str(chart.wide)
    ticks = re.findall(r'class="chart__tick"[^>]*>([^<]+)<', svg)
    assert {"0", "1.0", "2.0", "500", "1,000"} <= set(ticks)
    assert 'aria-labelledby="x-wide-title x-wide-desc"' in svg
    assert ">Step</text>" in svg and ">Loss</text>" in svg
    assert ">Training loss</text>" in svg and ">Validation loss</text>" in svg
    assert not chart.log_scale


def test_a_blown_up_run_switches_to_a_log_axis():
    chart = loss_chart(points([(0, 2.0, None), (10, 1.5, None), (20, 3000.0, None), (30, 2_500_000.0, None)]))
    assert chart.log_scale
    ticks = re.findall(r'class="chart__tick"[^>]*>([^<]+)<', str(chart.wide))
    assert "1k" in ticks and "1M" in ticks
    assert "Loss (log scale)" in str(chart.wide)


def test_tick_helpers():
    assert linear_ticks(0.32, 2.45, 5) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert linear_ticks(1.0, 1.0, 5)[0] < 1.0 < linear_ticks(1.0, 1.0, 5)[-1]
    assert format_tick(0.25, 0.25) == "0.25" and format_tick(1500, 500) == "1,500"
