"""The seed's calculateQualityMetrics, boundary by boundary, plus diverged runs."""

import math

import pytest

from artifacts.health.quality import calculate_quality_metrics


def run(first: float, last: float, val: float | None = None):
    return calculate_quality_metrics(
        [
            {"training_loss": first, "validation_loss": None},
            {"training_loss": last, "validation_loss": val},
        ]
    )


def test_empty_history_is_unknown_with_score_three():
    assert calculate_quality_metrics([]) == {
        "overall_score": 3,
        "convergence_quality": "unknown",
        "final_training_loss": None,
        "final_validation_loss": None,
        "perplexity": None,
        "loss_improvement": None,
    }


@pytest.mark.parametrize(
    ("first", "last", "label", "score"),
    [
        (2.0, 0.49, "excellent", 5),  # < 0.5 and improvement 75.5% > 50
        (2.0, 0.5, "good", 4),  # 0.5 is not < 0.5
        (1.0, 0.49, "excellent", 5),  # improvement 51% > 50
        (0.98, 0.49, "good", 4),  # improvement exactly 50%: not > 50
        (2.0, 0.99, "good", 4),  # < 1.0, improvement 50.5%
        (2.0, 1.0, "fair", 3),  # 1.0 is not < 1.0
        (1.4, 0.98, "fair", 3),  # improvement exactly 30%: not > 30
        (1.5, 0.99, "good", 4),  # improvement 34%
        (2.5, 1.99, "fair", 3),  # < 2.0, improvement 20.4%
        (2.5, 2.0, "poor", 2),  # 2.0 is not < 2.0
        (2.0, 1.8, "poor", 2),  # improvement exactly 10%: not > 10
        (2.0, 1.79, "fair", 3),  # improvement 10.5%
        (0.3, 0.3, "poor", 2),  # no improvement at all: JS treats 0 as missing
        (0.3, 0.4, "poor", 2),  # got worse
    ],
)
def test_threshold_table(first, last, label, score):
    result = run(first, last)
    assert (result["convergence_quality"], result["overall_score"]) == (label, score)
    assert result["loss_improvement"] == pytest.approx((first - last) / first * 100)


def test_values_are_the_seeds_floats():
    result = run(2.4, 0.3, 0.45)
    assert result == {
        "overall_score": 5,
        "convergence_quality": "excellent",
        "final_training_loss": 0.3,
        "final_validation_loss": 0.45,
        "perplexity": math.exp(0.45),
        "loss_improvement": (2.4 - 0.3) / 2.4 * 100,
    }


@pytest.mark.parametrize(
    ("last", "val", "label", "score"),
    [
        (0.3, 0.81, "overfitting detected", 4),  # gap 0.51 > 0.5 drops excellent to 4
        (0.3, 0.8, "excellent", 5),  # gap exactly 0.5 is fine
        (1.9, 2.6, "overfitting detected", 2),  # fair 3 -> 2
        (1.95, 3.0, "overfitting detected", 2),  # fair (2.5 -> 1.95 is 22%) minus one
        (2.4, 3.5, "overfitting detected", 1),  # poor 2 -> 1
    ],
)
def test_overfitting_gap(last, val, label, score):
    result = run(2.5, last, val)
    assert (result["convergence_quality"], result["overall_score"]) == (label, score)


def test_poor_overfitting_never_goes_below_one():
    assert run(2.5, 2.45, 9.0)["overall_score"] == 1


def test_perplexity_follows_js_truthiness():
    assert run(2.0, 0.4, None)["perplexity"] is None
    assert run(2.0, 0.4, 0.0)["perplexity"] is None  # 0 is falsy in the seed
    assert run(2.0, 0.4, 1.0)["perplexity"] == pytest.approx(math.e)


def test_zero_initial_loss_has_no_improvement():
    result = run(0.0, 0.0)
    assert result["loss_improvement"] is None
    assert result["convergence_quality"] == "poor"


def test_final_point_decides_validation_loss():
    points = [
        {"training_loss": 2.0, "validation_loss": 2.1},
        {"training_loss": 0.4, "validation_loss": None},
    ]
    result = calculate_quality_metrics(points)
    assert result["final_validation_loss"] is None and result["perplexity"] is None


@pytest.mark.parametrize(
    "history",
    [
        [(2.0, None), (float("nan"), None)],
        [(2.0, None), (float("inf"), None)],
        [(float("nan"), None), (float("nan"), float("nan"))],
        [(2.0, None), (None, None)],  # a NaN stored as NULL (SQLite)
        [(2.0, None), (0.5, float("inf"))],  # validation blew up
        [(2.0, None), (float("nan"), None), (0.3, 0.35)],  # a NaN mid-run then "recovered"
    ],
)
def test_non_finite_losses_are_diverged_and_json_safe(history):
    import json

    result = calculate_quality_metrics([{"training_loss": t, "validation_loss": v} for t, v in history])
    assert result["overall_score"] == 1
    assert result["convergence_quality"] == "diverged"
    json.dumps(result, allow_nan=False)  # raises if any NaN/inf slipped through
