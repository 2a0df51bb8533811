"""Ingest of a completed job against a faked cluster (responses): stored, verified, scored."""

from __future__ import annotations

import hashlib

import pytest
import responses
from django.utils import timezone

from artifacts.models import ArtifactFile, ArtifactIngest, ModelArtifact
from artifacts.services.ingest import ingest
from pipeline.models import Notification, TrainingJob
from tests.factories import add_history, make_job
from tests.ingest_fakes import API, FILES, listing, serve, stored_files

pytestmark = pytest.mark.usefixtures("fake_cluster")


@pytest.mark.django_db
@responses.activate
def test_completed_job_becomes_stored_verified_scored_artifact(job, alice, artifact_root):
    serve(responses)
    result = ingest(job)
    assert result.success, result.error

    artifact = ModelArtifact.objects.get(job=job)
    assert result.artifact_id == str(artifact.id)
    assert artifact.status == "stored" and artifact.version == "1.0.0"
    # A default name that tells runs apart: dataset, preset, rank and training date (issue 11).
    assert artifact.name == f"Support chats · balanced · r16 · {timezone.localdate(job.completed_at).isoformat()}"
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
    # The verdict first (DESIGN §14): these files are not a complete adapter, so the title warns.
    assert artifact.verdict == "warnings"
    assert (note.type, note.title, note.priority) == ("artifact_ready", "Model Ready, with Warnings", "normal")
    # The message names the model and what its health checks found, then the seed's score sentence.
    assert note.message.startswith(f'"{artifact.name}" is ready')
    assert artifact.training_health["summary"] in note.message
    assert note.message.endswith("Quality score: 5/5 stars")
    assert note.action_url == f"/models/{artifact.id}"
    assert note.metadata == {"artifact_id": str(artifact.id), "job_id": str(job.id), "verdict": "warnings"}


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
