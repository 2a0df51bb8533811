"""The Supabase backend against a fake built from the real server's documented behaviour
(``tests/storage/supabase_fake.py`` cites the sources): list pagination, the key charset, storage3's
percent-decoding, 413 over the size limit, a missing bucket, and passing faults."""

from __future__ import annotations

import pytest
from storage3.exceptions import StorageApiError

from artifacts.storage.keys import storage_key
from artifacts.storage.seam import StorageRefused
from artifacts.storage.supabase import SupabaseArtifactStorage
from tests.storage.supabase_fake import VALID_KEY, FakeSupabaseStorage

PREFIX = "u1/a1/"


@pytest.fixture
def server() -> FakeSupabaseStorage:
    return FakeSupabaseStorage()


def backend(server: FakeSupabaseStorage, bucket: str = "lora-models") -> SupabaseArtifactStorage:
    return SupabaseArtifactStorage(
        url="https://project.supabase.test", key="service-key", bucket=bucket, http_client=server.client()
    )


def test_the_fake_pages_like_the_server(server):
    server.objects = {f"u1/a1/f{i:03}.bin": b"x" for i in range(150)}
    bucket = backend(server).bucket
    assert len(bucket.list("u1/a1")) == 100  # storage3's default page: the old clear_prefix's horizon
    assert [e["name"] for e in bucket.list("u1/a1", {"limit": 100, "offset": 100})][:1] == ["f100.bin"]


@pytest.mark.parametrize("count", [110, 120, 200, 201])
def test_clear_prefix_removes_every_object_however_many_pages(server, count):
    server.objects = {f"u1/a1/f{i:03}.bin": b"x" for i in range(count)}
    server.objects["u1/a2/keep.bin"] = b"other artifact"
    backend(server).clear_prefix(PREFIX)
    assert list(server.objects) == ["u1/a2/keep.bin"]
    assert [call["offset"] for call in server.list_calls] == list(range(0, count // 100 * 100 + 1, 100))


def test_percent_decoding_makes_two_raw_names_one_object(server):
    """Why keys are mapped: given as-is, ``a%20b.bin`` overwrites ``a b.bin``."""
    storage = backend(server)
    storage.save_stream(PREFIX + "a b.bin", [b"first"])
    storage.save_stream(PREFIX + "a%20b.bin", [b"second"])
    assert server.objects == {"u1/a1/a b.bin": b"second"}


NAMES = [
    "adapter_model.safetensors",
    "a b.bin",
    "a%20b.bin",
    "a%2520b.bin",
    "модель.safetensors",
    "naïve.json",
    'quote".bin',
    "hash#tag.bin",
    "<angle>[square]^{brace}|~`.bin",
    "100%.bin",
    "!bang.bin",
    "!*21bang.bin",
    "é" * 127,  # 254 bytes: too long escaped, so hashed
]


def test_every_valid_name_gets_its_own_object_the_server_accepts(server):
    storage = backend(server)
    keys = [storage_key("u1", "a1", name) for name in NAMES]
    for key, name in zip(keys, NAMES, strict=True):
        storage.save_stream(key, [name.encode()])
    assert len(set(keys)) == len(NAMES)
    assert sorted(server.objects.values()) == sorted(name.encode() for name in NAMES)  # nothing overwritten
    assert all(VALID_KEY.match(key) for key in server.objects)


@pytest.mark.parametrize("name", ["x#y.bin", "модель.bin", "a[1].bin"])
def test_a_key_outside_the_charset_is_refused_for_good(server, name):
    with pytest.raises(StorageRefused, match="400 InvalidKey"):
        backend(server).save_stream(PREFIX + name, [b"x"])


def test_over_the_size_limit_is_refused_for_good(server):
    server.file_size_limit = 10
    with pytest.raises(StorageRefused, match="413"):
        backend(server).save_stream(PREFIX + "big.bin", [b"x" * 11])


def test_a_missing_bucket_is_refused_for_good(server):
    with pytest.raises(StorageRefused, match="404 Bucket not found"):
        backend(server, bucket="no-such-bucket").save_stream(PREFIX + "a.bin", [b"x"])


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_stay_retryable(server, status):
    server.fail_uploads_with = status
    with pytest.raises(StorageApiError) as caught:
        backend(server).save_stream(PREFIX + "a.bin", [b"x"])
    assert not isinstance(caught.value, StorageRefused)
