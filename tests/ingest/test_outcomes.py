"""What an attempt comes to (``IngestOutcome``), and how the task layer acts on it."""

from __future__ import annotations

import ast
import json
from io import StringIO
from pathlib import Path

import pytest
import responses
from django.conf import settings as django_settings
from django.core.management import call_command

from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.services.ingest import IngestOutcome, Outcome, ingest
from artifacts.tasks import ingest_job
from pipeline.models import TrainingJob
from tests.factories import make_artifact, make_job
from tests.ingest_fakes import API, serve

LISTING_URL = f"{API}/training/artifacts/ext-1"


pytestmark = pytest.mark.usefixtures("fake_cluster")


@pytest.mark.django_db
@responses.activate
def test_a_stored_job_reports_its_artifact(job):
    serve(responses)
    result = ingest(job)
    artifact = ModelArtifact.objects.get(job=job)
    assert (result.outcome, result.artifact_id, result.success, result.skipped) == (
        Outcome.STORED,
        str(artifact.id),
        True,
        False,
    )
    assert result.as_seed_result() == {"job_id": str(job.id), "artifact_id": str(artifact.id), "success": True}


@pytest.mark.django_db
@responses.activate
def test_a_job_that_has_its_artifact_is_skipped_as_done_without_asking_the_cluster(job, alice):
    artifact = make_artifact(alice, job)
    TrainingJob.objects.filter(pk=job.pk).update(artifact=artifact)
    job.refresh_from_db()
    result = ingest(job)
    assert result.outcome is Outcome.SKIPPED_DONE and result.skipped and not result.success
    assert len(responses.calls) == 0


@pytest.mark.django_db
@responses.activate
def test_a_claim_that_finds_the_artifact_already_recorded_closes_the_record(job, alice):
    artifact = make_artifact(alice, job)
    TrainingJob.objects.filter(pk=job.pk).update(artifact=artifact)  # recorded by a worker we do not see
    result = ingest(job)  # ``job`` is the stale copy read before that worker finished
    assert result.outcome is Outcome.SKIPPED_DONE
    assert ArtifactIngest.objects.get(job=job).state == "succeeded"
    assert len(responses.calls) == 0


@pytest.mark.django_db
@responses.activate
def test_a_job_another_worker_holds_is_skipped_as_busy(job):
    assert ArtifactIngest.objects.claim(job, "worker-a") is not None
    result = ingest(job)
    assert result.outcome is Outcome.SKIPPED_BUSY and result.skipped
    assert len(responses.calls) == 0


@pytest.mark.django_db
@responses.activate
def test_a_retry_outcome_carries_the_backoff_the_record_holds(job):
    responses.add(responses.GET, LISTING_URL, status=404)
    result = ingest(job)
    assert result.outcome is Outcome.RETRY and not result.skipped
    assert 60 <= result.retry_in <= 75  # ARTIFACT_RETRY_BASE_SECONDS with up to 25% jitter
    row = ArtifactIngest.objects.get(job=job)
    assert abs((row.next_attempt_at - row.updated_at).total_seconds() - result.retry_in) < 1
    assert result.as_seed_result() == {"job_id": str(job.id), "success": False, "error": result.error}


@pytest.mark.django_db
@responses.activate
def test_a_failed_outcome_has_no_retry(job):
    responses.add(responses.GET, LISTING_URL, status=401)
    result = ingest(job)
    assert result.outcome is Outcome.FAILED and result.retry_in is None and not result.skipped


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "queued"),
    [
        (lambda job_id: IngestOutcome.stored(job_id, "a"), False),
        (lambda job_id: IngestOutcome.skipped_done(job_id, "done"), False),
        (lambda job_id: IngestOutcome.skipped_busy(job_id, "busy"), False),
        (lambda job_id: IngestOutcome.failed(job_id, "no"), False),
        (lambda job_id: IngestOutcome.retry(job_id, "later", seconds=90), True),
    ],
)
def test_only_a_retry_outcome_queues_a_task(job, make, queued, enqueued, django_capture_on_commit_callbacks):
    from artifacts.tasks import follow_up

    with django_capture_on_commit_callbacks(execute=True):
        follow_up(make(str(job.id)))
    assert [e["options"].get("countdown") for e in enqueued] == ([90] if queued else [])
    assert (ArtifactIngest.objects.filter(job=job, enqueued_at__isnull=False).exists()) is queued


@pytest.mark.django_db
@responses.activate
def test_the_task_queues_nothing_after_a_stored_or_failed_attempt(job, enqueued, django_capture_on_commit_callbacks):
    serve(responses)
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest_job(str(job.id)).outcome is Outcome.STORED
    other = make_job(job.user, external_job_id="ext-refused")
    responses.add(responses.GET, f"{API}/training/artifacts/ext-refused", status=403)
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest_job(str(other.id)).outcome is Outcome.FAILED
    assert enqueued == []


@pytest.mark.django_db
def test_the_task_returns_quietly_for_a_job_that_is_gone(enqueued):
    assert ingest_job("00000000-0000-0000-0000-000000000000") is None
    assert enqueued == []


@pytest.mark.django_db
@responses.activate
def test_a_failed_attempt_of_the_command_is_retried_by_a_worker(job, enqueued, django_capture_on_commit_callbacks):
    responses.add(responses.GET, LISTING_URL, status=404)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("create_model_artifacts", stdout=out)
    assert json.loads(out.getvalue())["results"][0]["success"] is False
    assert [e["args"] for e in enqueued] == [[str(job.id)]]
    assert 60 <= enqueued[0]["options"]["countdown"] <= 75


def test_services_never_import_the_task_layer():
    """tasks imports services, never the reverse: no import loop, no Celery in the decisions."""
    services = Path(django_settings.BASE_DIR) / "artifacts" / "services"
    offenders = []
    for path in sorted(services.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "celery" or n == "artifacts.tasks"]
    assert offenders == []
