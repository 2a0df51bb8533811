"""The one storage seam: what ingest, bundles, grants, lifecycle and pages may ask of storage.

Every backend (``artifacts.storage.local``, ``.s3``, ``.supabase``) is a Django ``Storage`` behind
``STORAGES["artifacts"]`` and implements :class:`ArtifactStore`:

* ``save_stream(key, chunks)``: store an iterable of byte chunks under exactly ``key`` (no renaming,
  overwrite allowed), in bounded memory; nothing is visible under ``key`` until every byte is stored;
* ``read_stream(key, start, end)``: the stored bytes ``[start, end)`` in chunks, without holding the
  object in memory;
* ``list_prefix(prefix)``: every key under ``prefix`` (which ends in "/"), however deep, page by page
  (``""`` lists the whole bucket, for ``storage_audit``);
* ``clear_prefix(prefix)``: remove every object under ``prefix``, however deep and however many (and,
  on S3, the unfinished multipart uploads an interrupted ingest leaves there); an empty prefix is
  refused (:func:`checked_prefix`);
* ``signed_url(key, filename, ttl)``: a time-limited GET URL (with Range) that downloads as ``filename``
  (users never get one directly: our ``/downloads/<token>`` link mints one per request, valid
  :data:`BACKEND_URL_TTL` seconds, after checking the model is still there);
* ``refusal(exc)``: why the backend will never take the object as sent (a permanent error), or
  ``None`` when a retry may help.

Callers never branch on the backend and never name a backend's error types: they ask
``refusal`` and raise or record :class:`StorageRefused`. ``SIGNED_URL_TTL`` is read here only
(:func:`url_ttl`).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation

CHUNK_SIZE = 1024 * 1024

# Seconds a backend URL (S3 presigned, Supabase signed) minted for one request to our download link
# stays valid: the client follows the redirect at once, and a transfer that has started goes on past
# it (S3 and Supabase check the signature when the request starts). A resume asks our link again,
# which checks the model again, so a deleted model's links stop working within this time.
BACKEND_URL_TTL = 60


class StorageRefused(Exception):
    """The storage backend refused an object for good (its key or its size): retrying cannot fix it."""


@dataclass(frozen=True)
class StoredFile:
    """One file in artifact storage: the name it downloads as, its key, byte size and SHA-256.

    Ingest returns one for each file it stored; the local download endpoint serves one.
    """

    name: str
    key: str
    size: int
    sha256: str
    content_type: str = "application/octet-stream"


@runtime_checkable
class ArtifactStore(Protocol):
    def save_stream(self, key: str, chunks: Iterable[bytes]) -> None: ...
    def read_stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def list_prefix(self, prefix: str) -> Iterator[str]: ...
    def clear_prefix(self, prefix: str) -> None: ...
    def signed_url(self, key: str, filename: str, ttl: int | None = None) -> str: ...
    def refusal(self, exc: BaseException) -> str | None: ...
    def delete(self, name: str) -> None: ...


def url_ttl() -> int:
    """Seconds a signed download URL stays valid (``SIGNED_URL_TTL``)."""
    return int(settings.SIGNED_URL_TTL)


def common_refusal(exc: BaseException) -> str | None:
    """What every backend treats as final: its own refusal, a key outside the storage root, a name
    or a file too large for the file system."""
    if isinstance(exc, StorageRefused):
        return str(exc)
    if isinstance(exc, SuspiciousFileOperation):
        return "the key is outside the storage root"
    if isinstance(exc, OSError) and exc.errno in (errno.ENAMETOOLONG, errno.EFBIG):
        return exc.strerror or type(exc).__name__
    return None


def checked_prefix(prefix: str) -> str:
    """``prefix`` without its trailing "/"; an empty one (the whole bucket) is refused, so a listing
    or clearing can never reach every user's objects by mistake."""
    folder = prefix.strip("/")
    if not folder:
        raise ValueError("a storage prefix names at least one folder")
    return folder


def byte_range(start: int, end: int | None) -> str | None:
    """The HTTP ``Range`` value for ``[start, end)``, or ``None`` for the whole object."""
    if start == 0 and end is None:
        return None
    return f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"


def artifact_storage() -> Any:
    """The configured backend (``STORAGES["artifacts"]``): an :class:`ArtifactStore`."""
    from django.core.files.storage import storages

    return storages["artifacts"]
