"""Training health over a run's course: overfitting with its onset, a loss still falling or long
flat, and loss spikes."""

from __future__ import annotations

from artifacts.health import thresholds as h
from artifacts.health.training_health import training_health
from artifacts.health.verdict import health_severity
from tests.health.histories import HEALTHY, check, curve, healthy, points, with_val

# --- overfitting -----------------------------------------------------------------------------


def overfit_run(rise_to=1.0, first_val=1.5):
    train = curve(100, start=2.5, end=0.2, rate=5)
    val = [None] * 100
    evals = {9: first_val, 19: 0.9, 29: 0.8, 39: 0.75, 49: 0.8, 59: 0.85, 69: 0.9, 79: 0.95, 89: rise_to, 99: rise_to}
    for i, v in evals.items():
        val[i] = v
    return points(train, val)


def test_overfitting_warns_with_its_onset_step():
    result = training_health(overfit_run())
    over = check(result, "overfitting")
    assert over["status"] == "warn"
    assert over["onset_step"] == 390 == result["best_step"]
    assert "step 390" in over["message"]
    assert "overfit at step 390" in result["summary"]
    # more epochs would make it worse, so "still improving" must not suggest them
    assert check(result, "still_improving")["status"] == "pass"
    assert "would not help" in check(result, "still_improving")["message"]


def test_overfitting_fails_when_validation_ends_worse_than_the_first_evaluation():
    over = check(training_health(overfit_run(rise_to=1.6, first_val=1.5)), "overfitting")
    assert over["status"] == "fail"
    assert "worse on held-out data" in over["message"]


def test_one_unlucky_evaluation_is_not_overfitting():
    data = overfit_run()
    for p in data:
        if p["validation_loss"] is not None and p["step"] > 390:
            p["validation_loss"] = 0.76
    data[-1]["validation_loss"] = 1.0  # a single high evaluation at the end: patience is 2
    assert check(training_health(data), "overfitting")["status"] == "pass"


def test_rise_within_the_threshold_is_not_overfitting():
    data = overfit_run()
    for p in data:
        if p["validation_loss"] is not None and p["step"] > 390:
            p["validation_loss"] = 0.75 + h.OVERFIT_MIN_RISE * 0.75  # exactly the threshold: not above it
    assert check(training_health(data), "overfitting")["status"] == "pass"


def test_validation_rising_with_training_rising_is_not_called_overfitting():
    train = [1.0 + 0.5 * i / 99 for i in range(100)]
    val = [None] * 100
    for i, v in {9: 1.1, 29: 1.2, 59: 1.3, 99: 1.6}.items():
        val[i] = v
    result = training_health(points(train, val))
    assert check(result, "overfitting")["status"] == "pass"
    assert check(result, "diverged")["status"] == "warn"


# --- still_improving / plateau ----------------------------------------------------------------


def test_still_improving_warns_when_the_loss_is_still_falling():
    result = training_health(points(curve(100, rate=2.0), with_val(curve(100, rate=2.0))))
    assert check(result, "still_improving")["status"] == "warn"
    assert "more epochs may help" in check(result, "still_improving")["message"]
    assert check(result, "plateau")["status"] == "pass"
    assert health_severity(result) == "warn"


def test_falling_training_loss_with_stalled_validation_does_not_ask_for_more_epochs():
    train = curve(100, rate=2.0)
    val = [None] * 100
    for i, v in {19: 1.5, 39: 1.2, 59: 1.1, 79: 1.12, 99: 1.13}.items():  # within 5%: not overfitting
        val[i] = v
    result = training_health(points(train, val))
    assert check(result, "overfitting")["status"] == "pass"
    improving = check(result, "still_improving")
    assert improving["status"] == "pass"
    assert "validation loss has not improved since step 590" in improving["message"]


def test_plateau_warns_when_most_of_the_run_was_flat():
    train = curve(100, rate=40.0)  # converged within the first ~15% of the run
    result = training_health(points(train, with_val(train)))
    plateau = check(result, "plateau")
    assert plateau["status"] == "warn"
    assert 0 < plateau["onset_step"] <= 300
    assert f"since step {plateau['onset_step']:,}" in plateau["message"]
    assert check(result, "still_improving")["status"] == "pass"


def test_a_loss_that_never_moved_is_a_plateau_from_the_start():
    train = [2.0 + 0.001 * ((i * 7) % 5) for i in range(100)]
    result = training_health(points(train))
    plateau = check(result, "plateau")
    assert plateau["status"] == "warn" and "learned little" in plateau["message"]
    assert plateau["onset_step"] == 0
    assert "barely moved" in result["summary"]


# --- loss_spikes -----------------------------------------------------------------------------


def test_loss_spikes_are_counted_with_their_steps():
    train = list(HEALTHY)
    for i in (30, 60, 61, 62, 80):  # 60-62 is one burst
        train[i] *= 2.0
    spikes = check(training_health(points(train, with_val(HEALTHY))), "loss_spikes")
    assert spikes["status"] == "warn"
    assert spikes["count"] == 3 and spikes["steps"] == [300, 600, 800]
    assert "300, 600 and 800" in spikes["message"]


def test_single_spike_reads_once():
    train = list(HEALTHY)
    train[50] *= 3
    spikes = check(training_health(points(train)), "loss_spikes")
    assert (spikes["count"], spikes["steps"]) == (1, [500])
    assert "spiked once, at step 500" in spikes["message"]


def test_no_spikes_on_a_smooth_run():
    spikes = check(training_health(healthy()), "loss_spikes")
    assert (spikes["status"], spikes["count"], spikes["steps"]) == ("pass", 0, [])


def test_listed_spike_steps_are_capped_but_the_count_is_not():
    train = [1.0] * 400
    for i in range(10, 400, 20):
        train[i] = 3.0
    spikes = check(training_health(points(train)), "loss_spikes")
    assert spikes["count"] == 20
    assert len(spikes["steps"]) == h.LISTED_SPIKES
    assert "and 10 more" in spikes["message"]
