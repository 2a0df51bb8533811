"""All or nothing: what the cluster sends is checked before anything is kept."""

from __future__ import annotations

import pytest
import responses
from django.utils import timezone

from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.services.ingest import ingest
from pipeline.models import Notification
from tests.ingest_fakes import API, FILES, STORAGE_HOST, listing, serve, stored_files

pytestmark = pytest.mark.usefixtures("fake_cluster")


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
