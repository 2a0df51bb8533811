"""Training health survives NaN, NULL, junk, disorder, duplicates, negative losses and 100k points."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from types import SimpleNamespace

import pytest

from artifacts.health.training_health import training_health
from pipeline.models import MetricsPoint
from tests.health.histories import assert_json_safe, check, curve, healthy, points, with_val


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


@pytest.mark.parametrize("shift", [-3.0, -2.5, 0.0])
def test_zero_and_negative_losses_never_crash(shift):
    train = [x + shift for x in curve(60)]  # some objectives go below zero
    val = [x + 0.1 if x is not None else None for x in with_val(train)]
    result = training_health(points(train, val))
    assert_json_safe(result)
    assert check(result, "diverged")["status"] in {"pass", "warn"}
    assert_json_safe(training_health(points([0.0] * 30, [0.0] * 30)))
