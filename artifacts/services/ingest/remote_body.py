"""One remote file's body, read off the network on a thread of its own and resumed after a cut.

The reading thread only receives: each chunk goes through a small bounded queue to the caller's
thread, which hashes it before it hands it on, then stores it while the next ones arrive. Socket
reads, hashlib and file writes all release the GIL on large buffers, so receiving runs beside
hashing and storing; profiled, receiving and hashing on one thread made that thread the whole
ingest's bottleneck while the storing thread waited. Memory stays at most ``QUEUE_DEPTH`` chunks.
The digest covers every chunk the caller has seen, in order, across resumes.

A connection cut mid-body continues where it stopped: ``Range: bytes=N-``, validated with
``If-Range`` (the first answer's ETag, else its Last-Modified) so a file that changed meanwhile is
never spliced. Nothing already received is fetched again; the chunk being read when the connection
broke is the most that is lost. A server that ignores Range (answers 200), answers another
``Content-Range`` than asked or a file of another length cannot continue: :class:`RestartFile`
makes the caller start the file again from byte zero.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from typing import Any

import requests
import urllib3

from artifacts.cluster import ClusterClient, RemoteFile, RetryNow

READ_SIZE = 1024 * 1024
# Chunks received ahead of the caller. Two keep the reader busy: a 1 GiB ingest to local storage took
# 1.37 s with two and 1.36 s with eight, and its peak RSS fell from 102 to 96 MB (an S3 upload
# already holds a part being filled ahead of the parts in flight).
QUEUE_DEPTH = 2
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
# What a cut connection raises from ``response.raw.read``.
CUT_ERRORS = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)
_END = object()


class RestartFile(RetryNow):
    """The body was cut and the server cannot continue it where it stopped: start the file again."""


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class _Stopped(Exception):
    """The consumer went away; the reading thread ends quietly."""


def _declared_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _encoded(response: requests.Response) -> bool:
    return response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def part_problem(response: requests.Response, start: int, end: int, total: int) -> str:
    """Why ``response`` is not bytes [start, end) of a ``total``-byte file, or "" when it is
    (RFC 9110 §14.4: a 206 whose Content-Range names exactly the asked part, not content-encoded)."""
    if response.status_code != 206:
        return f"the server answered HTTP {response.status_code} to a Range request"
    if _encoded(response):
        return "the part is content-encoded"
    match = CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
    if match is None:
        return f"unexpected Content-Range {response.headers.get('Content-Range')!r}"
    if (int(match[1]), int(match[2])) != (start, end - 1) or (match[3] != "*" and int(match[3]) != total):
        return f"Content-Range {match[0]!r} is not bytes {start}-{end - 1}/{total}"
    length = _declared_length(response)
    if length is not None and length != end - start:
        return f"Content-Length {length} does not match Content-Range {match[0]!r}"
    return ""


class RemoteBody:
    """``with RemoteBody(client, remote, hashlib.sha256()) as body: for chunk in body: ...``

    Entering opens the first request in the caller's thread, so an HTTP error status raises there
    (as :meth:`ClusterClient.open_file` does); ``headers`` are that first answer's headers.
    """

    def __init__(
        self,
        client: ClusterClient,
        remote: RemoteFile,
        digest: Any,
        *,
        read_size: int = READ_SIZE,
        depth: int = QUEUE_DEPTH,
    ):
        self.client = client
        self.remote = remote
        self.digest = digest  # a hashlib object, updated with each chunk in order as it is handed over
        self.read_size = read_size
        self.received = 0
        self.resumes = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: requests.Response | None = None
        self.headers: Any = {}
        self.total: int | None = None
        self._decode = False
        self._validator = ""

    # --- the caller's side -----------------------------------------------------------------------
    def __enter__(self) -> RemoteBody:
        self._response = self._open({"Accept-Encoding": "identity"})
        self.headers = self._response.headers
        self.total = _declared_length(self._response) if not _encoded(self._response) else None
        self._decode = _encoded(self._response)
        validator = self.headers.get("ETag", "")
        if not validator or validator.startswith("W/"):  # If-Range takes only a strong ETag
            validator = self.headers.get("Last-Modified", "")
        self._validator = validator
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"fetch {self.remote.name}", daemon=True)
            self._thread.start()
        get, update = self._queue.get, self.digest.update
        while True:
            item = get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            update(item)
            yield item

    def close(self) -> None:
        self._stop.set()
        while True:  # free the queued chunks and unblock the reader
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                return  # stuck in a read: it ends at the read timeout, and its response with it
        if self._response is not None:
            self._response.close()

    # --- the reading thread ----------------------------------------------------------------------
    def _open(self, headers: dict[str, str]) -> requests.Response:
        return self.client.file_response(self.remote, headers)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _run(self) -> None:
        try:
            while True:
                response = self._response
                assert response is not None
                try:
                    data = response.raw.read(self.read_size, decode_content=self._decode)
                except CUT_ERRORS as exc:
                    self._resume(exc)
                    continue
                if data:
                    self.received += len(data)
                    self._put(data)
                    continue
                if self.total is not None and self.received < self.total:  # closed without an error
                    self._resume(None)
                    continue
                self._put(_END)
                return
        except _Stopped:
            if self._response is not None:  # the caller may have left without waiting for us
                self._response.close()
        except BaseException as exc:  # handed to the consumer, who raises it
            try:
                self._put(_Failed(exc))
            except _Stopped:
                return

    def _cut(self, error: BaseException | None) -> str:
        expected = f" of {self.total}" if self.total is not None else ""
        why = f" ({type(error).__name__})" if error is not None else ""
        return f"{self.remote.name}: truncated body: the connection closed after {self.received}{expected} bytes{why}"

    def _resume(self, error: BaseException | None) -> None:
        """Open the rest of the body, or raise: RetryNow when out of tries, RestartFile when it cannot."""
        if self._stop.is_set():  # the caller closed the body (and maybe the connection under us)
            raise _Stopped
        message = self._cut(error)
        if self._response is not None:
            self._response.close()
            self._response = None
        if self.total is None or self._decode:
            raise RetryNow(message) from error  # no length to check a part against: start again
        if self.resumes >= self.client.retries:
            raise RetryNow(f"{message}; gave up after {self.resumes} resumes") from error
        if self.resumes:  # a one-off reset continues at once, a flapping link backs off
            self.client.sleep(self.client._delay(self.resumes - 1))
        self.resumes += 1
        headers = {"Accept-Encoding": "identity", "Range": f"bytes={self.received}-"}
        if self._validator:
            headers["If-Range"] = self._validator
        response = self._open(headers)
        self._response = response
        if self._stop.is_set():
            response.close()
            raise _Stopped
        problem = self._partial_problem(response)
        if problem:
            response.close()
            self._response = None
            raise RestartFile(f"{message}; cannot resume: {problem}") from error

    def _partial_problem(self, response: requests.Response) -> str:
        """Why this answer is not the rest of the same file, or "" when it is."""
        if self.total is None:
            return "the file's length is unknown"
        return part_problem(response, self.received, self.total, self.total)
