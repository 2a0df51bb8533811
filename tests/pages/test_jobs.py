"""Training job pages: the list, a job's status and chart, and its model files' state with retry."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from artifacts.models import ArtifactIngest
from artifacts.pages import jobs as job_views
from pipeline.models import TrainingJob
from tests.factories import add_history, make_artifact, make_dataset, make_job
from tests.page_text import text

pytestmark = pytest.mark.django_db


def test_job_page_shows_status_timestamps_configuration_and_chart(alice, alice_client):
    job = make_job(alice, dataset=make_dataset(alice, name="Legal"), hyperparameters={"learning_rate": 0.0001})
    add_history(job, [(1.5, 1.6), (0.9, 1.0)])
    response = alice_client.get(f"/training/jobs/{job.pk}")
    assert response.status_code == 200
    page = text(response)
    assert "Completed" in page and "Dataset: Legal" in page
    assert "Learning Rate 0.0001" in page and "Batch Size —" in page
    assert "Started" in page and job.started_at.strftime("%b") in page
    assert "chart__svg" in response.content.decode()
    assert "Waiting to fetch the model files" in page


def test_job_page_artifact_states(alice, alice_client):
    job = make_job(alice)
    ingest = ArtifactIngest.objects.create(
        job=job,
        state=ArtifactIngest.State.RUNNING,
        bytes_done=5 * 1024 * 1024,
        bytes_total=20 * 1024 * 1024,
        current_file="adapter_model.safetensors",
        attempts=1,
    )
    response = alice_client.get(f"/training/jobs/{job.pk}")
    html = response.content.decode()
    assert '<progress id="ingest-progress" max="20971520" value="5242880">' in html
    assert "5.0 MiB of 20.0 MiB (25%)" in text(response)

    ArtifactIngest.objects.filter(pk=ingest.pk).update(
        state=ArtifactIngest.State.FAILED, attempts=5, last_error="checksum mismatch for adapter_model.safetensors"
    )
    page = text(alice_client.get(f"/training/jobs/{job.pk}"))
    assert "Reason: checksum mismatch for adapter_model.safetensors" in page
    assert "Retry" in page

    model = make_artifact(alice, job=job)
    ArtifactIngest.objects.filter(pk=ingest.pk).update(state=ArtifactIngest.State.SUCCEEDED)
    response = alice_client.get(f"/training/jobs/{job.pk}")
    assert f'href="/models/{model.pk}"' in response.content.decode()
    assert "Ready." in text(response)


def test_retry_button_resets_a_failed_ingest(alice, alice_client, django_capture_on_commit_callbacks):
    job = make_job(alice)
    ArtifactIngest.objects.create(job=job, state=ArtifactIngest.State.FAILED, attempts=5, last_error="boom")
    from unittest import mock

    with mock.patch("artifacts.tasks.ingest_job.delay") as delay, django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/training/jobs/{job.pk}/retry", follow=True)
    assert response.status_code == 200
    assert "Retry scheduled" in text(response)
    ingest = ArtifactIngest.objects.get(job=job)
    assert ingest.state == ArtifactIngest.State.PENDING and ingest.attempts == 0
    delay.assert_called_once_with(str(job.pk))


def test_retry_needs_post_and_ownership(alice, bob_client, alice_client):
    job = make_job(alice)
    ArtifactIngest.objects.create(job=job, state=ArtifactIngest.State.FAILED, attempts=5)
    assert alice_client.get(f"/training/jobs/{job.pk}/retry").status_code == 405
    assert bob_client.post(f"/training/jobs/{job.pk}/retry").status_code == 404
    assert ArtifactIngest.objects.get(job=job).state == ArtifactIngest.State.FAILED


def test_someone_elses_job_is_404(alice, bob_client):
    job = make_job(alice)
    assert bob_client.get(f"/training/jobs/{job.pk}").status_code == 404


def test_job_list_shows_own_jobs_with_model_links(alice, bob, alice_client):
    model = make_artifact(alice, job=make_job(alice, external_job_id="sim-alice-1"))
    make_job(alice, status=TrainingJob.Status.RUNNING, external_job_id="sim-alice-2")
    make_job(bob, external_job_id="sim-bob-1")
    response = alice_client.get("/training/jobs")
    page = text(response)
    assert "sim-alice-1" in page and "sim-alice-2" in page and "sim-bob-1" not in page
    assert f'href="/models/{model.pk}"' in response.content.decode()


def test_job_list_shows_each_models_verdict_beside_its_link(alice, alice_client):
    make_artifact(alice, job=make_job(alice, external_job_id="sim-fine"))
    make_artifact(alice, job=make_job(alice, external_job_id="sim-broken"), verdict="unusable")
    html = alice_client.get("/training/jobs").content.decode()
    rows = {
        job: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for job in ("sim-fine", "sim-broken")
        if job in row
    }
    assert 'data-verdict="ok"' in rows["sim-fine"]
    assert 'data-verdict="unusable"' in rows["sim-broken"] and ">Unusable" in rows["sim-broken"]


def test_job_list_says_when_storing_the_files_failed_or_is_under_way(
    alice, alice_client, django_assert_max_num_queries
):
    failed = make_job(alice, external_job_id="sim-broken")
    ArtifactIngest.objects.create(job=failed, state=ArtifactIngest.State.FAILED, last_error="HTTP 404")
    busy = make_job(alice, external_job_id="sim-busy")
    ArtifactIngest.objects.create(job=busy, state=ArtifactIngest.State.RUNNING)
    make_job(alice, external_job_id="sim-waiting")
    with django_assert_max_num_queries(8):
        html = alice_client.get("/training/jobs").content.decode()
    rows = {
        job: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for job in ("sim-broken", "sim-busy", "sim-waiting")
        if job in row
    }
    assert "Storing failed" in rows["sim-broken"] and f'href="/training/jobs/{failed.pk}"' in rows["sim-broken"]
    assert "Storing…" in rows["sim-busy"]
    assert "Storing" not in rows["sim-waiting"]


def test_job_list_shows_a_zero_final_cost_as_zero(alice, alice_client):
    make_job(alice, external_job_id="sim-free", final_cost=Decimal("0.00"), estimated_total_cost=Decimal("20.00"))
    make_job(alice, external_job_id="sim-running", final_cost=None, estimated_total_cost=Decimal("7.25"))

    rows = re.findall(r"<tr>(.*?)</tr>", alice_client.get("/training/jobs").content.decode(), re.S)
    cost = {
        job: re.search(r'data-label="Cost">(.*?)</td>', row, re.S).group(1)  # type: ignore[union-attr]
        for row in rows
        for job in ("sim-free", "sim-running")
        if job in row
    }

    assert cost == {"sim-free": "$0.00", "sim-running": "$7.25"}


def test_job_page_retrying_state_shows_the_last_error_not_a_stale_progress_bar(alice, alice_client):
    job = make_job(alice)
    ArtifactIngest.objects.create(
        job=job,
        state=ArtifactIngest.State.RETRYING,
        attempts=2,
        bytes_done=100,
        bytes_total=100,
        last_error="HTTP 503 from the cluster",
        next_attempt_at=timezone.now() + timedelta(minutes=4),
    )
    response = alice_client.get(f"/training/jobs/{job.pk}")
    page = text(response)
    assert "Retrying after attempt 2 failed" in page and "next attempt in 3 minutes" in page
    assert "Last error: HTTP 503 from the cluster" in page
    assert "<progress" not in response.content.decode()
    assert 'data-autorefresh="5"' in response.content.decode()


def test_job_list_pages_with_previous_and_next(alice, alice_client):
    for i in range(job_views.JOBS_PER_PAGE + 1):
        make_job(alice, external_job_id=f"sim-page-{i}")
    first = alice_client.get("/training/jobs").content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2" rel="next"' in first
    second = alice_client.get("/training/jobs?page=2").content.decode()
    assert "Page 2 of 2" in second and 'href="?page=1" rel="prev"' in second
