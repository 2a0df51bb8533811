"""One large remote file fetched as parallel Range requests, handed out in file order.

Many object stores and proxies cap the rate of each connection; ``GPU_CLUSTER_STREAMS`` connections
then move a file that many times as fast (DESIGN §13). The file is cut into ``PIECE_SIZE`` pieces;
each of ``streams`` threads takes the next piece nobody has asked for yet and fetches it with
``Range: bytes=a-b`` (RFC 9110 §14.2) with ``If-Range`` (§13.1.5) naming the first answer's
strong ETag, and each piece's own ETag must be that one too, so that pieces of two versions of a file
are never spliced, even by a server that ignores ``If-Range``. Without a strong ETag (a date is too
coarse a validator, §13.1.5) the file is read as one stream.

The caller receives the pieces in order, chunk by chunk as they arrive, and the digest is updated
in that order, so the checksum, the inspector and the storage see one ordinary stream. Workers run
at most ``2 x streams`` pieces ahead of the caller: memory is bounded by that window whatever the
file's size.

A piece whose connection is cut continues with a Range for the rest of that piece (nothing received
is asked for twice). A server that answers a Range with anything but the asked part (200: it ignores
Range, or the file changed; another Content-Range) makes the file start again (:class:`RestartFile`).
:func:`open_body` asks for the first piece before choosing: a server that ignores or refuses
Range (200, 400, 416, 501) is read as one stream (``RemoteBody``).
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from artifacts.cluster import ClusterClient, ClusterError, RemoteFile, RetryNow
from artifacts.services.ingest.remote_body import (
    CONTENT_RANGE,
    CUT_ERRORS,
    READ_SIZE,
    RemoteBody,
    RestartFile,
    _encoded,
    part_problem,
)

PIECE_SIZE = 4 * 1024 * 1024
MAX_STREAMS = 16
# What a server that does not serve ranges may answer one (RFC 9110 §14.2: it may also ignore it).
RANGE_REFUSALS = {400, 416, 501}
CLOSE_SECONDS = 5.0
_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class _Stopped(Exception):
    """The caller went away; a fetching thread ends quietly."""


class _NoRanges(Exception):
    """The first answer was not the asked part: read the file as one stream instead."""


def _interrupt(response: requests.Response) -> None:
    """Wake a thread blocked reading ``response`` (closing a socket does not; shutting it down does)."""
    shutdown = getattr(response.raw, "shutdown", None)  # urllib3 >= 2.3
    try:
        if shutdown is not None:
            shutdown()
        else:
            response.close()
    except (OSError, ValueError):  # already closed, or its connection already handed back
        pass


def open_body(client: ClusterClient, remote: RemoteFile, digest: Any, *, streams: int) -> Any:
    """The body to read ``remote`` through: in parallel ranges when that can help, else one stream.

    Parallel fetching needs the file's size up front (the listing's), at least two pieces, and a
    server that answers Range; anything else is read as one stream."""
    streams = max(1, min(streams, MAX_STREAMS))
    if streams > 1 and remote.size is not None and remote.size >= 2 * PIECE_SIZE:
        return _Chosen(client, remote, digest, streams)
    return RemoteBody(client, remote, digest)


class _Chosen:
    """Enters a :class:`RangedBody`, or a ``RemoteBody`` when the server does not serve ranges."""

    def __init__(self, client: ClusterClient, remote: RemoteFile, digest: Any, streams: int):
        self.args = (client, remote, digest)
        self.streams = streams
        self.body: Any = None

    def __enter__(self) -> Any:
        ranged = RangedBody(*self.args, streams=self.streams)
        try:
            self.body = ranged.__enter__()
        except _NoRanges:
            self.body = RemoteBody(*self.args).__enter__()
        return self.body

    def __exit__(self, *exc: object) -> None:
        if self.body is not None:
            self.body.close()


class RangedBody:
    """``with RangedBody(client, remote, hashlib.sha256(), streams=4) as body: for chunk in body: ...``"""

    def __init__(
        self,
        client: ClusterClient,
        remote: RemoteFile,
        digest: Any,
        *,
        streams: int,
        piece_size: int | None = None,
        read_size: int = READ_SIZE,
    ):
        self.client = client
        self.remote = remote
        self.digest = digest
        self.streams = streams
        self.piece_size = piece_size or PIECE_SIZE
        self.read_size = read_size
        self.received = 0
        self.total = 0
        self.headers: Any = CaseInsensitiveDict()
        self._validator = ""
        self._count = 0
        self._window = 2 * streams
        self._cond = threading.Condition()
        self._claimed = 0  # pieces handed to fetching threads so far
        self._delivering = 0  # the piece the caller is reading
        self._pieces: dict[int, queue.SimpleQueue[Any]] = {}
        self._responses: set[requests.Response] = set()
        self._first: requests.Response | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sessions: list[requests.Session] = []

    # --- the caller's side -----------------------------------------------------------------------
    def __enter__(self) -> RangedBody:
        end = self.piece_size
        try:
            response = self.client.file_response(
                self.remote, {"Accept-Encoding": "identity", "Range": f"bytes=0-{end - 1}"}
            )
        except ClusterError as exc:
            if exc.response is not None and exc.response.status_code in RANGE_REFUSALS:
                raise _NoRanges from exc
            raise
        match = CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
        if response.status_code != 206 or _encoded(response) or match is None or match[3] == "*":
            response.close()
            raise _NoRanges
        total = int(match[3])
        if (int(match[1]), int(match[2])) != (0, min(end, total) - 1) or total != self.remote.size:
            response.close()
            raise _NoRanges
        self.total = total
        self._count = -(-total // self.piece_size)
        validator = response.headers.get("ETag", "")
        if not validator or validator.startswith("W/"):  # nothing to hold every piece to
            response.close()
            raise _NoRanges
        self._validator = validator
        # What a whole-file answer would have said: the caller checks the length against the listing.
        self.headers = CaseInsensitiveDict({"Content-Length": str(total)})
        for name in ("ETag", "Last-Modified", "Content-Type"):
            if name in response.headers:
                self.headers[name] = response.headers[name]
        self._first = response
        self._responses.add(response)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        if not self._threads:
            for number in range(min(self.streams, self._count)):
                thread = threading.Thread(
                    target=self._work, args=(self._client_for(number),), name=f"fetch {self.remote.name} #{number}"
                )
                thread.daemon = True
                thread.start()
                self._threads.append(thread)
        for index in range(self._count):
            with self._cond:
                while index not in self._pieces:
                    self._cond.wait()
                piece = self._pieces[index]
            while True:
                item = piece.get()
                if item is _END:
                    break
                if isinstance(item, _Failed):
                    raise item.error
                self.digest.update(item)
                self.received += len(item)
                yield item
            with self._cond:
                del self._pieces[index]
                self._delivering = index + 1
                self._cond.notify_all()

    def close(self) -> None:
        """Stop the fetching threads: wake any blocked in a read, then wait for them, 5 s in all."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            self._pieces.clear()  # free what was fetched ahead
        for response in list(self._responses):
            _interrupt(response)
        deadline = time.monotonic() + CLOSE_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for response in list(self._responses):
            response.close()
        for session in self._sessions:
            session.close()

    # --- the fetching threads --------------------------------------------------------------------
    def _client_for(self, number: int) -> ClusterClient:
        """A client with a session of its own (requests sessions are not shared across threads)."""
        twin = copy.copy(self.client)
        twin.session = requests.Session()
        twin.session.trust_env = False
        self._sessions.append(twin.session)
        return twin

    def _work(self, client: ClusterClient) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop.is_set() or self._claimed >= self._count:
                        return
                    if self._claimed < self._delivering + self._window:
                        break
                    self._cond.wait()
                index = self._claimed
                self._claimed += 1
                piece: queue.SimpleQueue[Any] = queue.SimpleQueue()
                self._pieces[index] = piece
                self._cond.notify_all()
            try:
                self._fetch(client, index, piece)
            except _Stopped:
                return
            except BaseException as exc:  # handed to the caller, who raises it
                piece.put(_Failed(exc))
                return

    def _fetch(self, client: ClusterClient, index: int, piece: queue.SimpleQueue[Any]) -> None:
        start = index * self.piece_size
        end = min(self.total, start + self.piece_size)
        got = 0
        resumes = 0
        if index == 0 and self._first is not None:
            response, self._first = self._first, None
        else:
            response = self._open_part(client, start, end, None)
        try:
            while got < end - start:
                if self._stop.is_set():
                    raise _Stopped
                error: BaseException | None = None
                try:
                    data = response.raw.read(min(self.read_size, end - start - got), decode_content=False)
                except CUT_ERRORS as exc:
                    data, error = b"", exc
                if data:
                    got += len(data)
                    piece.put(data)
                    continue
                # The connection closed before the piece was complete: ask for the rest of it.
                self._release(response)
                if self._stop.is_set():
                    raise _Stopped
                if resumes >= client.retries:
                    raise RetryNow(f"{self._cut(start + got)}; gave up after {resumes} resumes") from error
                if resumes:
                    client.sleep(client._delay(resumes - 1))
                resumes += 1
                response = self._open_part(client, start + got, end, error)
        finally:
            self._release(response)
        piece.put(_END)

    def _release(self, response: requests.Response) -> None:
        response.close()
        self._responses.discard(response)

    def _cut(self, position: int) -> str:
        return f"{self.remote.name}: truncated body: a connection closed at byte {position:,} of {self.total:,}"

    def _open_part(self, client: ClusterClient, start: int, end: int, error: BaseException | None) -> requests.Response:
        if self._stop.is_set():
            raise _Stopped
        headers = {"Accept-Encoding": "identity", "Range": f"bytes={start}-{end - 1}", "If-Range": self._validator}
        response = client.file_response(self.remote, headers)
        self._responses.add(response)
        problem = self._part_problem(response, start, end)
        if problem:
            self._release(response)
            raise RestartFile(f"{self.remote.name}: cannot fetch bytes {start:,}-{end - 1:,}: {problem}") from error
        return response

    def _part_problem(self, response: requests.Response, start: int, end: int) -> str:
        """Why this answer is not bytes [start, end) of the same file, or "" when it is."""
        if response.status_code == 200 or response.headers.get("ETag", self._validator) != self._validator:
            return "the file changed on the cluster while it was being fetched"
        return part_problem(response, start, end, self.total)
