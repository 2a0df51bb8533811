"""Training health of the demo's runs, read from their histories and from the database rows."""

from __future__ import annotations

import pytest

from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.training_health import training_health
from artifacts.health.verdict import download_warning, improvement_is_good, rating_caveat
from pipeline.demo_data import JOBS, load_demo_data
from pipeline.models import TrainingJob
from tests.health.histories import assert_json_safe, check, demo_points


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
