"""Training health at ingest (DESIGN §11) for the demo's runs, the recompute command, default names
and the ``artifact_ready`` message that names the model and its health."""

from __future__ import annotations

from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from django.utils import timezone

from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.verdict import ready_message
from artifacts.models import ModelArtifact
from artifacts.services.ingest import ingest
from pipeline.models import Notification, TrainingJob
from tests.factories import make_artifact, make_dataset, make_job
from tests.health_runs import demo_job
from tests.ingest_fakes import serve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_cluster")]


def checks(artifact) -> dict[str, dict]:
    return {c["code"]: c for c in artifact.training_health["checks"]}


def ingest_demo(user, slug: str) -> ModelArtifact:
    job = demo_job(user, slug, external_job_id="ext-1")
    with responses.RequestsMock() as rsps:
        serve(rsps)
        assert ingest(job).success
    return ModelArtifact.objects.get(job=job)


def seed_score(artifact) -> dict:
    points = list(artifact.job.metrics_points.order_by("timestamp", "step").values("training_loss", "validation_loss"))
    return calculate_quality_metrics(points)


def test_overfit_demo_run_is_judged_overfit_at_ingest_and_the_seed_score_is_untouched(alice):
    artifact = ingest_demo(alice, "overfitting")
    found = checks(artifact)
    assert found["overfitting"]["status"] in {"warn", "fail"}
    onset = found["overfitting"]["onset_step"]
    assert artifact.training_health["best_step"] == onset
    assert f"step {onset:,}" in artifact.training_health["summary"]
    assert found["diverged"]["status"] == "pass" and found["no_validation"]["status"] == "pass"
    # The seed's stars and metrics are exactly what its rule gives.
    assert artifact.quality_metrics == seed_score(artifact)
    assert artifact.quality_score == artifact.quality_metrics["overall_score"]
    note = Notification.objects.get(type="artifact_ready")
    assert note.title == "Model Ready, with Warnings"  # the run overfits: the verdict warns
    assert artifact.name in note.message and "overfit" in note.message
    assert note.message.endswith(f"Quality score: {artifact.quality_score}/5 stars")


def test_no_validation_demo_run_says_it_rests_on_training_loss(alice):
    artifact = ingest_demo(alice, "no-validation")
    found = checks(artifact)
    assert found["no_validation"]["status"] == "warn"
    assert "training loss alone" in found["no_validation"]["message"]
    assert "overfitting" not in found  # cannot be judged without validation data
    assert artifact.training_health["best_step"] is None
    assert artifact.training_health["best_validation_loss"] is None
    assert artifact.quality_metrics["convergence_quality"] == "excellent"  # the seed's label stays
    note = Notification.objects.get(type="artifact_ready")
    assert "no validation loss was logged" in note.message


def test_diverged_demo_run_fails_the_divergence_check_and_is_not_announced_as_ready(alice):
    artifact = ingest_demo(alice, "diverged")
    found = checks(artifact)
    assert found["diverged"]["status"] == "fail"
    assert "NaN" in found["diverged"]["message"]
    assert artifact.quality_score == 1
    note = Notification.objects.get(type="artifact_ready")
    assert (note.title, note.priority) == ("Model Unusable as Delivered", "high")  # the verdict first
    assert artifact.verdict == "unusable"
    assert "is ready" not in note.message and "diverged" in note.message
    assert artifact.name in note.message


def test_health_is_written_in_the_same_transaction_as_the_artifact(alice):
    artifact = ingest_demo(alice, "good")
    assert artifact.training_health is not None
    assert set(artifact.training_health) == {
        "summary",
        "best_step",
        "best_validation_loss",
        "smoothed_final_training_loss",
        "smoothed_final_validation_loss",
        "checks",
    }
    assert all(set(c) >= {"code", "status", "message"} for c in artifact.training_health["checks"])


def test_same_day_runs_on_one_dataset_get_distinct_default_names(alice):
    dataset = make_dataset(alice, name="Python Code Review Pairs")
    names = []
    for i, rank in enumerate((16, 16, 32)):
        TrainingJob.objects.filter(external_job_id="ext-1").update(external_job_id=f"done-{i}")
        job = make_job(
            alice,
            dataset,
            external_job_id="ext-1",
            hyperparameters={"rank": rank, "learning_rate": 2e-4},
        )
        with responses.RequestsMock() as rsps:
            serve(rsps)
            assert ingest(job).success
        names.append(ModelArtifact.objects.get(job=job).name)
    day = timezone.localdate(job.completed_at).isoformat()
    assert names == [
        f"Python Code Review Pairs · balanced · r16 · {day}",
        f"Python Code Review Pairs · balanced · r16 · {day} (2)",
        f"Python Code Review Pairs · balanced · r32 · {day}",
    ]


def test_another_users_names_do_not_take_a_default_name(alice, bob):
    make_artifact(bob, name=f"Support chats · balanced · r16 · {timezone.localdate().isoformat()}")
    job = make_job(alice, make_dataset(alice, name="Support chats"), external_job_id="ext-1")
    with responses.RequestsMock() as rsps:
        serve(rsps)
        assert ingest(job).success
    assert ModelArtifact.objects.get(job=job).name.endswith(timezone.localdate().isoformat())


def test_recompute_health_fills_in_existing_artifacts_and_leaves_the_score(alice):
    job = demo_job(alice, "overfitting", external_job_id="ext-9")
    artifact = make_artifact(alice, job=job, score=4)
    before = dict(artifact.quality_metrics)
    assert artifact.training_health is None
    out = StringIO()
    call_command("recompute_health", "--all", stdout=out)
    artifact.refresh_from_db()
    assert checks(artifact)["overfitting"]["status"] in {"warn", "fail"}
    assert artifact.quality_metrics == before and artifact.quality_score == 4
    assert "Recomputed the training health of 1 artifact(s)." in out.getvalue()

    call_command("recompute_health", str(artifact.pk), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("recompute_health", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("recompute_health", "not-a-uuid", stdout=StringIO())


def test_ready_message_names_an_unusable_adapters_reason():
    inspection = {
        "verdict": "unusable",
        "findings": [{"code": "untrained_lora_b", "severity": "error", "message": "Every lora_B is all zeros."}],
    }
    message = ready_message("m1", 4, {"checks": []}, {}, inspection)
    assert message.startswith('"m1" is stored but not ready to use. Warning: this adapter loads but is unusable')
    assert "lora_B" in message and "is ready" not in message
