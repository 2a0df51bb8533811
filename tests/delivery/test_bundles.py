"""The zip bundle (``POST /api/models/{id}/bundle``) and ``GET /api/models/{id}/sha256sums``."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from artifacts import tasks
from artifacts.models import Bundle
from artifacts.services import bundles
from tests.conftest import NOT_FOUND, needs_service, on_postgres
from tests.delivery.grants import fetch
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db

WEIGHTS = bytes(range(256)) * 4096 + b"tail"  # ~1 MiB, every offset distinguishable
CONFIG = b'{"r": 16, "lora_alpha": 32, "base_model_name_or_path": "gpt2"}'
TOKENIZER = json.dumps({"model": {"vocab": {f"t{i}": i for i in range(500)}}}).encode()
FILES = {"adapter_config.json": CONFIG, "adapter_model.safetensors": WEIGHTS, "tokenizer.json": TOKENIZER}


@pytest.fixture
def builds(monkeypatch) -> list[tuple[str, str]]:
    """Bundle builds queued by the code under test (run them with :func:`run_builds`)."""
    from pipeline.celery import app

    task = app.tasks["artifacts.tasks.build_bundle"]
    queued: list[tuple[str, str]] = []
    monkeypatch.setattr(task, "delay", lambda bundle_id, token: queued.append((bundle_id, token)))
    return queued


def run_builds(builds: list[tuple[str, str]]) -> None:
    while builds:
        assert bundles.build_bundle(*builds.pop(0))


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice, inspection={"adapter": {"r": 16, "base_model": "gpt2"}, "findings": []})
    for name, content in FILES.items():
        add_file(artifact, name, content)
    return artifact


@pytest.fixture
def post_bundle(django_capture_on_commit_callbacks):
    """POST /api/models/{id}/bundle, running what it queues on commit (as a real request does)."""

    def post(client: Client, model):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/api/models/{model.id}/bundle")

    return post


def ready_bundle(client: Client, model, builds, post_bundle) -> dict:
    first = post_bundle(client, model)
    assert first.status_code == 202, first.content
    assert first.json() == {"success": True, "data": {"status": "preparing", "progress": 0.0}}
    run_builds(builds)
    ready = post_bundle(client, model)
    assert ready.status_code == 200, ready.content
    return ready.json()["data"]


def unzip_and_check(archive: bytes, tmp_path: Path, model) -> Path:
    """Unzip as ``unzip`` would: one top-level folder, the model's folder name (DESIGN §14)."""
    path = tmp_path / "bundle.zip"
    path.write_bytes(archive)
    top = model.folder
    with zipfile.ZipFile(path) as bundle:
        infos = {info.filename: info for info in bundle.infolist()}
        assert set(infos) == {f"{top}/{name}" for name in (*FILES, "SHA256SUMS", "README.md", "inspection.json")}
        assert all(info.compress_type == zipfile.ZIP_STORED for info in infos.values())
        assert all(info.external_attr >> 16 == 0o100644 for info in infos.values())  # regular files, rw-r--r--
        bundle.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / top
    for name, content in FILES.items():
        assert (folder / name).read_bytes() == content
    assert json.loads((folder / "inspection.json").read_text()) == model.inspection
    assert "# " in (folder / "README.md").read_text()
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(FILES)
    return folder


