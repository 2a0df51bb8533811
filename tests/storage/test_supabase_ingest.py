"""Ingest and deletion on the Supabase backend, against the fake built from the server's documented
behaviour (``tests/storage/supabase_fake.py``): refusals fail at once with the server's reason, passing
faults are retried, and cleanup leaves nothing behind however many objects there are."""

from __future__ import annotations

import hashlib

import pytest
import responses

from artifacts.models import ArtifactIngest
from artifacts.services.ingest import Outcome, ingest
from pipeline.models import Notification
from tests.conftest import use_storage
from tests.factories import make_artifact
from tests.ingest_fakes import FILES, finished_job, listing, serve, use_fake_cluster
from tests.storage.supabase_fake import FakeSupabaseStorage

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings) -> FakeSupabaseStorage:
    fake = FakeSupabaseStorage()
    use_storage(
        settings,
        "artifacts.storage.supabase.SupabaseArtifactStorage",
        url="https://project.supabase.test",
        key="k",
        http_client=fake.client(),
    )
    use_fake_cluster(settings)
    return fake


@responses.activate
def test_over_the_bucket_size_limit_fails_at_once_with_the_servers_reason(server, alice):
    server.file_size_limit = 1000  # adapter_model.safetensors is 1 MiB
    job = finished_job(alice)
    serve(responses)
    result = ingest(job)
    assert result.outcome is Outcome.FAILED
    assert "413" in result.error and "adapter_model.safetensors" in result.error
    assert ArtifactIngest.objects.get(job=job).attempts == 1
    assert server.objects == {}  # the files stored before the refusal are gone
    assert Notification.objects.filter(type="artifact_failed").count() == 1


@responses.activate
def test_a_missing_bucket_fails_at_once(server, alice, settings):
    settings.STORAGES["artifacts"]["OPTIONS"]["bucket"] = "gone"
    job = finished_job(alice)
    serve(responses)
    result = ingest(job)
    assert result.outcome is Outcome.FAILED
    assert "Bucket not found" in result.error


@responses.activate
def test_a_server_error_is_retried(server, alice):
    server.fail_uploads_with = 503
    job = finished_job(alice)
    serve(responses)
    assert ingest(job).outcome is Outcome.RETRY


@responses.activate
def test_a_failed_ingest_of_110_files_leaves_none_behind(server, alice):
    files = {f"shard-{i:03}.bin": f"shard {i}".encode() for i in range(110)}
    body = listing(files)
    body["model_metadata"]["files"]["shard-109.bin"]["sha256"] = hashlib.sha256(b"other").hexdigest()
    job = finished_job(alice)
    serve(responses, files=files, body=body)
    result = ingest(job)
    assert result.outcome is Outcome.FAILED and "checksum" in result.error
    assert server.objects == {}


def test_hard_deleting_an_artifact_of_120_files_removes_them_all(server, alice, django_capture_on_commit_callbacks):
    artifact = make_artifact(alice)
    prefix = f"{alice.id}/{artifact.id}/"
    server.objects = {f"{prefix}f{i:03}.bin": b"x" for i in range(120)}
    server.objects["someone/else/keep.bin"] = b"x"
    with django_capture_on_commit_callbacks(execute=True):
        artifact.delete()
    assert list(server.objects) == ["someone/else/keep.bin"]


@responses.activate
def test_awkward_names_ingest_into_supabase_without_collisions(server, alice):
    files = {**FILES, "a b.bin": b"space", "a%20b.bin": b"percent", "модель.bin": b"cyrillic"}
    job = finished_job(alice)
    serve(responses, files=files)
    assert ingest(job).outcome is Outcome.STORED
    assert sorted(server.objects.values()) == sorted(files.values())
