"""Ingest of completed jobs against a faked cluster (responses): all or nothing, verified, scored."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import responses
from django.core.management import call_command
from django.utils import timezone

from artifacts.models import ArtifactFile, ArtifactIngest, ModelArtifact
from artifacts.services.ingest import awaiting_jobs, ingest, queue_due_jobs, retry_ingest
from artifacts.tasks import ingest_job
from pipeline.models import Notification, TrainingJob
from tests.factories import add_history, make_dataset, make_job

API = "http://cluster.test"
STORAGE_HOST = "https://files.storage.test"
FILES = {
    "adapter_config.json": b'{"peft_type": "LORA", "r": 16}',
    "adapter_model.safetensors": bytes(range(256)) * 4096,  # 1 MiB
    "tokenizer_config.json": b'{"model_max_length": 4096}',
}


@pytest.fixture(autouse=True)
def cluster_settings(settings):
    settings.GPU_CLUSTER_API_URL = API
    settings.GPU_CLUSTER_API_KEY = "cluster-secret-key"
    settings.ARTIFACT_MAX_ATTEMPTS = 3


@pytest.fixture
def job(alice):
    job = make_job(alice, make_dataset(alice, name="Support chats"), external_job_id="ext-1")
    add_history(job, [(2.4, 2.5), (1.2, 1.3), (0.3, 0.45)])
    return job


def listing(files=FILES, *, metadata=True, base=STORAGE_HOST, extra=None):
    body = {
        "download_urls": {name: f"{base}/ext-1/{name}?sig=abc" for name in files},
        "model_metadata": {"base_model": "mistral"},
    }
    if metadata:
        body["model_metadata"]["files"] = {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()
        }
    if extra:
        body.update(extra)
    return body


def serve(rsps, files=FILES, body=None, **kwargs):
    rsps.add(responses.GET, f"{API}/training/artifacts/ext-1", json=body or listing(files, **kwargs))
    for name, data in files.items():
        rsps.add(responses.GET, f"{STORAGE_HOST}/ext-1/{name}", body=data)


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.django_db
@responses.activate
def test_completed_job_becomes_stored_verified_scored_artifact(job, alice, artifact_root):
    serve(responses)
    result = ingest(job)
    assert result.success, result.error

    artifact = ModelArtifact.objects.get(job=job)
    assert result.artifact_id == str(artifact.id)
    assert artifact.status == "stored" and artifact.version == "1.0.0"
    assert artifact.name == f"Support chats - {timezone.localdate():%-m/%-d/%Y}"
    assert artifact.quality_metrics["convergence_quality"] == "excellent"
    assert artifact.quality_score == artifact.quality_metrics["overall_score"] == 5
    assert artifact.training_summary == {
        "epochs_completed": 3,
        "total_steps": 300,
        "final_loss": 0.4,
        "training_duration_hours": pytest.approx(2.0),
        "total_cost": 12.5,
    }
    assert artifact.configuration == {
        "preset_id": "balanced",
        "hyperparameters": job.hyperparameters,
        "gpu_config": job.gpu_config,
    }
    # Bytes on disk, at {user_id}/{artifact_id}/{filename}, with matching file rows.
    expected_keys = {name: f"{alice.id}/{artifact.id}/{name}" for name in FILES}
    assert artifact.artifacts == expected_keys
    assert stored_files(artifact_root) == sorted(expected_keys.values())
    for name, data in FILES.items():
        assert (artifact_root / expected_keys[name]).read_bytes() == data
        row = ArtifactFile.objects.get(artifact=artifact, filename=name)
        assert (row.size, row.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert ArtifactFile.objects.get(filename="adapter_config.json").content_type == "application/json"

    job.refresh_from_db()
    assert job.artifact_id == artifact.id
    ingest_row = ArtifactIngest.objects.get(job=job)
    assert ingest_row.state == "succeeded" and ingest_row.attempts == 1
    assert ingest_row.bytes_done == ingest_row.bytes_total == sum(len(d) for d in FILES.values())

    note = Notification.objects.get(user=alice)
    assert (note.type, note.title, note.priority) == ("artifact_ready", "Model Ready for Download", "high")
    assert note.message == "Your trained model is ready. Quality score: 5/5 stars"
    assert note.action_url == f"/models/{artifact.id}"
    assert note.metadata == {"artifact_id": str(artifact.id), "job_id": str(job.id)}


@pytest.mark.django_db
@responses.activate
def test_cluster_key_goes_only_to_the_cluster_api_host(job):
    serve(responses)
    assert ingest(job).success
    listing_call, *file_calls = responses.calls
    assert listing_call.request.headers["Authorization"] == "Bearer cluster-secret-key"
    assert file_calls and all("Authorization" not in call.request.headers for call in file_calls)


@pytest.mark.django_db
@responses.activate
def test_file_urls_on_the_api_host_get_the_key(job):
    body = listing(base=API)
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", json=body)
    for name, data in FILES.items():
        responses.add(responses.GET, f"{API}/ext-1/{name}", body=data)
    assert ingest(job).success
    assert all(call.request.headers["Authorization"] == "Bearer cluster-secret-key" for call in responses.calls)


@pytest.mark.django_db
@responses.activate
def test_one_missing_file_leaves_no_artifact_and_no_stored_file(job, artifact_root, enqueued):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", json=listing())
    responses.add(responses.GET, f"{STORAGE_HOST}/ext-1/adapter_config.json", body=FILES["adapter_config.json"])
    responses.add(
        responses.GET, f"{STORAGE_HOST}/ext-1/adapter_model.safetensors", body=FILES["adapter_model.safetensors"]
    )
    responses.add(responses.GET, f"{STORAGE_HOST}/ext-1/tokenizer_config.json", status=404)

    result = ingest(job)
    assert not result.success
    assert "HTTP 404" in result.error
    assert not ModelArtifact.objects.exists()
    assert stored_files(artifact_root) == []
    assert not Notification.objects.exists()
    ingest_row = ArtifactIngest.objects.get(job=job)
    assert ingest_row.state == "retrying" and ingest_row.attempts == 1
    assert "tokenizer_config.json" in ingest_row.last_error
    assert ingest_row.next_attempt_at > timezone.now()


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
def test_checksum_mismatch_stores_nothing(job, artifact_root):
    body = listing()
    body["model_metadata"]["files"]["adapter_model.safetensors"]["sha256"] = "0" * 64
    serve(responses, body=body)
    result = ingest(job)
    assert not result.success and "checksum mismatch" in result.error
    assert stored_files(artifact_root) == []
    assert not ModelArtifact.objects.exists()


@pytest.mark.django_db
@responses.activate
def test_size_mismatch_with_metadata_stores_nothing(job, artifact_root):
    body = listing()
    body["model_metadata"]["files"]["adapter_config.json"]["size"] = 5
    serve(responses, body=body)
    result = ingest(job)
    assert not result.success and "adapter_config.json" in result.error
    assert stored_files(artifact_root) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../escape.bin", "path separator"),
        ("..", "directory reference"),
        ("/etc/passwd", "path separator"),
        ("dir\\file.bin", "path separator"),
        ("nul\x00byte", "control character"),
        ("bell\x07", "control character"),
        ("", "empty"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
        ("model\u202egnp.exe", "control character"),  # right-to-left override spoofs the shown name
        ("line\u2028break", "control character"),
        ("   ", "blank"),
    ],
)
@responses.activate
def test_unsafe_file_names_fail_before_anything_is_written(job, artifact_root, name, reason):
    files = {**FILES, name: b"evil"}
    responses.add(
        responses.GET,
        f"{API}/training/artifacts/ext-1",
        json={"download_urls": {n: f"{STORAGE_HOST}/x" for n in files}},
    )
    result = ingest(job)
    assert not result.success and reason in result.error
    assert len(responses.calls) == 1  # the listing only: no file was fetched
    assert stored_files(artifact_root) == []
    assert not (artifact_root.parent / "escape.bin").exists()
    ingest_row = ArtifactIngest.objects.get(job=job)
    assert ingest_row.state == "failed"  # retrying cannot fix bad input
    assert Notification.objects.get(type="artifact_failed").metadata["error"] == ingest_row.last_error


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://cluster.test/a", "javascript:alert(1)", "//no-scheme"])
@responses.activate
def test_non_http_download_urls_are_rejected(job, artifact_root, url):
    responses.add(
        responses.GET, f"{API}/training/artifacts/ext-1", json={"download_urls": {"adapter_model.safetensors": url}}
    )
    result = ingest(job)
    assert not result.success and "not an http(s) URL" in result.error
    assert stored_files(artifact_root) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body": "<html>Bad gateway</html>", "content_type": "text/html"}, "not JSON"),
        ({"json": ["a", "list"]}, "not a JSON object"),
        ({"json": {"download_urls": ["a"]}}, "download_urls is not an object"),
        ({"json": {"download_urls": {"a.bin": 3}}}, "is not a string"),
        (
            {
                "json": {
                    "download_urls": {"a.bin": "http://x.test/a"},
                    "model_metadata": {"files": {"a.bin": {"size": -1}}},
                }
            },
            "not a non-negative integer",
        ),
        (
            {
                "json": {
                    "download_urls": {"a.bin": "http://x.test/a"},
                    "model_metadata": {"files": {"a.bin": {"sha256": "zz"}}},
                }
            },
            "not 64 hex digits",
        ),
    ],
)
@responses.activate
def test_malformed_listings_fail_cleanly(job, kwargs, message):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", **kwargs)
    result = ingest(job)
    assert not result.success and message in result.error
    assert ArtifactIngest.objects.get(job=job).state == "failed"


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
    assert job not in awaiting_jobs()


@pytest.mark.django_db
@responses.activate
def test_staff_retry_resets_a_failed_ingest(job, enqueued, django_capture_on_commit_callbacks):
    responses.add(responses.GET, f"{API}/training/artifacts/ext-1", json={"download_urls": {"../x": "http://a.test/"}})
    ingest(job)
    assert ArtifactIngest.objects.get(job=job).state == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_ingest(job)
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
def test_only_a_failed_ingest_can_be_retried(job, enqueued, django_capture_on_commit_callbacks):
    ArtifactIngest.objects.create(job=job, state="retrying", attempts=2, next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_ingest(job) is False
    row = ArtifactIngest.objects.get(job=job)
    assert (row.state, row.attempts) == ("retrying", 2)
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
def test_jobs_not_awaiting_an_artifact_are_left_alone(alice):
    running = make_job(alice, status="running", external_job_id="ext-run")
    no_external = make_job(alice, external_job_id=None)
    for job in (running, no_external):
        assert ingest(job).skipped
    assert len(responses.calls) == 0
    assert list(awaiting_jobs()) == []


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


@pytest.mark.django_db
def test_job_becoming_completed_is_queued_after_commit(alice, enqueued, django_capture_on_commit_callbacks):
    job = make_job(alice, status="running", external_job_id="ext-signal", completed_at=None)
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job.status = TrainingJob.Status.COMPLETED
        job.save()
        assert enqueued == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert [e["args"] for e in enqueued] == [[str(job.id)]]
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        job.current_step = 999
        job.save()  # already completed: no second enqueue
    assert enqueued == []


@pytest.mark.django_db
@responses.activate
def test_diverged_run_is_stored_with_score_one(alice):
    job = make_job(alice, external_job_id="ext-1")
    add_history(job, [(2.3, None), (5.0, None), (None, None)])
    serve(responses)
    assert ingest(job).success
    artifact = ModelArtifact.objects.get(job=job)
    assert artifact.quality_score == 1
    assert artifact.quality_metrics["convergence_quality"] == "diverged"
    assert Notification.objects.get(type="artifact_ready").message.endswith("Quality score: 1/5 stars")


@pytest.mark.django_db
def test_loading_jobs_with_deferred_status_costs_no_extra_queries(alice, django_assert_num_queries):
    for i in range(5):
        make_job(alice, external_job_id=f"ext-deferred-{i}")
    with django_assert_num_queries(1):
        assert len(list(TrainingJob.objects.only("id"))) == 5


@pytest.mark.django_db
@responses.activate
def test_hard_deleting_an_artifact_removes_its_files_but_soft_deleting_keeps_them(
    job, artifact_root, django_capture_on_commit_callbacks
):
    serve(responses)
    assert ingest(job).success
    artifact = ModelArtifact.objects.get(job=job)
    ModelArtifact.objects.filter(pk=artifact.pk).update(deleted_at=timezone.now())
    assert len(stored_files(artifact_root)) == len(FILES)  # soft-deleted: restorable
    with django_capture_on_commit_callbacks(execute=True):
        artifact.delete()
    assert stored_files(artifact_root) == []