@pytest.mark.parametrize("accept", [None, "text/plain", "text/plain, text/markdown", "*/*"])
def test_sha256sums_is_sha256sum_format(alice_client, model, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = alice_client.get(f"/api/models/{model.id}/sha256sums", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    expected = "".join(f"{hashlib.sha256(FILES[n]).hexdigest()}  {n}\n" for n in sorted(FILES))
    assert response.content.decode() == expected


def test_sha256sums_errors_stay_in_the_envelope(bob_client, model):
    response = bob_client.get(f"/api/models/{model.id}/sha256sums", HTTP_ACCEPT="text/plain")
    assert response.status_code == 404
    assert json.loads(response.content) == NOT_FOUND


def test_bundle_on_local_storage_unzips_byte_exact_and_resumes(alice_client, model, builds, tmp_path, post_bundle):
    data = ready_bundle(alice_client, model, builds, post_bundle)
    assert data["status"] == "ready" and data["progress"] == 1.0
    whole = Client().get(data["download_url"])
    assert whole.status_code == 200
    archive = b"".join(whole.streaming_content)
    assert len(archive) == data["size"]
    assert hashlib.sha256(archive).hexdigest() == data["sha256"]
    assert whole["Content-Type"] == "application/zip"
    unzip_and_check(archive, tmp_path, model)

    # Resume from the middle, as curl -C - or the CLI does after a cut connection.
    half = len(archive) // 2
    resumed = Client().get(data["download_url"], HTTP_RANGE=f"bytes={half}-", HTTP_IF_RANGE=whole["ETag"])
    assert resumed.status_code == 206
    assert resumed["Content-Range"] == f"bytes {half}-{len(archive) - 1}/{len(archive)}"
    assert b"".join(resumed.streaming_content) == archive[half:]


def test_bundle_is_named_after_the_model_and_stored_under_its_prefix(
    alice_client, model, builds, post_bundle, artifact_root
):
    post_bundle(alice_client, model)
    bundle = Bundle.objects.get(artifact=model)
    assert bundles.build_bundle(bundle.pk, bundle.lease_token)
    bundle.refresh_from_db()
    assert bundle.key.startswith(f"{model.user_id}/{model.id}/!bundles/")
    assert bundle.filename.endswith(".zip")
    assert (artifact_root / bundle.key).stat().st_size == bundle.size


def test_model_card_is_renamed_when_the_model_has_a_readme(alice_client, model, builds, post_bundle):
    add_file(model, "README.md", b"# upstream readme\n")
    post_bundle(alice_client, model)
    bundle = Bundle.objects.get(artifact=model)
    assert bundles.build_bundle(bundle.pk, bundle.lease_token)
    bundle.refresh_from_db()
    from artifacts.storage.seam import artifact_storage

    with artifact_storage().open(bundle.key, "rb") as handle, zipfile.ZipFile(handle) as archive:
        top = model.folder
        assert archive.read(f"{top}/README.md") == b"# upstream readme\n"
        assert f"{top}/MODEL_CARD.md" in archive.namelist()


def test_concurrent_requests_build_once(alice_client, model, builds, post_bundle):
    responses = [post_bundle(alice_client, model) for _ in range(5)]
    assert {r.status_code for r in responses} == {202}
    assert Bundle.objects.filter(artifact=model).count() == 1
    assert len(builds) == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_from_threads_build_once(alice, builds):
    from django.db import connection

    if not on_postgres():
        needs_service("DATABASE_URL does not point at PostgreSQL")
    model = make_artifact(alice)
    add_file(model, "adapter_config.json", CONFIG)
    results: list[bundles.BundleStatus] = []

    def ask() -> None:
        try:
            results.append(tasks.request_bundle(model))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and all(r.state == "preparing" for r in results)
    assert Bundle.objects.filter(artifact=model).count() == 1
    assert len(builds) == 1


def test_progress_is_reported_while_building(alice_client, model, builds, post_bundle, monkeypatch):
    monkeypatch.setattr(bundles, "PROGRESS_EVERY_BYTES", 64 * 1024)
    seen: list[float] = []
    original = Bundle.renew

    def renew(self, **progress):
        ok = original(self, **progress)
        seen.append(Bundle.objects.get(pk=self.pk).progress)
        return ok

    monkeypatch.setattr(Bundle, "renew", renew)
    post_bundle(alice_client, model)
    bundle = Bundle.objects.get(artifact=model)
    assert bundles.build_bundle(bundle.pk, bundle.lease_token)
    assert any(0 < value < 1 for value in seen)
    assert seen == sorted(seen)


def test_a_stale_lease_is_rebuilt_and_a_failed_build_is_retried(alice_client, model, builds, post_bundle):
    post_bundle(alice_client, model)
    assert len(builds) == 1
    Bundle.objects.filter(artifact=model).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert post_bundle(alice_client, model).status_code == 202
    assert len(builds) == 2
    assert not bundles.build_bundle(*builds[0])  # the first claim is no longer ours
    Bundle.objects.filter(artifact=model).update(state=Bundle.State.FAILED)
    assert post_bundle(alice_client, model).status_code == 202
    assert len(builds) == 3


def test_a_tampered_stored_file_fails_the_build(alice_client, model, builds, post_bundle, artifact_root):
    (artifact_root / model.artifacts["tokenizer.json"]).write_bytes(b"tampered")
    post_bundle(alice_client, model)
    bundle = Bundle.objects.get(artifact=model)
    assert not bundles.build_bundle(bundle.pk, bundle.lease_token)
    bundle.refresh_from_db()
    assert bundle.state == Bundle.State.FAILED and "tokenizer.json" in bundle.last_error
    assert not list((artifact_root / str(model.user_id) / str(model.id)).rglob("*.zip"))


def test_unused_bundle_expires_and_its_link_stops_working(
    alice_client, model, builds, artifact_root, settings, post_bundle
):
    settings.BUNDLE_TTL_DAYS = 7
    data = ready_bundle(alice_client, model, builds, post_bundle)
    key = Bundle.objects.get(artifact=model).key
    with time_machine.travel(timezone.now() + timedelta(days=6)):
        assert bundles.expire_bundles() == 0
        post_bundle(alice_client, model)  # used again: its clock restarts
    with time_machine.travel(timezone.now() + timedelta(days=12)):
        assert bundles.expire_bundles() == 0
    with time_machine.travel(timezone.now() + timedelta(days=14)):
        assert bundles.expire_bundles() == 1
    assert not Bundle.objects.filter(artifact=model).exists()
    assert not (artifact_root / key).exists()
    assert Client().get(data["download_url"]).status_code == 404
    assert bundles.expire_bundles() == 0


def test_ready_bundles_count_in_storage_use(alice_client, model, builds, post_bundle):
    from artifacts.services.lifecycle import storage_use

    before = storage_use(model.user)
    assert before.bytes == sum(len(c) for c in FILES.values()) and before.models == 1
    data = ready_bundle(alice_client, model, builds, post_bundle)
    assert storage_use(model.user).bytes == before.bytes + data["size"]


def test_new_endpoints_hide_other_users_models(bob_client, model, builds):
    for method, path in [
        ("get", "sha256sums"),
        ("post", "bundle"),
        ("post", "restore"),
    ]:
        response = getattr(bob_client, method)(f"/api/models/{model.id}/{path}")
        assert response.status_code == 404, path
        assert response.json() == NOT_FOUND
    assert bob_client.delete(f"/api/models/{model.id}").status_code == 404
    assert not Bundle.objects.exists() and not builds
    assert Client().post(f"/api/models/{model.id}/bundle").status_code == 401


def test_bundle_on_s3_unzips_byte_exact_and_resumes(
    alice,
    tmp_path,
    s3_storage,
    builds,
    django_capture_on_commit_callbacks,
):
    from artifacts.storage.seam import artifact_storage

    artifact = make_artifact(alice, inspection={"adapter": {"r": 16}})
    for name, content in FILES.items():
        add_file(artifact, name, content)
    with django_capture_on_commit_callbacks(execute=True):
        state = tasks.request_bundle(artifact)
    assert state.state == "preparing" and len(builds) == 1
    run_builds(builds)
    state = tasks.request_bundle(artifact)
    assert state.ready and state.download_url
    keys = [o["Key"] for o in s3_storage.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]]
    bundle = Bundle.objects.get(artifact=artifact)
    assert bundle.key in keys and bundle.key.startswith(f"{alice.pk}/{artifact.pk}/!bundles/")
    status, whole, link = fetch(state.download_url)  # our link, redirected to a presigned URL
    assert link.status_code == 302 and status == 200
    assert hashlib.sha256(whole).hexdigest() == state.sha256
    assert len(whole) == state.size
    unzip_and_check(whole, tmp_path, artifact)
    half = len(whole) // 2
    status, resumed, _ = fetch(state.download_url, Range=f"bytes={half}-")
    assert status == 206
    assert resumed == whole[half:]
    assert artifact_storage().exists(bundle.key)


def test_past_4_gib_the_zip_is_zip64_without_reading_the_data(model, monkeypatch):
    """Sizes are known up front, so a 5 GiB file gets Zip64 headers; no byte of it is read here."""
    from artifacts.models import ArtifactFile

    huge = ArtifactFile(filename="huge.safetensors", key="k", size=5 * 1024**3, sha256="0" * 64)
    read: list[int] = []

    class NeverRead:
        def read_stream(self, key, start=0, end=None):
            read.append(1)
            yield b""

    stream = bundles.zip_stream(model, [huge], storage=NeverRead())
    assert len(stream) > 5 * 1024**3
    header = next(iter(stream))
    assert header[:4] == b"PK\x03\x04"
    assert header[18:26] == b"\xff" * 8  # sizes deferred to the Zip64 extra field
    name_length, extra_length = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
    extra = header[30 + name_length : 30 + name_length + extra_length]
    assert extra[:2] == b"\x01\x00"  # the Zip64 extended information extra field
    assert not read


def test_supabase_files_are_streamed_through_a_signed_url(monkeypatch):
    import responses

    from artifacts.models import ArtifactFile
    from artifacts.storage.supabase import SupabaseArtifactStorage

    storage = SupabaseArtifactStorage(url="https://project.supabase.test", key="k")
    monkeypatch.setattr(storage, "signed_url", lambda key, name, ttl: f"https://project.supabase.test/sign/{key}")
    record = ArtifactFile(
        filename="w.bin", key="u/a/w.bin", size=len(WEIGHTS), sha256=hashlib.sha256(WEIGHTS).hexdigest()
    )
    with responses.RequestsMock() as mocked:
        mocked.get("https://project.supabase.test/sign/u/a/w.bin", body=WEIGHTS)
        chunks = list(bundles.stored_chunks(storage, record))
    assert b"".join(chunks) == WEIGHTS and len(chunks) >= 1


def test_a_deleted_models_bundle_link_stops_working(alice_client, model, builds, post_bundle):
    from artifacts.services.lifecycle import restore, soft_delete

    data = ready_bundle(alice_client, model, builds, post_bundle)
    soft_delete(model)
    assert Client().get(data["download_url"]).status_code == 404
    assert post_bundle(alice_client, model).status_code == 404
    model.refresh_from_db()
    restore(model)
    assert Client().get(data["download_url"]).status_code == 200


def test_a_file_named_bundles_does_not_stand_in_the_bundles_way(alice_client, alice, builds, post_bundle, tmp_path):
    artifact = make_artifact(alice)
    for name, content in {**FILES, "bundles": b"a cluster file that happens to be called bundles"}.items():
        add_file(artifact, name, content)
    data = ready_bundle(alice_client, artifact, builds, post_bundle)
    archive = b"".join(Client().get(data["download_url"]).streaming_content)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        top = artifact.folder
        assert zipped.read(f"{top}/bundles") == b"a cluster file that happens to be called bundles"
