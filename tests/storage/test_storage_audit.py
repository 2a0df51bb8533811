"""``manage.py storage_audit``: orphans and missing objects found on every backend, the exit code,
and what ``--fix`` changes (orphans removed, a ready bundle whose zip is gone back to not built, a
missing model file reported and left)."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from artifacts.models import ArtifactIngest, Bundle, StorageUsage
from artifacts.storage.keys import BUNDLES_LEAF, artifact_prefix
from artifacts.storage.seam import artifact_storage
from tests.factories import add_file, make_artifact, make_job
from tests.storage.backends import BACKENDS, backend_for

pytestmark = pytest.mark.django_db


@pytest.fixture(params=BACKENDS)
def backend(request, settings):
    return backend_for(request, settings, request.param)


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("storage_audit", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def ready_bundle(model) -> Bundle:
    key = f"{artifact_prefix(model.user_id, model.pk)}{BUNDLES_LEAF}/{'a' * 16}/model.zip"
    artifact_storage().save_stream(key, [b"PK zip"])
    StorageUsage.objects.add(model.user_id, bundle_bytes=6)  # as a finished build counts it
    return Bundle.objects.create(
        artifact=model, state=Bundle.State.READY, key=key, filename="model.zip", size=6, sha256="0" * 64
    )


@pytest.fixture
def healthy(alice, backend):
    model = make_artifact(alice)
    add_file(model, "adapter_config.json", b"{}")
    add_file(model, "adapter_model.safetensors", b"w" * 64)
    ready_bundle(model)
    return model


def test_a_healthy_store_passes(healthy, backend):
    code, out = run()
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "all users: 3 object(s) checked, 0 orphan(s), 0 missing, 0 in progress"


def test_orphans_and_missing_objects_are_found_and_fixed(alice, bob, healthy, backend):
    storage = artifact_storage()
    prefix = artifact_prefix(alice.pk, healthy.pk)
    orphans = {
        f"{prefix}{BUNDLES_LEAF}/{'b' * 16}/old.zip": "no file or bundle of its model",
        f"{prefix}.upload-k3.part": "no file or bundle of its model",
        f"{alice.pk}/{uuid.uuid4()}/adapter_model.safetensors": "its model is gone",
        f"{uuid.uuid4()}/{uuid.uuid4()}/adapter_config.json": "its owner is gone",
    }
    for key in orphans:
        storage.save_stream(key, [b"x"])
    gone_file = healthy.files.get(filename="adapter_model.safetensors")
    storage.delete(gone_file.key)
    bundle = Bundle.objects.get(artifact=healthy)
    storage.delete(bundle.key)

    code, out = run()

    assert code == 1
    for key, reason in orphans.items():
        assert f"orphan  {key}  ({reason})" in out
    assert f"missing {gone_file.key}  (file 'adapter_model.safetensors' of model {healthy.pk})" in out
    assert f"missing {bundle.key}  (bundle 'model.zip' of model {healthy.pk})" in out
    assert out.strip().splitlines()[-1] == "all users: 5 object(s) checked, 4 orphan(s), 2 missing, 0 in progress"
    assert set(orphans) <= backend.stored()  # finding changes nothing

    code, out = run("--fix")

    assert code == 0, out
    fixed = "fixed: 4 orphan(s) removed, 1 bundle(s) back to not built, 0 error(s)"
    assert out.strip().splitlines()[-1].endswith(fixed)
    assert backend.stored() == {healthy.files.get(filename="adapter_config.json").key}
    bundle.refresh_from_db()
    assert bundle.state == Bundle.State.NEW and bundle.key == ""
    assert healthy.files.filter(filename="adapter_model.safetensors").exists()  # reported and left

    code, out = run()
    assert code == 1  # the missing model file is still reported
    assert out.strip().splitlines()[-1] == "all users: 1 object(s) checked, 0 orphan(s), 1 missing, 0 in progress"


def test_a_bundle_reset_by_fix_is_built_again_on_request(alice_client, healthy, backend, enqueued):
    artifact_storage().delete(Bundle.objects.get(artifact=healthy).key)
    assert StorageUsage.objects.get(user=healthy.user).bundle_bytes == 6
    run("--fix")
    assert StorageUsage.objects.get(user=healthy.user).bundle_bytes == 0  # the zip's bytes are no longer stored
    response = alice_client.post(f"/api/models/{healthy.pk}/bundle")
    assert response.status_code == 202
    assert response.json()["data"]["status"] == "preparing"


def test_work_in_progress_is_left_alone(alice, healthy, backend):
    job = make_job(alice)
    ingest = ArtifactIngest.objects.create(job=job, state=ArtifactIngest.State.RUNNING)
    storage = artifact_storage()
    uploading = f"{artifact_prefix(alice.pk, ingest.artifact_id)}adapter_model.safetensors"
    storage.save_stream(uploading, [b"half"])
    building = make_artifact(alice)
    add_file(building, "adapter_config.json", b"{}")
    Bundle.objects.create(artifact=building, state=Bundle.State.PREPARING, lease_token="c" * 32)
    partial = f"{artifact_prefix(alice.pk, building.pk)}{BUNDLES_LEAF}/{'c' * 16}/model.zip"
    storage.save_stream(partial, [b"PK"])

    code, out = run("--fix")

    assert code == 0, out
    assert out.strip().splitlines()[-1] == "all users: 6 object(s) checked, 0 orphan(s), 0 missing, 2 in progress"
    assert {uploading, partial} <= backend.stored()


def test_one_user_only(alice, bob, healthy, backend):
    bobs = make_artifact(bob)
    add_file(bobs, "adapter_config.json", b"{}")
    alices_orphan = f"{alice.pk}/{uuid.uuid4()}/x.bin"
    bobs_orphan = f"{bob.pk}/{uuid.uuid4()}/x.bin"
    for key in (alices_orphan, bobs_orphan):
        artifact_storage().save_stream(key, [b"x"])

    code, out = run("--user", bob.username, "--fix")

    assert code == 0
    assert bobs_orphan in out and alices_orphan not in out
    assert out.strip().splitlines()[-1].startswith(f"user {bob}: 2 object(s) checked, 1 orphan(s)")
    assert alices_orphan in backend.stored() and bobs_orphan not in backend.stored()


def test_an_unknown_user_is_an_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("storage_audit", "--user", "nobody", stdout=StringIO())
