"""One file-name rule for every backend (``artifacts.storage.keys``): a valid cluster name stores under a
key every backend holds, no two names share a key, and downloads keep the original name."""

from __future__ import annotations

import boto3
import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from artifacts.cluster import NeverRetry, validate_filename
from artifacts.models import ArtifactFile, ModelArtifact
from artifacts.services.ingest import Outcome, ingest
from artifacts.storage.keys import KEPT, MAX_LEAF_BYTES, leaf_name, storage_key, storage_leaf
from artifacts.storage.s3 import S3ArtifactStorage
from artifacts.storage.signing import content_disposition
from tests.ingest_fakes import finished_job, serve, stored_files, use_fake_cluster
from tests.storage.supabase_fake import VALID_KEY


def valid_name(name: str) -> bool:
    try:
        validate_filename(name)
    except NeverRetry:
        return False
    return True


names = st.text(min_size=1, max_size=120).filter(valid_name)


@settings(max_examples=300, derandomize=True)
@given(names, names)
def test_two_names_never_share_a_key(first, second):
    if first != second:
        assert storage_leaf(first) != storage_leaf(second)


@settings(max_examples=300, derandomize=True)
@given(names)
def test_every_leaf_is_portable_and_reversible(name):
    leaf = storage_leaf(name)
    assert VALID_KEY.match(leaf) and "%" not in leaf and "/" not in leaf
    assert len(leaf.encode()) <= MAX_LEAF_BYTES
    assert leaf_name(leaf) in (name, None)


@pytest.mark.parametrize(
    ("name", "leaf"),
    [
        ("adapter_model.safetensors", "adapter_model.safetensors"),
        ("my adapter (v2).bin", "my adapter (v2).bin"),
        ("a%20b.bin", "!a*2520b.bin"),
        ("x#y.bin", "!x*23y.bin"),
        ("!bang", "!*21bang"),
        ("модель.bin", "!*D0*BC*D0*BE*D0*B4*D0*B5*D0*BB*D1*8C.bin"),
    ],
)
def test_plain_names_are_kept_and_others_escaped_readably(name, leaf):
    assert storage_leaf(name) == leaf
    assert leaf_name(leaf) == name
    assert storage_key("u", "a", name) == f"u/a/{leaf}"


def test_names_too_long_to_escape_are_hashed():
    name = "é" * 127
    assert storage_leaf(name).startswith("!!") and len(storage_leaf(name)) == 66
    assert all(char in KEPT for char in storage_leaf(name))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("nul\x00byte.bin", "U+0000"),
        ("bell\x07.bin", "U+0007"),
        ("rtl\u202egnp.exe", "U+202E"),
        ("dir/file.bin", "'/'"),
        ("dir\\file.bin", "'\\\\'"),
    ],
)
def test_invalid_names_fail_naming_the_character(name, reason):
    with pytest.raises(NeverRetry, match=reason.replace("+", r"\+").replace("\\\\", r"\\\\")):
        validate_filename(name)


AWKWARD = {
    "adapter_config.json": b'{"r": 16}',
    "a b.bin": b"space",
    "a%20b.bin": b"percent",
    "модель.bin": b"cyrillic",
    "x#y[1].bin": b"punctuation",
}


@pytest.mark.django_db
@responses.activate
def test_awkward_names_ingest_and_download_under_their_own_names(settings, alice, alice_client, artifact_root):
    use_fake_cluster(settings)
    job = finished_job(alice)
    serve(responses, files=AWKWARD)
    assert ingest(job).outcome is Outcome.STORED
    artifact = ModelArtifact.objects.get(job=job)
    rows = {row.filename: row for row in ArtifactFile.objects.filter(artifact=artifact)}
    assert set(rows) == set(AWKWARD)
    assert len(stored_files(artifact_root)) == len(AWKWARD)  # nothing overwrote anything
    assert {row.key for row in rows.values()} == {storage_key(alice.id, artifact.id, name) for name in AWKWARD}
    grant = alice_client.post(
        f"/api/models/{artifact.id}/download", data={"files": list(AWKWARD)}, content_type="application/json"
    )
    for name, url in grant.json()["data"]["download_urls"].items():
        response = alice_client.get(url.removeprefix("http://testserver"))
        assert b"".join(response.streaming_content) == AWKWARD[name]
        assert response["Content-Disposition"] == content_disposition(name)


@pytest.mark.parametrize("count", [110, 120])
def test_s3_clear_prefix_removes_every_page(count):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="lora-models")
        for i in range(count):
            client.put_object(Bucket="lora-models", Key=f"u1/a1/f{i:04}.bin", Body=b"x")
        client.put_object(Bucket="lora-models", Key="u1/a2/keep.bin", Body=b"x")
        storage = S3ArtifactStorage(bucket_name="lora-models", region_name="us-east-1")
        storage.list_page_size = 50  # S3's page is 1000; a small one shows paging without 1000s of objects
        storage.clear_prefix("u1/a1/")
        left = [o["Key"] for o in client.list_objects_v2(Bucket="lora-models").get("Contents", [])]
    assert left == ["u1/a2/keep.bin"]
