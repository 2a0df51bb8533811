"""Storing a stream in S3: every byte once, in order, in a fixed amount of memory, never half visible."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import tracemalloc
import zlib

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from artifacts.storage.s3 import S3ArtifactStorage
from artifacts.storage.s3_upload import (
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIB,
    MIN_PART_SIZE,
    ChunkFiller,
    PartBody,
    StreamUpload,
    part_size_for,
)

CHUNKS = [b"abc", b"", bytearray(b"defgh"), memoryview(b"ij"), b"k" * 10]
WHOLE = b"abcdefghij" + b"k" * 10


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 64])
def test_parts_of_any_size_hold_the_stream_in_order(size):
    filler = ChunkFiller(iter(CHUNKS))
    buffer = bytearray(size)
    parts = []
    while filled := filler.fill(buffer, size):
        parts.append(bytes(buffer[:filled]))
    assert b"".join(parts) == WHOLE
    assert all(len(part) == size for part in parts[:-1])  # full parts until the end


def test_a_part_body_reads_seeks_and_rereads_like_a_file():
    body = PartBody(memoryview(bytearray(WHOLE))[:10])
    assert bytes(body.read(4)) == b"abcd"
    assert bytes(body.read()) == b"efghij"
    assert bytes(body.read(5)) == b""
    assert body.seek(0) == 0  # what botocore does before sending again
    target = bytearray(3)
    assert body.readinto(target) == 3 and target == b"abc"
    assert body.seek(0, os.SEEK_END) == 10 and body.tell() == 10


@pytest.mark.parametrize("base", [MIN_PART_SIZE, DEFAULT_PART_SIZE])
def test_part_sizes_grow_so_the_largest_object_fits_in_s3s_part_limit(base):
    assert part_size_for(1, base) == part_size_for(900, base) == base
    assert part_size_for(901, base) == 2 * base
    assert sum(part_size_for(n, base) for n in range(1, MAX_PARTS + 1)) >= 5 * 1024**4  # 5 TiB
    assert part_size_for(MAX_PARTS, base) <= MAX_PART_SIZE


class CountingClient:
    """Takes parts as botocore would (reads, hashes), keeps nothing, and counts what is in flight."""

    class meta:  # noqa: N801 -- the shape of a boto3 client
        class config:  # noqa: N801
            request_checksum_calculation = "when_supported"

    def __init__(self):
        self.lock = threading.Lock()
        self.pulled = 0  # bytes the stream has handed over
        self.stored = 0  # bytes whose part has been sent
        self.most_ahead = 0
        self.parts: dict[int, str] = {}
        self.completed: list[dict] = []

    def chunks(self, total: int, size: int = MIB):
        for _ in range(total // size):
            with self.lock:
                self.pulled += size
                self.most_ahead = max(self.most_ahead, self.pulled - self.stored)
            yield os.urandom(size)

    def create_multipart_upload(self, **kwargs):
        assert kwargs["ChecksumAlgorithm"] == "CRC32"
        return {"UploadId": "u1"}

    def upload_part(self, Body, PartNumber, **kwargs):  # noqa: N803 -- boto3's argument names
        digest = hashlib.sha256()
        for piece in iter(lambda: Body.read(MIB), b""):
            digest.update(piece)
        with self.lock:
            self.stored += Body.tell()
            self.parts[PartNumber] = digest.hexdigest()
        return {"ETag": f'"{PartNumber}"', "ChecksumCRC32": "AAAAAA=="}

    def complete_multipart_upload(self, MultipartUpload, **kwargs):  # noqa: N803
        self.completed = MultipartUpload["Parts"]


def test_memory_stays_at_the_parts_in_flight_whatever_the_object_size():
    client = CountingClient()
    upload = StreamUpload(client, "bucket", "key", part_size=5 * MIB, concurrency=2)
    tracemalloc.start()
    try:
        upload.run(client.chunks(60 * MIB))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(client.completed) == 12
    assert [p["PartNumber"] for p in client.completed] == list(range(1, 13))
    assert all(p["ChecksumCRC32"] for p in client.completed)
    # Three part buffers (two sending, one filling) and the chunk being copied: not 60 MiB, and
    # not the extra joined copies boto3's upload_fileobj makes of a stream.
    assert client.most_ahead <= 3 * 5 * MIB + MIB
    assert peak < 3 * 5 * MIB + 3 * MIB


class FailingClient(CountingClient):
    """S3 refuses part 2; aborting is recorded."""

    aborted = False

    def upload_part(self, Body, PartNumber, **kwargs):  # noqa: N803
        if PartNumber == 2:
            raise ConnectionError("part 2 refused")
        return super().upload_part(Body=Body, PartNumber=PartNumber, **kwargs)

    def abort_multipart_upload(self, **kwargs):
        self.aborted = True


def test_a_failed_part_stops_reading_the_stream_and_aborts():
    """The failure surfaces before the next buffer is filled, not after the whole file was read."""
    client = FailingClient()
    upload = StreamUpload(client, "bucket", "key", part_size=5 * MIB, concurrency=2)
    with pytest.raises(ConnectionError, match="part 2 refused"):
        upload.run(client.chunks(200 * MIB))
    assert client.aborted
    assert not client.completed
    # Parts 1-3 fill the three buffers; the first buffer handed back after part 2 failed raises
    # its error, so at most one more part is read.
    assert client.pulled <= 4 * 5 * MIB


@pytest.fixture(params=["https", "plain-http"])
def s3(request):
    """S3 over HTTPS (moto in process), then over plain HTTP through a real socket (botocore,
    urllib3, moto's server on loopback), where full parts go as their buffers."""
    if request.param == "https":
        with mock_aws():
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="lora-models")
            yield client, S3ArtifactStorage(bucket_name="lora-models", region_name="us-east-1")
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        keys = {"aws_access_key_id": "a", "aws_secret_access_key": "s"}
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, **keys)
        client.create_bucket(Bucket="lora-models")
        storage = S3ArtifactStorage(
            bucket_name="lora-models", region_name="us-east-1", endpoint_url=endpoint, access_key="a", secret_key="s"
        )
        yield client, storage
    finally:
        server.stop()


