"""Training health: every check passes and warns/fails on purpose-built histories and on the
demo's runs; the reading survives NaN, NULL, junk, disorder, duplicates and 100k points."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from types import SimpleNamespace

import pytest

from artifacts.health import checks as h
from artifacts.health.checks import (
    MIN_TRAINING_POINTS,
    MIN_VALIDATION_POINTS,
    download_warning,
    headline_facts,
    health_severity,
    improvement_is_good,
    rating_caveat,
    training_health,
)
from artifacts.health.loss_history import SMOOTHING_WEIGHT, smooth
from artifacts.health.quality import calculate_quality_metrics
from pipeline.demo_data import JOBS, load_demo_data, loss_history
from pipeline.models import MetricsPoint, TrainingJob


def points(train, val=None, every=1, start=0, stride=10):
    """Points at steps start, start+stride, …; val(i) or a list aligned with train, None = not logged."""
    out = []
    for i, loss in enumerate(train):
        if callable(val):
            v = val(i)
        elif val is None:
            v = None
        else:
            v = val[i]
        out.append({"step": start + i * stride, "epoch": i / len(train), "training_loss": loss, "validation_loss": v})
    return out


def curve(n, start=2.5, end=0.5, rate=8.0):
    return [end + (start - end) * math.exp(-rate * i / (n - 1)) for i in range(n)]


def with_val(train, gap=0.1, every=10):
    return [t + gap if i % every == every - 1 or i == len(train) - 1 else None for i, t in enumerate(train)]


def demo_points(slug):
    job = next(j for j in JOBS if j.slug == slug)
    history = loss_history(job)
    return [
        {
            "step": step,
            "epoch": round(3 * i / len(history), 3),
            # stored as the database stores it: a non-finite training loss is NULL
            "training_loss": train if math.isfinite(train) else None,
            "validation_loss": val,
        }
        for i, (step, train, val) in enumerate(history)
    ]


def check(result, code):
    found = [c for c in result["checks"] if c["code"] == code]
    assert len(found) <= 1
    return found[0] if found else None


def codes(result):
    return [c["code"] for c in result["checks"]]


def assert_json_safe(result):
    json.dumps(result, allow_nan=False)
    assert isinstance(result["summary"], str) and result["summary"].endswith(".")
    assert result["summary"].count(". ") == 0  # one sentence
    for c in result["checks"]:
        assert c["status"] in {"pass", "warn", "fail"}
        assert c["message"] and c["message"][0].isupper() and c["message"].endswith(".")


HEALTHY = curve(100)


def healthy():
    return points(HEALTHY, with_val(HEALTHY))


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


# --- robustness ------------------------------------------------------------------------------


def test_order_and_duplicates_do_not_change_the_reading():
    data = healthy()
    shuffled = list(data)
    random.Random(7).shuffle(shuffled)
    assert training_health(shuffled) == training_health(data)
    # a resumed run re-logs steps 500-590: the later records win
    resumed = data + [dict(p, training_loss=p["training_loss"] + 0.0) for p in data[50:60]]
    assert training_health(resumed) == training_health(data)
    rewritten = data + [dict(data[99], training_loss=9.0)]
    assert (
        training_health(rewritten)["smoothed_final_training_loss"]
        > training_health(data)["smoothed_final_training_loss"]
    )


def test_objects_with_attributes_are_read_like_dicts():
    data = healthy()
    objects = [SimpleNamespace(**p) for p in data]
    models = [MetricsPoint(**p) for p in data]  # unsaved rows, as a queryset would yield them
    assert training_health(objects) == training_health(data) == training_health(models)


@pytest.mark.parametrize(
    "junk",
    ["1.0", b"x", [1], {"a": 1}, True, object(), Decimal("NaN"), 10**400, -(10**400)],
)
def test_junk_values_never_crash_and_stay_json_safe(junk):
    data = healthy()
    data[10]["training_loss"] = junk
    data[11]["validation_loss"] = junk
    data[12]["step"] = junk
    data[13]["epoch"] = junk
    assert_json_safe(training_health(data))


def test_missing_fields_and_decimal_values():
    data = [{"training_loss": Decimal("2.0") - Decimal(i) / 100} for i in range(30)]  # no step: input order
    result = training_health(data)
    assert check(result, "diverged")["status"] == "pass"
    assert check(result, "no_validation")["status"] == "warn"
    assert_json_safe(result)


def test_all_nan_history():
    result = training_health(points([math.nan] * 20))
    assert check(result, "diverged")["status"] == "fail"
    assert result["smoothed_final_training_loss"] is None
    assert_json_safe(result)


def test_hundred_thousand_noisy_points_complete_without_false_alarms():
    rng = random.Random(3)
    n = 100_000
    data = [
        {
            "step": i,
            "epoch": i / 10_000,
            "training_loss": 0.5 + 2 * math.exp(-i / 10_000) + rng.gauss(0, 0.05),
            "validation_loss": 0.6 + 2 * math.exp(-i / 10_000) if i % 1000 == 999 else None,
        }
        for i in range(n)
    ]
    result = training_health(data)
    assert "100,000 training" in check(result, "few_points")["message"]
    assert check(result, "loss_spikes")["count"] == 0  # Gaussian noise is not a spike
    assert check(result, "overfitting")["status"] == "pass"
    assert_json_safe(result)


# --- the demo's runs -------------------------------------------------------------------------


def test_demo_overfitting_run():
    data = demo_points("overfitting")
    result, quality = training_health(data), calculate_quality_metrics(data)
    over = check(result, "overfitting")
    assert over["status"] == "warn"
    assert over["onset_step"] == result["best_step"] == 475
    assert quality["convergence_quality"] == "overfitting detected"
    assert improvement_is_good(result, quality) is False
    assert "overfits after step 475" in rating_caveat(result, quality)


def test_demo_no_validation_run():
    data = demo_points("no-validation")
    result, quality = training_health(data), calculate_quality_metrics(data)
    assert check(result, "no_validation")["status"] == "warn"
    assert quality["convergence_quality"] == "excellent"
    # the stars say "excellent", so the page must qualify them
    assert rating_caveat(result, quality) == "Rated on training loss alone: no validation loss was logged."
    assert improvement_is_good(result, quality) is True


def test_demo_diverged_run():
    data = demo_points("diverged")
    result, quality = training_health(data), calculate_quality_metrics(data)
    diverged = check(result, "diverged")
    assert diverged["status"] == "fail"
    assert "step 925" in diverged["message"]  # the first NaN of the demo's run
    assert quality["convergence_quality"] == "diverged"
    assert improvement_is_good(result, quality) is False
    assert download_warning(result).startswith(diverged["message"])
    assert rating_caveat(result, quality) == "This run diverged, so its rating says little about the adapter."


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.slug)
def test_health_never_contradicts_the_seed_label(job):
    data = demo_points(job.slug)
    result, quality = training_health(data), calculate_quality_metrics(data)
    assert_json_safe(result)
    assert (check(result, "diverged")["status"] == "fail") == (quality["convergence_quality"] == "diverged")
    if quality["convergence_quality"] in {"diverged", "overfitting detected"}:
        assert not improvement_is_good(result, quality)
    if job.slug in {"excellent", "good", "fair", "good-code"}:
        assert improvement_is_good(result, quality)
        assert check(result, "overfitting")["status"] == "pass"
        assert download_warning(result) is None


@pytest.mark.django_db
def test_demo_rows_from_the_database():
    load_demo_data()
    diverged = TrainingJob.objects.get(external_job_id="sim-demo-diverged")
    rows = list(diverged.metrics_points.all())
    assert any(r.training_loss is None for r in rows)  # how SQLite keeps the NaN
    assert check(training_health(rows), "diverged")["status"] == "fail"
    overfit = TrainingJob.objects.get(external_job_id="sim-demo-overfitting")
    assert check(training_health(overfit.metrics_points.all()), "overfitting")["status"] == "warn"


# --- headline helpers ------------------------------------------------------------------------


def test_improvement_is_good_needs_a_positive_finite_improvement():
    result = training_health(healthy())
    assert improvement_is_good(result, {"loss_improvement": 60.0, "convergence_quality": "good"})
    for bad in (None, 0, -5.0, math.nan, math.inf, "60"):
        assert not improvement_is_good(result, {"loss_improvement": bad, "convergence_quality": "good"})


def test_helpers_tolerate_malformed_health():
    for broken in ({}, {"checks": None}, {"checks": [None, {"code": 1}, {"code": "diverged"}]}):
        assert health_severity(broken) == "pass"
        assert download_warning(broken) is None
        assert rating_caveat(broken, {}) is None


def test_severity_is_the_worst_status():
    assert health_severity({"checks": [{"code": "a", "status": "warn"}, {"code": "b", "status": "pass"}]}) == "warn"
    assert health_severity({"checks": [{"code": "a", "status": "warn"}, {"code": "b", "status": "fail"}]}) == "fail"


def test_headline_facts_bundle_the_helpers():
    data = demo_points("diverged")
    result, quality = training_health(data), calculate_quality_metrics(data)
    facts = headline_facts(result, quality)
    assert facts == {
        "severity": "fail",
        "improvement_is_good": False,
        "rating_caveat": rating_caveat(result, quality),
        "download_warning": download_warning(result),
    }
    assert facts["download_warning"] is not None
    healthy_facts = headline_facts(
        training_health(healthy()), {"loss_improvement": 80.0, "convergence_quality": "good"}
    )
    assert healthy_facts == {
        "severity": "pass",
        "improvement_is_good": True,
        "rating_caveat": None,
        "download_warning": None,
    }


@pytest.mark.parametrize("shift", [-3.0, -2.5, 0.0])
def test_zero_and_negative_losses_never_crash(shift):
    train = [x + shift for x in curve(60)]  # some objectives go below zero
    val = [x + 0.1 if x is not None else None for x in with_val(train)]
    result = training_health(points(train, val))
    assert_json_safe(result)
    assert check(result, "diverged")["status"] in {"pass", "warn"}
    assert_json_safe(training_health(points([0.0] * 30, [0.0] * 30)))
