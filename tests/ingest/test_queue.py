"""Queueing: job completion, beat's sweep and the create_model_artifacts command."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.utils import timezone

from artifacts.api.webhooks import TrainingCompleteView
from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.tasks import queue_due_jobs
from pipeline.models import TrainingJob
from tests.factories import make_job
from tests.ingest_fakes import API, serve

pytestmark = pytest.mark.usefixtures("fake_cluster")


@pytest.mark.django_db
def test_job_becoming_completed_is_queued_after_commit(alice, enqueued, django_capture_on_commit_callbacks):
    job = make_job(alice, status="running", external_job_id="ext-signal", completed_at=None)
    enqueued.clear()
    completed = {"external_job_id": "ext-signal", "status": TrainingJob.Status.COMPLETED}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        TrainingCompleteView.apply(completed)  # what the cluster's webhook does
        assert enqueued == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert [e["args"] for e in enqueued] == [[str(job.id)]]
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        TrainingCompleteView.apply({**completed, "current_step": 999})  # already completed: no second enqueue
    assert enqueued == []


@pytest.mark.django_db
def test_the_sweep_does_not_queue_a_job_again_while_its_message_is_pending(
    alice, enqueued, django_capture_on_commit_callbacks
):
    job = make_job(alice, external_job_id="ext-queued")
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_due_jobs() == 1
    assert ArtifactIngest.objects.get(job=job).enqueued_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_due_jobs() == 0  # two minutes later: still on its way
    ArtifactIngest.objects.filter(job=job).update(enqueued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_due_jobs() == 1  # lost message: the safety net queues it again
    assert len(enqueued) == 2


@pytest.mark.django_db
def test_sweep_queues_one_task_per_due_job(alice, enqueued, django_capture_on_commit_callbacks):
    due = [make_job(alice, external_job_id=f"ext-due-{i}") for i in range(3)]
    later = make_job(alice, external_job_id="ext-later")
    ArtifactIngest.objects.create(job=later, state="retrying", next_attempt_at=timezone.now() + timedelta(hours=1))
    failed = make_job(alice, external_job_id="ext-failed")
    ArtifactIngest.objects.create(job=failed, state="failed")
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_due_jobs() == 3
    assert sorted(e["args"][0] for e in enqueued) == sorted(str(j.id) for j in due)


@pytest.mark.django_db
def test_sweep_task_runs_the_sweep(alice, enqueued, django_capture_on_commit_callbacks):
    from artifacts.tasks import sweep_completed_jobs

    make_job(alice, external_job_id="ext-task")
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_completed_jobs() == 1
    assert len(enqueued) == 1


@pytest.mark.django_db
@responses.activate
def test_create_model_artifacts_command_prints_the_seeds_json(job, alice):
    bad = make_job(alice, external_job_id="ext-bad")
    serve(responses)
    responses.add(responses.GET, f"{API}/training/artifacts/ext-bad", body="oops", content_type="text/plain")
    out = StringIO()
    call_command("create_model_artifacts", stdout=out)
    report = json.loads(out.getvalue())
    artifact = ModelArtifact.objects.get(job=job)
    assert report["success"] is True and report["processed"] == 2
    assert {"job_id": str(job.id), "artifact_id": str(artifact.id), "success": True} in report["results"]
    assert {
        "job_id": str(bad.id),
        "success": False,
        "error": "GPU cluster returned a listing that is not JSON",
    } in report["results"]
