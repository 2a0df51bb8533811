"""Large files fetched as parallel Range requests (GPU_CLUSTER_STREAMS) arrive whole, in order, once."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from artifacts.cluster import ClusterClient, RemoteFile
from artifacts.services.ingest import ranged_body
from artifacts.services.ingest.ranged_body import RangedBody
from artifacts.services.ingest.transfer import transfer_file
from tests.ingest_fakes import FakeProgress, RecordingInspector, send_then_drop

PIECE = 64 * 1024
DATA = hashlib.sha256(b"seed").digest() * (PIECE * 10 // 32) + b"a tail of a piece"  # ten pieces and a bit
KEY = "u/a/adapter_model.safetensors"


class Cluster(ThreadingHTTPServer):
    """Serves ``DATA`` and honours ``Range: bytes=a-b`` unless told otherwise.

    ``cut_once_at``: the first answer that covers this byte stops there and drops the connection.
    ``ignore_ranges``: always 200 with the whole file. ``change_after``: after that many requests the
    file's ETag changes, so an ``If-Range`` with the old one gets the whole (new) file with 200.
    """

    daemon_threads = True

    def __init__(
        self,
        *,
        cut_once_at: int | None = None,
        ignore_ranges: bool = False,
        change_after: int = 0,
        ignore_if_range: bool = False,
        weak_etag: bool = False,
        refuse_ranges: int = 0,
        stall_at: int | None = None,
    ):
        super().__init__(("127.0.0.1", 0), Handler)
        self.cut_once_at = cut_once_at
        self.ignore_ranges = ignore_ranges
        self.change_after = change_after
        self.ignore_if_range = ignore_if_range
        self.weak_etag = weak_etag
        self.refuse_ranges = refuse_ranges  # an error status for any Range request
        self.stall_at = stall_at  # a byte where every answer stops sending (until shutdown)
        self.stop = threading.Event()
        self.requests: list[dict[str, str]] = []
        self.bytes_sent = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/adapter_model.safetensors"

    def etag(self) -> str:
        tag = '"v2"' if self.change_after and len(self.requests) > self.change_after else '"v1"'
        return f"W/{tag}" if self.weak_etag else tag


class Handler(BaseHTTPRequestHandler):
    server: Cluster
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.requests.append(dict(self.headers.items()))
            etag = server.etag()
        start, end = 0, len(DATA)
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        if asked and server.refuse_ranges:
            self.send_response(server.refuse_ranges)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if asked and not server.ignore_ranges and (server.ignore_if_range or if_range in (None, etag)):
            start = int(asked[1])
            end = min(len(DATA), int(asked[2]) + 1) if asked[2] else len(DATA)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(DATA)}")
        else:
            self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        body = DATA[start:end]
        if server.stall_at is not None and start <= server.stall_at < end:
            self.wfile.write(body[: server.stall_at - start])
            self.wfile.flush()
            server.stop.wait(30)  # a server that stops sending without closing
            return
        cut = server.cut_once_at
        if cut is not None and start <= cut < end:
            server.cut_once_at = None
            body = body[: cut - start]
        # Counted before the write: the client can read the last bytes, finish, and the test check
        # the count before this thread runs on past the write.
        with server.lock:
            server.bytes_sent += len(body)
        if len(body) < end - start:
            send_then_drop(self, body)
        else:
            self.wfile.write(body)


@pytest.fixture
def serve(monkeypatch):
    monkeypatch.setattr(ranged_body, "PIECE_SIZE", PIECE)
    servers: list[Cluster] = []

    def start(**kwargs) -> Cluster:
        server = Cluster(**kwargs)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


def remote(server: Cluster, *, size: int | None = len(DATA)) -> RemoteFile:
    return RemoteFile(
        name="adapter_model.safetensors", url=server.url, size=size, sha256=hashlib.sha256(DATA).hexdigest()
    )


def fetch(server: Cluster, artifact_root, settings, *, streams: int = 4, size: int | None = len(DATA)):
    settings.GPU_CLUSTER_STREAMS = streams
    client = ClusterClient(base_url="http://cluster.invalid", api_key="k")
    inspector = RecordingInspector()
    progress = FakeProgress()
    stored = transfer_file(client, remote(server, size=size), KEY, progress, inspector)
    return stored, inspector, progress, (artifact_root / KEY).read_bytes()


def ranges(server: Cluster) -> list[str]:
    return sorted((r.get("Range", "") for r in server.requests), key=lambda r: int(r[6:].split("-")[0] or 0))


def test_four_streams_fetch_every_piece_once_and_store_the_file_in_order(serve, artifact_root, settings):
    server = serve()
    stored, inspector, progress, body = fetch(server, artifact_root, settings)

    assert body == DATA
    assert stored.size == len(DATA) and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert bytes(inspector.fed) == DATA  # the inspector saw one ordinary stream
    assert progress.bytes_done == len(DATA)
    pieces = -(-len(DATA) // PIECE)
    expected = [f"bytes={i * PIECE}-{min(len(DATA), (i + 1) * PIECE) - 1}" for i in range(pieces)]
    assert ranges(server) == expected
    assert server.bytes_sent == len(DATA)  # nothing fetched twice
    assert all(r.get("If-Range") == '"v1"' for r in server.requests[1:])


def test_one_stream_a_small_file_or_an_unknown_size_is_one_plain_request(serve, artifact_root, settings, monkeypatch):
    one_stream, unknown_size, small = serve(), serve(), serve()
    _, _, _, body = fetch(one_stream, artifact_root, settings, streams=1)
    _, _, _, body_unknown = fetch(unknown_size, artifact_root, settings, size=None)
    monkeypatch.setattr(ranged_body, "PIECE_SIZE", len(DATA))  # under two pieces
    _, _, _, body_small = fetch(small, artifact_root, settings)

    assert body == body_unknown == body_small == DATA
    for server in (one_stream, unknown_size, small):
        assert len(server.requests) == 1 and "Range" not in server.requests[0]


def test_a_server_that_ignores_ranges_is_read_as_one_stream(serve, artifact_root, settings):
    server = serve(ignore_ranges=True)
    stored, _, _, body = fetch(server, artifact_root, settings)

    assert body == DATA and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert len(server.requests) == 2  # the first piece asked for, answered whole; then one stream
    assert "Range" not in server.requests[1]


def test_a_cut_piece_continues_with_the_rest_of_that_piece(serve, artifact_root, settings, no_retry_sleep):
    cut = 3 * PIECE + 1000
    server = serve(cut_once_at=cut)
    _, _, _, body = fetch(server, artifact_root, settings)

    assert body == DATA
    assert f"bytes={cut}-{4 * PIECE - 1}" in ranges(server)
    assert server.bytes_sent == len(DATA)  # the cut piece's first part is not fetched again


def test_a_file_that_changes_mid_fetch_starts_again_and_is_never_spliced(
    serve, artifact_root, settings, no_retry_sleep
):
    server = serve(change_after=3)
    stored, inspector, _, body = fetch(server, artifact_root, settings)

    assert body == DATA and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert inspector.starts == 2  # the first attempt was abandoned, the second read the file whole
    assert any(r.get("If-Range") == '"v2"' for r in server.requests)


def test_fetching_runs_at_most_two_pieces_per_stream_ahead_of_the_reader(serve, artifact_root):
    server = serve()
    client = ClusterClient(base_url="http://cluster.invalid", api_key="k")
    with RangedBody(client, remote(server), hashlib.sha256(), streams=2, piece_size=PIECE) as body:
        chunks = iter(body)
        first = next(chunks)  # the reader holds its first chunk and goes no further
        deadline = time.monotonic() + 5
        while len(server.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time enough for the threads to run on, were they unbounded
        asked = len(server.requests)

    assert first == DATA[: len(first)]
    assert asked == 4  # 2 streams x 2 pieces, of the eleven


def test_a_server_that_ignores_if_range_cannot_splice_two_versions(serve, artifact_root, settings, no_retry_sleep):
    """Each piece's own ETag must be the first answer's, whether or not the server honours If-Range."""
    server = serve(change_after=3, ignore_if_range=True)
    stored, inspector, _, body = fetch(server, artifact_root, settings)

    assert body == DATA and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert inspector.starts == 2  # the piece tagged "v2" ended the first attempt
    second = server.requests[server.requests.index(next(r for r in server.requests if r.get("If-Range") == '"v2"')) :]
    assert all(r.get("If-Range") == '"v2"' for r in second[1:])


@pytest.mark.parametrize("server_options", [{"weak_etag": True}, {"refuse_ranges": 416}, {"refuse_ranges": 501}])
def test_without_a_strong_etag_or_with_ranges_refused_the_file_is_one_stream(
    serve, artifact_root, settings, server_options
):
    server = serve(**server_options)
    stored, _, _, body = fetch(server, artifact_root, settings)

    assert body == DATA and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert len(server.requests) == 2  # the probe for the first piece, then the whole file at once
    assert "Range" in server.requests[0] and "Range" not in server.requests[1]


def test_leaving_early_wakes_threads_stuck_on_a_silent_server(serve):
    """A storage error mid-file must not leave the ingest waiting on reads that never end."""
    server = serve(stall_at=5 * PIECE + 10)
    client = ClusterClient(base_url="http://cluster.invalid", api_key="k", read_timeout=30)
    with RangedBody(client, remote(server), hashlib.sha256(), streams=4, piece_size=PIECE) as body:
        chunks = iter(body)
        next(chunks)
        deadline = time.monotonic() + 5
        while len(server.requests) < 6 and time.monotonic() < deadline:  # the stalled piece is asked for
            time.sleep(0.01)
        leaving = time.monotonic()
    closed_after = time.monotonic() - leaving

    assert len(server.requests) >= 6
    assert not any(thread.is_alive() for thread in body._threads)  # none left blocked on the silent server
    assert closed_after < 2  # not the 30 s read timeout, nor close()'s 5 s limit
