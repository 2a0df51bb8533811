"""Streaming one remote file into storage in bounded memory, verified on the way (DESIGN §6.3).

The body is read on threads of their own (``remote_body``, ``ranged_body``) while this one hashes,
inspects and stores, so network and disk overlap; a cut connection continues with Range where it
stopped.

Size and sha256 are computed while the chunks pass; a body longer or shorter than the
Content-Length or the listing's metadata, or with another checksum, is refused before its last
chunk is stored. The ingest record's lease is renewed and progress recorded as bytes arrive.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from artifacts.cluster import ClusterClient, NeverRetry, RemoteFile, RetryNow
from artifacts.models import ArtifactIngest
from artifacts.services.ingest.ranged_body import RangedBody, open_body
from artifacts.services.ingest.remote_body import RemoteBody
from artifacts.storage.seam import StorageRefused, artifact_storage

HEARTBEAT_SECONDS = 2.0


class LeaseLost(Exception):
    """Another worker took over the job (our lease expired); this attempt must stand down."""


class Progress:
    """Bytes done for the attempt holding ``ingest``; renews its lease at most every few seconds."""

    def __init__(self, ingest: ArtifactIngest):
        self.ingest = ingest
        self.bytes_done = 0
        self._last = 0.0

    def report(self, *, force: bool = False, **fields: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < HEARTBEAT_SECONDS:
            return
        self._last = now
        fields.setdefault("bytes_done", self.bytes_done)
        if not self.ingest.renew(**fields):
            raise LeaseLost(f"lease on ingest {self.ingest.pk} was taken over")

    def advance(self, count: int) -> None:
        self.bytes_done += count
        self.report()


@dataclass(frozen=True)
class TransferredFile:
    name: str
    key: str
    size: int
    sha256: str


class Inspector(Protocol):
    """What sees every verified byte of each file as it streams (``artifacts.inspection.AdapterInspector``)."""

    def start_file(self, name: str, expected_size: int | None = None) -> None: ...
    def feed(self, name: str, chunk: bytes) -> None: ...
    def end_file(self, name: str, size: int | None = None) -> None: ...


def transfer_file(
    client: ClusterClient,
    remote: RemoteFile,
    key: str,
    progress: Progress,
    inspector: Inspector | None = None,
) -> TransferredFile:
    """Stream ``remote`` to ``key``. A cut connection resumes with Range (``remote_body``); when it
    cannot, the file starts again (the client's retries)."""
    storage = artifact_storage()
    start_bytes = progress.bytes_done

    def attempt() -> TransferredFile:
        progress.bytes_done = start_bytes  # a retried file starts its count again
        if inspector is not None:
            inspector.start_file(remote.name, remote.size)
        digest = hashlib.sha256()
        counter = [0]
        # Hashes each chunk as it hands it over; GPU_CLUSTER_STREAMS > 1 fetches parallel ranges.
        with open_body(client, remote, digest, streams=settings.GPU_CLUSTER_STREAMS) as body:
            chunks = _verified_chunks(remote, body, progress, digest, counter, inspector)
            try:
                storage.save_stream(key, chunks)
            except Exception as exc:  # the backend says whether it will ever take this object
                refusal = storage.refusal(exc)
                if refusal is None:
                    raise
                raise StorageRefused(f"{remote.name}: storage refused the file: {refusal}") from exc
        if inspector is not None:
            inspector.end_file(remote.name, counter[0])
        return TransferredFile(name=remote.name, key=key, size=counter[0], sha256=digest.hexdigest())

    progress.report(force=True, current_file=remote.name)
    return client.with_retries(f"download of {remote.name}", attempt)


def _verified_chunks(
    remote: RemoteFile,
    body: RemoteBody | RangedBody,
    progress: Progress,
    digest: Any,
    counter: list[int],
    inspector: Inspector | None = None,
) -> Iterator[bytes]:
    """Yield the body in chunks (hashed by ``body``), counting; raise before the last chunk is stored if wrong."""
    header = body.headers.get("Content-Length")
    declared: int | None = None
    if header is not None:
        try:
            declared = int(header)
        except ValueError:
            raise NeverRetry(f"{remote.name}: invalid Content-Length {header!r}") from None
    if declared is not None and remote.size is not None and declared != remote.size:
        raise NeverRetry(f"{remote.name}: Content-Length {declared} differs from the advertised size {remote.size}")
    limit = remote.size if remote.size is not None else declared
    for chunk in body:  # a cut the body could not resume raises RetryNow
        counter[0] += len(chunk)
        if limit is not None and counter[0] > limit:
            raise NeverRetry(f"{remote.name}: body is longer than the expected {limit} bytes")
        if inspector is not None:
            inspector.feed(remote.name, chunk)
        progress.advance(len(chunk))
        yield chunk
    if limit is not None and counter[0] != limit:
        raise RetryNow(f"{remote.name}: truncated body: received {counter[0]} of {limit} bytes")
    if remote.sha256 is not None and digest.hexdigest() != remote.sha256:
        raise NeverRetry(
            f"{remote.name}: checksum mismatch (sha256 {digest.hexdigest()[:12]}…, expected {remote.sha256[:12]}…)"
        )
