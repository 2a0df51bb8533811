"""Retries: inside an attempt, between attempts with backoff, and by staff or the owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from artifacts.models import ArtifactIngest
from artifacts.services.ingest import awaiting_jobs, ingest
from artifacts.tasks import ingest_job, retry_failed_ingest
from pipeline.models import Notification
from tests.ingest_fakes import API, FILES, STORAGE_HOST, listing, serve

pytestmark = pytest.mark.usefixtures("fake_cluster")


@pytest.mark.django_db
@responses.activate
def test_transient_errors_are_retried_within_the_attempt(job, no_retry_sleep):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=503)
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=503)
    serve(responses)
    result = ingest(job)
    assert result.success, result.error
    assert len(no_retry_sleep) == 2 and all(0 < wait <= 30 for wait in no_retry_sleep)
    assert ArtifactIngest.objects.get(job=job).attempts == 1


@pytest.mark.django_db
@responses.activate
def test_retry_after_is_honoured_and_capped(job, no_retry_sleep):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=429, headers={"Retry-After": "7"})
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=429, headers={"Retry-After": "99999"})
    serve(responses)
    assert ingest(job).success
    assert no_retry_sleep == [7.0, 30.0]


@pytest.mark.django_db
@responses.activate
def test_client_errors_are_not_retried_within_the_attempt(job, no_retry_sleep):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=403)
    result = ingest(job)
    assert not result.success and "HTTP 403" in result.error
    assert no_retry_sleep == [] and len(responses.calls) == 1


@pytest.mark.django_db
@responses.activate
def test_failed_attempt_queues_a_delayed_retry_after_commit(job, enqueued, django_capture_on_commit_callbacks):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=404)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_job(str(job.id))
    assert len(enqueued) == 1
    assert enqueued[0]["args"] == [str(job.id)]
    assert 60 <= enqueued[0]["options"]["countdown"] <= 75


@pytest.mark.django_db
@responses.activate
def test_retry_countdown_stays_under_the_task_time_limit(job, enqueued, settings, django_capture_on_commit_callbacks):
    settings.ARTIFACT_RETRY_BASE_SECONDS = 10_000
    settings.CELERY_TASK_TIME_LIMIT = 600
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=500)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_job(str(job.id))
    assert enqueued[-1]["options"]["countdown"] == 600
    assert ArtifactIngest.objects.get(job=job).next_attempt_at > timezone.now() + timedelta(seconds=3000)


@pytest.mark.django_db
@responses.activate
def test_empty_listing_is_reported_in_the_seeds_words_and_retried(job):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", json={"download_urls": {}, "model_metadata": {}})
    result = ingest(job)
    assert result.error == "No artifact files available from GPU cluster"
    assert ArtifactIngest.objects.get(job=job).state == "retrying"


@pytest.mark.django_db
@responses.activate
def test_after_max_attempts_the_owner_is_told_why(job, alice):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", status=404)
    for attempt in range(1, 4):
        ArtifactIngest.objects.filter(job=job).update(next_attempt_at=timezone.now())
        assert not ingest(job).success
        state = ArtifactIngest.objects.get(job=job)
        assert state.attempts == attempt
    assert state.state == "failed"
    assert not ingest(job).success  # failed jobs are not claimed again
    assert ArtifactIngest.objects.get(job=job).attempts == 3
    note = Notification.objects.get(user=alice)
    assert note.type == "artifact_failed" and note.priority == "high"
    assert "HTTP 404" in note.message and note.action_url == f"/training/jobs/{job.id}"
    assert '"Support chats · balanced · r16"' in note.message  # which run failed, by its name
    assert job not in awaiting_jobs()


@pytest.mark.django_db
@responses.activate
def test_staff_retry_resets_a_failed_ingest(job, enqueued, django_capture_on_commit_callbacks):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", json={"download_urls": {"../x": "http://a.test/"}})
    ingest(job)
    assert ArtifactIngest.objects.get(job=job).state == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_failed_ingest(job)
    row = ArtifactIngest.objects.get(job=job)
    assert (row.state, row.attempts) == ("pending", 0)
    assert enqueued and enqueued[-1]["args"] == [str(job.id)]
    responses.replace(responses.GET, f"{API}/training/artifacts/ext-1", json=listing())
    for name, data in FILES.items():
        responses.add(responses.GET, f"{STORAGE_HOST}/ext-1/{name}", body=data)
    assert ingest(job).success


@pytest.mark.django_db
def test_admin_retry_action(client, charlie, job, enqueued):
    ArtifactIngest.objects.create(job=job, state="failed", attempts=3, last_error="boom")
    client.force_login(charlie)
    ingest_row = ArtifactIngest.objects.get(job=job)
    response = client.post(
        "/admin/artifacts/artifactingest/", {"action": "retry", "_selected_action": [ingest_row.pk]}, follow=True
    )
    assert response.status_code == 200
    assert b"Queued 1 job(s) for ingest." in response.content
    assert ArtifactIngest.objects.get(job=job).state == "pending"


@pytest.mark.django_db
def test_only_a_failed_ingest_can_be_retried(job, enqueued, django_capture_on_commit_callbacks):
    ArtifactIngest.objects.create(job=job, state="retrying", attempts=2, next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_failed_ingest(job) is False
    row = ArtifactIngest.objects.get(job=job)
    assert (row.state, row.attempts) == ("retrying", 2)
    assert enqueued == []
