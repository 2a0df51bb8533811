"""The Supabase Storage backend against recorded Storage API exchanges (no network)."""

import json
from pathlib import Path

import httpx
import pytest

from artifacts.storage.supabase import SupabaseArtifactStorage

EXCHANGES = json.loads((Path(__file__).parent / "fixtures" / "supabase_storage.json").read_text())["exchanges"]
SUPABASE_URL = "https://project.supabase.test"
SERVICE_KEY = "service-role-key"


@pytest.fixture
def recorded():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        for exchange in EXCHANGES:
            if exchange["method"] == request.method and exchange["path"] == request.url.path:
                return httpx.Response(exchange["status"], json=exchange["response"])
        return httpx.Response(404, json={"error": f"no recorded exchange for {request.method} {request.url.path}"})

    storage = SupabaseArtifactStorage(
        url=SUPABASE_URL,
        key=SERVICE_KEY,
        bucket="lora-models",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    return storage, seen


def test_upload_streams_the_chunks_with_the_service_role_key_and_upsert(recorded):
    storage, seen = recorded
    chunks = [b"A" * 70_000, b"B" * 70_000, b"C" * 10]
    storage.save_stream("u1/a1/adapter_model.safetensors", iter(chunks))
    (upload,) = seen
    assert upload.method == "POST"
    assert upload.url.path == "/storage/v1/object/lora-models/u1/a1/adapter_model.safetensors"
    assert upload.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert upload.headers["x-upsert"] == "true"
    assert b"".join(chunks) in upload.content  # the multipart body carries every byte, in order


def test_signed_url_is_absolute_expiring_and_downloads_as_the_file_name(recorded):
    storage, seen = recorded
    url = storage.signed_url("u1/a1/adapter_model.safetensors", "adapter_model.safetensors", 3600)
    assert url.startswith(f"{SUPABASE_URL}/storage/v1/object/sign/lora-models/u1/a1/adapter_model.safetensors?token=")
    assert "download=adapter_model.safetensors" in url
    assert json.loads(seen[0].content) == {"expiresIn": "3600", "download": "adapter_model.safetensors"}


def test_delete_removes_the_object(recorded):
    storage, seen = recorded
    storage.delete("u1/a1/adapter_model.safetensors")
    assert seen[0].method == "DELETE"
    assert json.loads(seen[0].content) == {"prefixes": ["u1/a1/adapter_model.safetensors"]}


def test_signing_a_missing_object_raises(recorded):
    storage, _ = recorded
    with pytest.raises(Exception, match="not found|Object not found"):
        storage.signed_url("u1/a1/missing.bin", "missing.bin", 60)


def test_missing_configuration_is_a_clear_error():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="SUPABASE_URL"):
        SupabaseArtifactStorage(url="", key="").signed_url("k", "f", 60)
