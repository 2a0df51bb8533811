"""One worker per job: leases, take-overs, killed workers and the task time limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.services.ingest import awaiting_jobs, ingest
from artifacts.tasks import ingest_job
from pipeline.models import Notification
from tests.factories import make_job
from tests.ingest_fakes import API, FILES, STORAGE_HOST, listing, serve, stored_files

pytestmark = pytest.mark.usefixtures("fake_cluster")


@pytest.mark.django_db
@responses.activate
def test_a_live_lease_blocks_a_second_worker_and_an_expired_one_does_not(job):
    assert ArtifactIngest.objects.claim(job, "worker-a") is not None  # worker A claims, then "dies" mid-transfer
    serve(responses)
    assert ingest(job).skipped  # lease still valid: worker B stays away
    ArtifactIngest.objects.filter(job=job).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert job in awaiting_jobs()  # the sweep sees it again
    result = ingest(job)
    assert result.success, result.error
    assert ArtifactIngest.objects.get(job=job).attempts == 2
    assert ModelArtifact.objects.filter(job=job).count() == 1
    assert Notification.objects.filter(type="artifact_ready").count() == 1


@pytest.mark.django_db
@responses.activate
def test_a_worker_whose_lease_was_taken_over_stands_down_and_leaves_the_prefix_to_the_new_owner(job, artifact_root):
    def steal(request):
        ArtifactIngest.objects.filter(job=job).update(lease_token="someone-else")
        return (200, {}, FILES["tokenizer_config.json"])

    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", json=listing())
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        responses.add(responses.GET, f"{STORAGE_HOST}/ext-1/{name}", body=FILES[name])
    responses.add_callback(responses.GET, f"{STORAGE_HOST}/ext-1/tokenizer_config.json", callback=steal)
    result = ingest(job)
    assert result.skipped and not result.success
    assert not ModelArtifact.objects.exists()
    assert ArtifactIngest.objects.get(job=job).last_error == ""  # the new owner's record is untouched

    # The new owner (here: the same job claimed again once that lease lapsed) finishes the job.
    ArtifactIngest.objects.filter(job=job).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    responses.replace(responses.GET, f"{STORAGE_HOST}/ext-1/tokenizer_config.json", body=FILES["tokenizer_config.json"])
    assert ingest(job).success
    artifact = ModelArtifact.objects.get(job=job)
    assert stored_files(artifact_root) == sorted(artifact.artifacts.values())


@pytest.mark.django_db
@responses.activate
def test_leftovers_of_a_killed_worker_are_cleared_by_the_next_attempt(job, alice, artifact_root):
    claimed = ArtifactIngest.objects.claim(job, "killed-worker")
    prefix = artifact_root / str(alice.id) / str(claimed.artifact_id)
    prefix.mkdir(parents=True)
    (prefix / "adapter_model.safetensors").write_bytes(b"half a file")
    (prefix / ".upload-x1y2.part").write_bytes(b"temp")
    (prefix / "stale-extra.bin").write_bytes(b"from an older listing")
    ArtifactIngest.objects.filter(job=job).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    serve(responses)
    assert ingest(job).success
    artifact = ModelArtifact.objects.get(job=job)
    assert artifact.id == claimed.artifact_id  # every attempt of a job writes under one prefix
    assert stored_files(artifact_root) == sorted(artifact.artifacts.values())
    assert (prefix / "adapter_model.safetensors").read_bytes() == FILES["adapter_model.safetensors"]


@pytest.mark.django_db
@responses.activate
def test_hitting_the_task_time_limit_fails_with_a_readable_reason(job, artifact_root, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from artifacts.services.ingest import service

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    serve(responses)
    monkeypatch.setattr(service, "record_artifact", too_slow)
    result = ingest_job(str(job.id))
    assert "task time limit" in result.error and "CELERY_TASK_SOFT_TIME_LIMIT" in result.error
    row = ArtifactIngest.objects.get(job=job)
    assert row.state == "failed"  # the same limit would stop every retry: say so at once
    assert stored_files(artifact_root) == []
    assert "task time limit" in Notification.objects.get(type="artifact_failed").message


@pytest.mark.django_db
@responses.activate
def test_jobs_not_awaiting_an_artifact_are_left_alone(alice):
    running = make_job(alice, status="running", external_job_id="ext-run")
    no_external = make_job(alice, external_job_id=None)
    for job in (running, no_external):
        assert ingest(job).skipped
    assert len(responses.calls) == 0
    assert list(awaiting_jobs()) == []


@pytest.mark.django_db
def test_only_one_of_two_claims_wins_and_only_the_holder_can_move_the_record(job):
    first = ArtifactIngest.objects.claim(job, "worker-a")
    assert first is not None and ArtifactIngest.objects.claim(job, "worker-b") is None
    ArtifactIngest.objects.filter(job=job).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    second = ArtifactIngest.objects.claim(job, "worker-b")  # A's lease lapsed: B takes the job over
    assert second is not None and second.attempts == 2

    # Every transition of the stale holder is refused and changes nothing.
    assert not first.renew(bytes_done=10)
    assert not first.succeed()
    assert not first.schedule_retry("late", delay=60)
    assert not first.fail("late")
    row = ArtifactIngest.objects.get(job=job)
    assert (row.state, row.lease_token, row.bytes_done, row.last_error) == ("running", "worker-b", 0, "")

    assert second.renew(bytes_done=10) and second.schedule_retry("HTTP 503", delay=60)
    row.refresh_from_db()
    assert (row.state, row.lease_token, row.last_error) == ("retrying", "", "HTTP 503")
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=55)
    assert ArtifactIngest.objects.claim(job, "worker-c") is None  # not due yet


@pytest.mark.django_db
def test_only_a_failed_record_is_reset(job):
    row = ArtifactIngest.objects.create(job=job, state="running", attempts=2, lease_token="worker-a")
    assert not ArtifactIngest.objects.reset_failed(job)
    ArtifactIngest.objects.filter(pk=row.pk).update(state="failed")
    assert ArtifactIngest.objects.reset_failed(job)
    row.refresh_from_db()
    assert (row.state, row.attempts, row.lease_token) == ("pending", 0, "")
