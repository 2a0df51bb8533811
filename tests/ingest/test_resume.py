"""A connection cut mid-file continues where it stopped (Range, If-Range), or starts the file again."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from artifacts.cluster import ClusterClient, RemoteFile
from artifacts.services.ingest.remote_body import READ_SIZE
from artifacts.services.ingest.transfer import transfer_file
from tests.ingest_fakes import FakeProgress, RecordingInspector, send_then_drop

DATA = bytes(range(256)) * (4096 * 3) + b"tail"  # 3 MiB and a bit: several read chunks
ETAG = '"v1-abc"'


class Cluster(ThreadingHTTPServer):
    """Serves ``DATA``; the first ``cuts`` answers stop after ``cut_at`` bytes and drop the connection.

    ``range_mode``: "honour" (206 with the asked part), "ignore" (always 200) or "wrong" (206 with
    a Content-Range other than asked).
    """

    daemon_threads = True

    def __init__(self, *, cut_at: int, cuts: int = 1, range_mode: str = "honour", etag: str | None = ETAG):
        super().__init__(("127.0.0.1", 0), Handler)
        self.cut_at, self.cuts, self.range_mode, self.etag = cut_at, cuts, range_mode, etag
        self.requests: list[dict[str, str]] = []
        self.bytes_sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/adapter_model.safetensors"


class Handler(BaseHTTPRequestHandler):
    server: Cluster

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        server.requests.append({k: v for k, v in self.headers.items()})
        start = 0
        asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        matches = self.headers.get("If-Range") in (None, server.etag)
        if asked and server.range_mode != "ignore" and matches:
            start = int(asked[1])
            shown = start + 1 if server.range_mode == "wrong" else start
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {shown}-{len(DATA) - 1}/{len(DATA)}")
        else:
            self.send_response(200)
        if server.etag:
            self.send_header("ETag", server.etag)
        self.send_header("Content-Length", str(len(DATA) - start))
        self.end_headers()
        body = DATA[start:]
        if server.cuts > 0:
            server.cuts -= 1
            body = body[: max(0, server.cut_at - start)]
            server.bytes_sent += len(body)  # before the write: the test may check once the client has read
            send_then_drop(self, body)
            return
        server.bytes_sent += len(body)
        self.wfile.write(body)


@pytest.fixture
def serve():
    servers: list[Cluster] = []

    def start(**kwargs) -> Cluster:
        server = Cluster(**kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def remote(server: Cluster, *, sha: bool = True) -> RemoteFile:
    return RemoteFile(
        name="adapter_model.safetensors",
        url=server.url,
        size=len(DATA),
        sha256=hashlib.sha256(DATA).hexdigest() if sha else None,
    )


def fetch(server: Cluster, artifact_root, inspector=None, **remote_kwargs):
    client = ClusterClient(base_url="http://cluster.invalid", api_key="k")
    progress = FakeProgress()
    stored = transfer_file(
        client, remote(server, **remote_kwargs), "u/a/adapter_model.safetensors", progress, inspector
    )
    return stored, progress, (artifact_root / "u/a/adapter_model.safetensors").read_bytes()


@pytest.mark.parametrize("cut_at", [READ_SIZE + 12345, 2 * READ_SIZE, 1])
def test_a_cut_connection_resumes_where_it_stopped(serve, artifact_root, no_retry_sleep, cut_at):
    server = serve(cut_at=cut_at)
    inspector = RecordingInspector()
    stored, progress, body = fetch(server, artifact_root, inspector)

    assert body == DATA
    assert stored.size == len(DATA) and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert len(server.requests) == 2
    assert server.requests[1]["Range"] == f"bytes={cut_at}-"  # nothing received is fetched again
    assert server.requests[1]["If-Range"] == ETAG
    assert server.bytes_sent == len(DATA)
    assert progress.bytes_done == len(DATA)
    # The inspector saw each byte once, in order, in one pass over the file.
    assert inspector.calls == [
        ("start", "adapter_model.safetensors", len(DATA)),
        ("end", "adapter_model.safetensors", len(DATA)),
    ]
    assert bytes(inspector.fed) == DATA
    assert no_retry_sleep == []  # a one-off cut continues at once


def test_last_modified_validates_the_resume_without_an_etag(serve, artifact_root, no_retry_sleep, monkeypatch):
    server = serve(cut_at=READ_SIZE + 1, etag=None)
    original = Handler.end_headers

    def with_last_modified(handler):
        handler.send_header("Last-Modified", "Wed, 25 Nov 2026 10:00:00 GMT")
        original(handler)

    monkeypatch.setattr(Handler, "end_headers", with_last_modified)
    _, _, body = fetch(server, artifact_root)
    assert body == DATA
    assert server.requests[1]["If-Range"] == "Wed, 25 Nov 2026 10:00:00 GMT"


@pytest.mark.parametrize("range_mode", ["ignore", "wrong"])
def test_a_server_that_cannot_resume_makes_the_file_start_again(serve, artifact_root, no_retry_sleep, range_mode):
    server = serve(cut_at=READ_SIZE + 7, range_mode=range_mode)
    inspector = RecordingInspector()
    stored, progress, body = fetch(server, artifact_root, inspector)

    assert body == DATA and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert [r.get("Range") for r in server.requests] == [None, f"bytes={READ_SIZE + 7}-", None]
    assert progress.bytes_done == len(DATA)  # the count started again with the file
    starts = [call for call in inspector.calls if call[0] == "start"]
    assert len(starts) == 2 and bytes(inspector.fed) == DATA


def test_repeated_cuts_resume_each_time_then_back_off(serve, artifact_root, no_retry_sleep):
    server = serve(cut_at=READ_SIZE, cuts=3)  # the resumed requests are cut at once too
    _, _, body = fetch(server, artifact_root)
    assert body == DATA
    assert [r.get("Range") for r in server.requests] == [None] + [f"bytes={READ_SIZE}-"] * 3
    assert len(no_retry_sleep) == 2  # the first resume is immediate


def test_a_link_that_keeps_cutting_ends_the_attempt_as_a_truncated_body(serve, artifact_root, no_retry_sleep):
    from artifacts.cluster import RetryLater

    server = serve(cut_at=READ_SIZE, cuts=1000)
    with pytest.raises(RetryLater, match="truncated body"):
        fetch(server, artifact_root)
    assert list(artifact_root.rglob("*.part")) == []
    assert not (artifact_root / "u/a/adapter_model.safetensors").exists()


def test_a_storage_failure_mid_file_stops_the_reading_thread(serve, artifact_root, monkeypatch):
    import errno

    from artifacts.storage.local import LocalArtifactStorage

    def fill_disk_after_one_chunk(self, key, chunks):
        next(iter(chunks))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalArtifactStorage, "save_stream", fill_disk_after_one_chunk)
    server = serve(cut_at=0, cuts=0)
    with pytest.raises(OSError, match="No space left"):
        fetch(server, artifact_root)
    assert not [t for t in threading.enumerate() if t.name.startswith("fetch ") and t.is_alive()]
