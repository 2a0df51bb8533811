"""Multi-series chart geometry for the compare page: one path per model, breaks, log scale."""

from __future__ import annotations

import math

from artifacts.charts.compare import ModelSeries, multi_chart


def test_one_path_per_series_with_a_break_at_each_gap():
    chart = multi_chart(
        "c",
        "Training loss",
        [
            ModelSeries("a", 0, "A", [(0, 2.0), (10, 1.0), (20, None), (30, 0.8), (40, 0.7)]),
            ModelSeries("b", 1, "B", [(0, 2.2), (10, 1.5)]),
        ],
    )
    assert chart.has_data and not chart.log_scale
    for plot in (chart.wide, chart.compact):
        assert plot is not None
        a, b = plot.series
        assert (a.model_id, a.css, b.css) == ("a", "series-0", "series-1")
        assert a.path.count("M") == 2 and b.path.count("M") == 1  # the gap breaks A's line
        assert plot.x_ticks[0].label == "0" and plot.x_ticks[-1].label == "40"
    assert "Model A: from 2.0000 at step 0 to 0.7000 at step 40, lowest 0.7000." in chart.description


def test_a_blown_up_run_turns_the_axis_logarithmic_and_nan_is_a_gap():
    chart = multi_chart(
        "c",
        "Loss",
        [ModelSeries("a", 0, "A", [(0, 2.0), (10, 5000.0), (20, math.nan)]), ModelSeries("b", 1, "B", [(0, 1.0)])],
    )
    assert chart.log_scale and chart.wide is not None
    assert chart.wide.y_title == "Loss (log scale)"
    single = chart.wide.series[1]
    assert single.path == "" and len(single.dots) == 1  # a lone point is a dot, not a line


def test_nothing_recorded_draws_nothing():
    chart = multi_chart("c", "Loss", [ModelSeries("a", 0, "A", []), ModelSeries("b", 1, "B", [(0, None)])])
    assert not chart.has_data and chart.wide is None and chart.compact is None
