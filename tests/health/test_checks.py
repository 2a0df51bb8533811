"""Training health, check by check: the report's shape, smoothing, a diverged run, and too short
or unvalidated histories."""

from __future__ import annotations

import math

import pytest

from artifacts.health.loss_history import SMOOTHING_WEIGHT, smooth
from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.thresholds import MIN_TRAINING_POINTS, MIN_VALIDATION_POINTS
from artifacts.health.training_health import training_health
from artifacts.health.verdict import health_severity, rating_caveat
from tests.health.histories import HEALTHY, assert_json_safe, check, codes, curve, healthy, points, with_val

# --- shape -----------------------------------------------------------------------------------


def test_healthy_run_passes_every_check_and_has_the_contract_shape():
    result = training_health(healthy())
    assert set(result) == {
        "summary",
        "best_step",
        "best_validation_loss",
        "smoothed_final_training_loss",
        "smoothed_final_validation_loss",
        "checks",
    }
    assert codes(result) == [
        "diverged",
        "few_points",
        "no_validation",
        "overfitting",
        "still_improving",
        "plateau",
        "loss_spikes",
    ]
    assert {c["status"] for c in result["checks"]} == {"pass"}
    assert health_severity(result) == "pass"
    assert "no sign of overfitting" in result["summary"]
    assert result["best_validation_loss"] == pytest.approx(HEALTHY[-1] + 0.1)
    assert result["best_step"] == 990
    assert_json_safe(result)


def test_best_validation_is_the_lowest_raw_value_not_the_last():
    train = curve(60)
    val = [None] * 60
    for i, v in [(9, 1.5), (19, 0.9), (29, 0.7), (39, 0.71), (49, 0.72), (59, 0.74)]:
        val[i] = v
    result = training_health(points(train, val))
    assert (result["best_step"], result["best_validation_loss"]) == (290, 0.7)


# --- smoothing -------------------------------------------------------------------------------


def test_smooth_is_the_debiased_ema_with_the_named_weight():
    b = SMOOTHING_WEIGHT
    xs = [3.0, 1.0, 2.0]
    e1 = (1 - b) * 3.0
    e2 = b * e1 + (1 - b) * 1.0
    e3 = b * e2 + (1 - b) * 2.0
    assert smooth(xs) == pytest.approx([e1 / (1 - b), e2 / (1 - b**2), e3 / (1 - b**3)])
    assert smooth([5.0])[0] == pytest.approx(5.0)  # debiased: the first value is not pulled to 0
    assert smooth([2.0] * 50) == pytest.approx([2.0] * 50)
    assert smooth([1.0, math.nan, math.inf, 1.0]) == pytest.approx([1.0, 1.0])  # non-finite skipped


def test_smoothed_finals_are_reported_for_both_series():
    result = training_health(healthy())
    assert result["smoothed_final_training_loss"] == pytest.approx(smooth(HEALTHY)[-1])
    vals = [v for v in with_val(HEALTHY) if v is not None]
    assert result["smoothed_final_validation_loss"] == pytest.approx(smooth(vals)[-1])


# --- diverged --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_train", "bad_val"),
    [(math.nan, None), (None, None), (math.inf, None), (-math.inf, None), (1.0, math.nan), (1.0, math.inf)],
)
def test_nonfinite_loss_fails_diverged_and_names_the_step(bad_train, bad_val):
    data = healthy()
    data[42]["training_loss"], data[42]["validation_loss"] = bad_train, bad_val
    result = training_health(data)
    diverged = check(result, "diverged")
    assert diverged["status"] == "fail"
    assert "step 420" in diverged["message"]
    assert health_severity(result) == "fail"
    assert result["summary"] == diverged["message"]
    # a diverged run has no trend to read; spikes are still reported
    assert codes(result) == ["diverged", "few_points", "no_validation", "loss_spikes"]
    assert_json_safe(result)


def test_finite_blow_up_fails_diverged():
    train = [1.0 + 3.0 * i / 59 for i in range(60)]  # 1.0 -> 4.0
    diverged = check(training_health(points(train)), "diverged")
    assert diverged["status"] == "fail"
    assert "blew up" in diverged["message"]


def test_loss_ending_above_its_start_warns():
    train = [1.0 + 0.3 * i / 59 for i in range(60)]  # 1.0 -> 1.3: worse, not exploded
    result = training_health(points(train))
    assert check(result, "diverged")["status"] == "warn"
    assert result["summary"].startswith("Training made the model worse")


def test_blow_up_boundary_is_exactly_the_ratio():
    # start level = 1.0 (first 5%), end level = 2.0 (last 5%): exactly BLOWUP_RATIO -> fail
    train = [1.0] * 10 + [1.5] * 80 + [2.0] * 10
    assert check(training_health(points(train)), "diverged")["status"] == "fail"
    train = [1.0] * 10 + [1.5] * 80 + [1.99] * 10
    assert check(training_health(points(train)), "diverged")["status"] == "warn"


# --- few_points / no_validation --------------------------------------------------------------


def test_no_points_at_all():
    result = training_health([])
    assert result == {
        "summary": "No training history was recorded, so this run cannot be judged.",
        "best_step": None,
        "best_validation_loss": None,
        "smoothed_final_training_loss": None,
        "smoothed_final_validation_loss": None,
        "checks": result["checks"],
    }
    assert codes(result) == ["diverged", "few_points", "no_validation"]
    assert check(result, "few_points")["status"] == "warn"
    assert check(result, "diverged")["status"] == "pass"
    assert_json_safe(result)


def test_a_single_point():
    result = training_health([{"step": 0, "epoch": 0, "training_loss": 2.0, "validation_loss": 2.1}])
    assert check(result, "few_points")["status"] == "warn"
    assert result["smoothed_final_training_loss"] == pytest.approx(2.0)
    assert result["best_step"] == 0
    assert "too little history" in result["summary"]
    assert_json_safe(result)


def test_few_points_boundary():
    short = training_health(points(curve(MIN_TRAINING_POINTS - 1)))
    enough = training_health(points(curve(MIN_TRAINING_POINTS)))
    assert check(short, "few_points")["status"] == "warn"
    assert "still_improving" not in codes(short)
    assert check(enough, "few_points")["status"] == "pass"
    assert {"still_improving", "plateau", "loss_spikes"} <= set(codes(enough))


def test_too_few_validation_points_warn_and_skip_overfitting():
    train = curve(50)
    val = [None] * 50
    val[20], val[49] = 1.0, 1.2
    result = training_health(points(train, val))
    few = check(result, "few_points")
    assert few["status"] == "warn" and "2 steps" in few["message"]
    assert check(result, "no_validation")["status"] == "pass"
    assert "overfitting" not in codes(result)
    val[35] = 1.1  # MIN_VALIDATION_POINTS evaluations: now judged
    assert MIN_VALIDATION_POINTS == 3
    assert "overfitting" in codes(training_health(points(train, val)))


def test_no_validation_warns_and_qualifies_the_rating():
    train = curve(100, end=0.4)
    result = training_health(points(train))
    assert check(result, "no_validation")["status"] == "warn"
    assert "overfitting" not in codes(result)
    assert "no validation loss was logged" in result["summary"]
    quality = calculate_quality_metrics(points(train))
    assert quality["convergence_quality"] == "excellent"
    assert rating_caveat(result, quality) == "Rated on training loss alone: no validation loss was logged."
    assert rating_caveat(training_health(points(train, with_val(train))), quality) is None