# Empty, one small request, exactly one full part (a multipart upload of one part), three parts.
@pytest.mark.parametrize("size", [0, 1000, DEFAULT_PART_SIZE, 2 * DEFAULT_PART_SIZE + 7])
def test_a_stream_is_stored_byte_exact(s3, size):
    client, storage = s3
    data = os.urandom(size)
    storage.save_stream("u/a/adapter.bin", (data[i : i + 300_000] for i in range(0, size, 300_000)))
    stored = client.get_object(Bucket="lora-models", Key="u/a/adapter.bin")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "application/octet-stream"
    head = client.head_object(Bucket="lora-models", Key="u/a/adapter.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"]  # each request's checksum was taken (and a multipart one combined)


def test_a_stream_that_fails_leaves_no_object_and_no_parts(s3):
    client, storage = s3

    def chunks():
        yield from (os.urandom(MIB) for _ in range(19))  # two 8 MiB parts sent, a third being filled
        raise ValueError("checksum mismatch")

    with pytest.raises(ValueError, match="checksum mismatch"):
        storage.save_stream("u/a/adapter.bin", chunks())
    assert client.list_objects_v2(Bucket="lora-models").get("KeyCount") == 0
    assert not client.list_multipart_uploads(Bucket="lora-models").get("Uploads")


def test_a_part_s3_refuses_aborts_the_upload_with_s3s_error(s3):
    from botocore.exceptions import ClientError

    client, storage = s3
    storage.bucket_name = "no-such-bucket"
    with pytest.raises(ClientError, match="NoSuchBucket"):
        storage.save_stream("u/a/adapter.bin", (os.urandom(MIB) for _ in range(12)))


def test_every_endpoint_keeps_the_crc32_that_s3_checks_each_part_against():
    """Over HTTPS botocore leaves the body unsigned and the CRC32 is all S3 checks it against; over
    plain HTTP (MinIO, moto) it is kept too, so S3 also stores each part's checksum."""

    def checksum_setting(endpoint):
        storage = S3ArtifactStorage(bucket_name="b", endpoint_url=endpoint, access_key="a", secret_key="s")
        return storage.connection.meta.client.meta.config.request_checksum_calculation

    assert checksum_setting("http://minio:9000") == "when_supported"
    assert checksum_setting("https://project.supabase.co/storage/v1/s3") == "when_supported"


class RecordingClient:
    """Keeps what each part request carried, as botocore would receive it."""

    def __init__(self, endpoint_url: str):
        self.meta = type("meta", (), {"endpoint_url": endpoint_url, "config": CountingClient.meta.config})
        self.requests: dict[int, dict] = {}
        self.completed: list[dict] = []

    def create_multipart_upload(self, **kwargs):
        return {"UploadId": "u1"}

    def upload_part(self, Body, PartNumber, **kwargs):  # noqa: N803 -- boto3's argument names
        data = bytes(Body) if isinstance(Body, bytearray) else Body.read()
        self.requests[PartNumber] = {"file": hasattr(Body, "read"), "data": data, **kwargs}
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, MultipartUpload, **kwargs):  # noqa: N803
        self.completed = MultipartUpload["Parts"]


def crc32_header(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_over_plain_http_full_parts_go_as_their_buffer_with_our_crc32():
    """botocore signs a plain-HTTP body and checksums it in a header: a bytes body costs it one call
    each; the CRC32 in the header (and in the completion) is the part's own."""
    client = RecordingClient("http://minio:9000")
    data = os.urandom(2 * 5 * MIB + 7)
    StreamUpload(client, "bucket", "key", part_size=5 * MIB).run([data[i : i + MIB] for i in range(0, len(data), MIB)])
    parts = [data[: 5 * MIB], data[5 * MIB : 10 * MIB], data[10 * MIB :]]
    assert [client.requests[n]["data"] for n in (1, 2, 3)] == parts
    assert [client.requests[n]["file"] for n in (1, 2, 3)] == [False, False, True]  # the short last part: a view
    assert [client.requests[n]["ChecksumCRC32"] for n in (1, 2, 3)] == [crc32_header(p) for p in parts]
    assert [p["ChecksumCRC32"] for p in client.completed] == [crc32_header(p) for p in parts]


def test_over_https_parts_stay_files_and_botocore_checksums_them():
    client = RecordingClient("https://project.supabase.co/storage/v1/s3")
    data = os.urandom(2 * 5 * MIB)
    StreamUpload(client, "bucket", "key", part_size=5 * MIB).run([data])
    assert [client.requests[n]["file"] for n in (1, 2)] == [True, True]
    assert all(r["ChecksumAlgorithm"] == "CRC32" and "ChecksumCRC32" not in r for r in client.requests.values())
    assert [r["data"] for r in client.requests.values()] == [data[: 5 * MIB], data[5 * MIB :]]
