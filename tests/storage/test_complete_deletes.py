"""Deletes that are complete on every backend: listing and clearing a prefix reach every depth and
every page (Supabase lists 100 entries a page and one folder level a call, S3 1000 keys a page), so
purging a model or deleting an account leaves no object behind: files, bundles, nested keys, the
``.part`` leftovers of interrupted writes, and on S3 the unfinished multipart uploads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from artifacts.services import lifecycle
from artifacts.storage.keys import BUNDLES_LEAF, artifact_prefix
from artifacts.storage.seam import artifact_storage
from tests.factories import add_file, make_artifact
from tests.storage.backends import BACKENDS, backend_for

pytestmark = pytest.mark.django_db


@pytest.fixture(params=BACKENDS)
def backend(request, settings):
    return backend_for(request, settings, request.param)


def nested_keys(prefix: str, count: int) -> list[str]:
    """``count`` keys under ``prefix``: at the top, in a bundle folder, deep down, and ``.part`` leftovers."""
    keys = [f"{prefix}f{i:04}.bin" for i in range(count)]
    keys += [f"{prefix}{BUNDLES_LEAF}/{i:016x}/model.zip" for i in range(3)]
    keys += [f"{prefix}deep/a/b/c/d{i}.bin" for i in range(count // 2)]
    keys += [f"{prefix}.upload-x1y2.part", f"{prefix}{BUNDLES_LEAF}/00/.upload-z9.part"]
    return keys


def store(keys: list[str]) -> None:
    storage = artifact_storage()
    for key in keys:
        storage.save_stream(key, [b"x"])


@pytest.mark.parametrize("count", [101, 250])
def test_list_and_clear_reach_every_depth_and_every_page(backend, count):
    prefix = "u1/a1/"
    keys = nested_keys(prefix, count)
    neighbours = ["u1/a10/keep.bin", "u1/a2/keep.bin", "u10/a1/keep.bin"]
    store(keys + neighbours)
    storage = artifact_storage()
    if backend.name == "s3":
        storage.list_page_size = 100  # S3 pages hold up to 1000 keys; 100 shows paging with fewer objects

    assert sorted(storage.list_prefix(prefix)) == sorted(keys)
    assert sorted(storage.list_prefix("")) == sorted(keys + neighbours)

    storage.clear_prefix(prefix)

    assert backend.stored() == set(neighbours)
    if backend.supabase is not None:  # every folder read page by page
        assert any(call.get("offset") == 100 for call in backend.supabase.list_calls)


def test_s3_clears_more_than_one_page_of_1000(settings, request):
    backend = backend_for(request, settings, "s3")
    keys = [f"u1/a1/f{i:04}.bin" for i in range(1001)] + ["u1/a1/!bundles/0/model.zip"]
    store(keys + ["u1/a2/keep.bin"])
    storage = artifact_storage()
    assert len(list(storage.list_prefix("u1/a1/"))) == 1002
    storage.clear_prefix("u1/a1/")
    assert backend.stored() == {"u1/a2/keep.bin"}


def test_s3_clear_aborts_unfinished_multipart_uploads(settings, request):
    client = request.getfixturevalue("s3_storage")
    backend_for(request, settings, "s3")
    started = client.create_multipart_upload(Bucket=client.bucket, Key="u1/a1/adapter_model.safetensors")
    key = "u1/a1/adapter_model.safetensors"
    client.upload_part(Bucket=client.bucket, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=b"x")
    other = client.create_multipart_upload(Bucket=client.bucket, Key="u1/a2/adapter_model.safetensors")

    artifact_storage().clear_prefix("u1/a1/")

    left = client.list_multipart_uploads(Bucket=client.bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in left] == [("u1/a2/adapter_model.safetensors", other["UploadId"])]


def test_the_whole_bucket_is_never_cleared(backend):
    store(["u1/a1/f.bin"])
    for prefix in ("", "/"):
        with pytest.raises(ValueError):
            artifact_storage().clear_prefix(prefix)
    assert backend.stored() == {"u1/a1/f.bin"}


def test_purge_removes_every_object_of_the_model(alice, backend, settings):
    settings.ARTIFACT_RETENTION_DAYS = 1
    model = make_artifact(alice)
    add_file(model, "adapter_config.json", b"{}")
    store(nested_keys(artifact_prefix(alice.pk, model.pk), 110))
    keep = make_artifact(alice)
    add_file(keep, "adapter_config.json", b"{}")

    lifecycle.soft_delete(model)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert lifecycle.purge_deleted() == 1

    assert backend.stored() == {keep.artifacts["adapter_config.json"]}


def test_deleting_an_account_leaves_nothing_of_it(alice, bob, backend, django_capture_on_commit_callbacks):
    first, second = make_artifact(alice), make_artifact(alice)
    add_file(first, "adapter_model.safetensors", b"w" * 100)
    add_file(second, "adapter_config.json", b"{}")
    store(nested_keys(artifact_prefix(alice.pk, first.pk), 105))
    store([f"{alice.pk}/{uuid.uuid4()}/.upload-k3.part", f"{alice.pk}/{uuid.uuid4()}/adapter_model.safetensors"])
    lifecycle.soft_delete(second)  # deleted models go too
    bobs = make_artifact(bob)
    add_file(bobs, "adapter_config.json", b"{}")

    with django_capture_on_commit_callbacks(execute=True):
        alice.delete()

    assert backend.stored() == {bobs.artifacts["adapter_config.json"]}


def test_a_rolled_back_account_deletion_keeps_the_objects(alice, backend, django_capture_on_commit_callbacks):
    from django.db import transaction

    model = make_artifact(alice)
    add_file(model, "adapter_config.json", b"{}")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        alice.delete()
        raise RuntimeError("the admin's request failed")
    assert callbacks == []
    assert backend.stored() == {model.artifacts["adapter_config.json"]}
