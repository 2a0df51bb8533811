"""Fetch one signed URL into its partial file, resuming with ``Range`` + ``If-Range``.

The signed URLs are the only credential a download needs, so they are fetched with a client that
carries no API token (they may point at S3 or Supabase). A dropped connection resumes from the
bytes already on disk; an expired or refused link is re-minted through the API
(:class:`UrlBook`) and the transfer goes on from where it stopped.

``If-Range`` carries the ``ETag`` the server sent earlier in this run, else the file's sha256 as a
strong ETag (what the local signed endpoint uses). A server that does not recognise it sends the
whole file (200) and the transfer starts over; either way the finished file is checked against the
API's sha256 before it takes its name.

The partial file is opened once per run (:func:`pipeline_client.disk.open_part`: never through a
symbolic link) and every read, truncation and write goes through that one descriptor.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedRandom
from pathlib import Path
from typing import Any

import httpx

from pipeline_client import retry
from pipeline_client.disk import open_part
from pipeline_client.errors import ClientError, DownloadFailed

MAX_RENEWALS = 3
# Expired links: our local endpoint and S3 answer 403, others 401/410; Supabase says 400 "InvalidJWT".
EXPIRED_STATUSES = {401, 403, 410}
_EXPIRED_WORDS = (b"expired", b"invalidjwt", b"signature")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str


class UrlBook:
    """The signed URLs of one download. When one expires, every unfinished file gets a new URL from
    one grant, so parallel workers hitting the same expiry mint once, not once each."""

    def __init__(self, mint: Callable[[list[str]], dict[str, str]], names: list[str]):
        self._mint = mint
        self._lock = threading.Lock()
        self._pending = list(names)
        self._urls: dict[str, str] = {}
        self._generation = 0
        self.grants = 0

    def mint_all(self) -> None:
        with self._lock:
            self._refresh()

    def url(self, name: str) -> tuple[str, int]:
        with self._lock:
            if name not in self._urls:
                self._refresh()
            return self._urls[name], self._generation

    def renew(self, seen_generation: int) -> None:
        """A URL of ``seen_generation`` was refused: mint new ones unless another worker already did."""
        with self._lock:
            if self._generation == seen_generation:
                self._refresh()

    def finished(self, name: str) -> None:
        with self._lock:
            if name in self._pending:
                self._pending.remove(name)

    def _refresh(self) -> None:
        urls = self._mint(list(self._pending))
        missing = [name for name in self._pending if name not in urls]
        if missing:
            raise ClientError(f"the server gave no download URL for {', '.join(missing)}")
        self._urls.update(urls)
        self._generation += 1
        self.grants += 1


class _Retryable(Exception):
    pass


def _link_refused(response: httpx.Response) -> bool:
    if response.status_code in EXPIRED_STATUSES:
        return True
    if response.status_code == 400:
        body = response.read()[:4096].lower()
        return any(word in body for word in _EXPIRED_WORDS)
    return False


class Transfer:
    """Brings the partial file up to the file's full size and returns its sha256."""

    def __init__(
        self,
        http: httpx.Client,
        book: UrlBook,
        remote: RemoteFile,
        part: Path,
        advance: Callable[[int], None],
        reset: Callable[[int], None],
        stop: threading.Event,
    ):
        self.http = http
        self.book = book
        self.remote = remote
        self.part = part
        self.advance = advance  # bytes received
        self.reset = reset  # the file restarts at this offset
        self.stop = stop
        self.etag: str | None = None
        self.offset = 0
        self.hasher: Any = hashlib.sha256()
        self.bytes_received = 0
        self._handle: BufferedRandom | None = None

    def run(self) -> str:
        try:
            self._handle = open_part(self.part)
        except ClientError as exc:
            raise DownloadFailed(f"{self.remote.name}: {exc}") from None
        try:
            self._load_part(os.fstat(self._handle.fileno()).st_size)
            return self._fetch()
        finally:
            self._handle.close()

    def _fetch(self) -> str:
        failures = 0
        renewals = 0  # refused links in a row: a long download may outlive several links
        progress_mark = self.offset
        throttle = retry.Throttle()
        while self.offset < self.remote.size:
            if self.stop.is_set():
                raise DownloadFailed(f"{self.remote.name}: interrupted")
            if self.offset > progress_mark:
                renewals, progress_mark = 0, self.offset
            url, generation = self.book.url(self.remote.name)
            headers = {"Accept-Encoding": "identity"}  # byte ranges of the file itself
            if self.offset:
                headers["Range"] = f"bytes={self.offset}-"
                headers["If-Range"] = self.etag or f'"{self.remote.sha256}"'
            before = self.offset
            try:
                with self.http.stream("GET", url, headers=headers) as response:
                    if _link_refused(response):
                        renewals += 1
                        if renewals > MAX_RENEWALS:
                            raise DownloadFailed(
                                f"{self.remote.name}: the download link is refused even after renewing it "
                                f"(HTTP {response.status_code}{_reason(response)})"
                            )
                        self.book.renew(generation)
                        continue
                    if response.status_code == 429:
                        response.read()
                        seconds = throttle.quiet_wait(retry.throttle_wait(response))
                        if seconds is None:
                            message = retry.throttled_message(response, "the download server")
                            raise DownloadFailed(f"{self.remote.name}: {message}")
                        retry.sleep(seconds)
                        continue
                    self._start(response)
                    self._receive(response)
                if self.offset == before and self.offset < self.remote.size:
                    raise _Retryable("the server sent no data")
            except (httpx.TransportError, _Retryable) as exc:
                failures = 1 if self.offset > before else failures + 1
                if failures >= retry.MAX_ATTEMPTS:
                    reason = retry.describe(exc) if isinstance(exc, httpx.HTTPError) else str(exc)
                    raise DownloadFailed(f"{self.remote.name}: {reason} (gave up after {failures} tries)") from None
                retry.wait_before_retry(failures)
        return str(self.hasher.hexdigest())

    @property
    def handle(self) -> BufferedRandom:
        assert self._handle is not None, "the partial file is open while the transfer runs"
        return self._handle

    def _load_part(self, size: int) -> None:
        """Bytes already on disk (hashed now, so the finished file needs no second read)."""
        if size > self.remote.size or size == 0:
            self._restart()
            return
        self.handle.seek(0)
        self.hasher = hashlib.file_digest(self.handle, "sha256")
        self.offset = size
        self.reset(size)

    def _restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate(0)
        self.offset = 0
        self.hasher = hashlib.sha256()
        self.reset(0)

    def _start(self, response: httpx.Response) -> None:
        """Check the answer to a (ranged) GET; start over when the server sends the whole file."""
        status = response.status_code
        if status == 404:
            raise DownloadFailed(f"{self.remote.name}: the server no longer has this file (HTTP 404)")
        if status == 416 or (status == 206 and not self._range_starts_at(response)):
            self._restart()  # our partial file does not fit the server's: fetch it whole
            raise _Retryable("the server could not resume this file; starting it again")
        if status >= 500:
            raise _Retryable(f"the download server answered HTTP {status}")
        if status not in (200, 206):
            raise DownloadFailed(f"{self.remote.name}: the download server answered HTTP {status}{_reason(response)}")
        etag = response.headers.get("ETag")
        if etag and not etag.startswith("W/"):
            self.etag = etag
        if status == 200 and self.offset:
            self._restart()  # If-Range did not match: the server sends the whole file

    def _range_starts_at(self, response: httpx.Response) -> bool:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        return match is not None and int(match.group(1)) == self.offset

    def _receive(self, response: httpx.Response) -> None:
        out = self.handle
        out.seek(self.offset)
        try:
            # Raw bytes as they arrive: nothing decoded, nothing held back in a buffer that a
            # dropped connection would lose.
            for chunk in response.iter_raw():
                if self.stop.is_set():
                    raise DownloadFailed(f"{self.remote.name}: interrupted")
                if self.offset + len(chunk) > self.remote.size:
                    raise DownloadFailed(
                        f"{self.remote.name}: the server sent more than the {self.remote.size} bytes expected"
                    )
                out.write(chunk)
                self.hasher.update(chunk)
                self.offset += len(chunk)
                self.bytes_received += len(chunk)
                self.advance(len(chunk))
        finally:
            out.flush()
            os.fsync(out.fileno())


def _reason(response: httpx.Response) -> str:
    """``": <first line of the body>"`` for a short plain-text error body, else nothing."""
    text = response.read()[:200].decode("utf-8", "replace").strip().splitlines()
    if not text or "<" in text[0]:
        return ""
    return f": {text[0]}"
