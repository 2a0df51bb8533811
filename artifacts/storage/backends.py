"""Artifact storage backends behind Django's ``STORAGES["artifacts"]``.

All three speak Django's Storage API plus two calls the ingest and download code rely on:

* ``save_stream(key, chunks)`` stores an iterable of byte chunks under exactly ``key`` (no renaming,
  overwrite allowed) in bounded memory;
* ``signed_url(key, filename, ttl)`` returns a time-limited GET URL that downloads as ``filename``;
* ``clear_prefix(prefix)`` removes every object whose key starts with ``prefix`` (which ends in "/").
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.deconstruct import deconstructible
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from artifacts.storage import signing
from artifacts.storage.s3_upload import DEFAULT_PART_SIZE, StreamUpload

CHUNK_SIZE = 1024 * 1024


class StorageRefused(Exception):
    """The storage backend refused an object for good (its key or its size): retrying cannot fix it."""


# What the Supabase Storage API answers when it will never take an object as sent: a key outside
# its charset (400 InvalidKey, supabase/storage src/storage/limits.ts), an object over the bucket's
# file_size_limit (413 Payload too large), a bucket that does not exist (404 Bucket not found).
SUPABASE_REFUSED_STATUS = {400, 404, 413, 415}


def supabase_refusal(exc: Exception) -> StorageRefused | None:
    """A :class:`StorageRefused` carrying the server's reason, or ``None`` when a retry may help
    (5xx, timeouts, connection errors, 401/403 a fixed key would cure, 408/429)."""
    from storage3.exceptions import StorageApiError

    if not isinstance(exc, StorageApiError):
        return None
    try:
        status = int(exc.status)
    except (TypeError, ValueError):
        return None
    if status not in SUPABASE_REFUSED_STATUS:
        return None
    return StorageRefused(f"Supabase Storage answered {status} {exc.code}: {exc.message}")


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


class WriteBehind:
    """Start the disk writes of a file being written in order, and keep its page cache small.

    Every ``WINDOW`` bytes written, ``POSIX_FADV_DONTNEED`` on the new window starts its writeback
    and, on what was written two windows before (written back by then), drops the clean pages. On
    Linux, DONTNEED first starts writeback of the range's dirty pages, then drops the ones that are
    clean (mm/fadvise.c ``generic_fadvise``); it never discards data, and durability still comes
    from the final fsync. Without it, a gigabyte written at memory speed sits dirty in ever new
    page-cache pages until the kernel's dirty limits throttle the writer or the fsync writes it all
    (profiled: most of the ingest's CPU time went to copying into those pages); with it the disk
    works while the stream runs and the page cache holds a few windows. Where the call does not
    exist (macOS), this does nothing.
    """

    WINDOW = 32 * 1024 * 1024

    def __init__(self, fd: int):
        self.fd = fd
        self.written = 0
        self._started = 0  # writeback has been asked for every byte below this offset
        self._advise = getattr(os, "posix_fadvise", None)

    def wrote(self, count: int) -> None:
        self.written += count
        if self._advise is None or self.written - self._started < self.WINDOW:
            return
        self._hint(self._started, self.written - self._started)
        if self._started > 2 * self.WINDOW:  # (a length of 0 would mean "to the end of the file")
            self._hint(0, self._started - 2 * self.WINDOW)
        self._started = self.written

    def _hint(self, offset: int, length: int) -> None:
        """Advice only: a file system that refuses it (EINVAL, ESPIPE) is written without it."""
        if self._advise is None:
            return
        try:
            self._advise(self.fd, offset, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            self._advise = None

    def done(self) -> None:
        """After the fsync: drop the rest (reading the file back comes from disk)."""
        self._hint(0, 0)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (fsync(2): syncing a file does not sync its directory entry)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform that cannot open folders (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: a file system that cannot sync folders
            raise
    finally:
        os.close(fd)


@deconstructible
class LocalArtifactStorage(FileSystemStorage):
    """Object key K lives at ``location/K``; writes go to a temporary file then are renamed."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # keys are chosen by the caller and overwriting is intended

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        """Write to a temporary file, fsync it, rename it over ``key`` and fsync the folder, so the
        file is complete under its final name or absent (a folder the call had to create is synced
        only by the file system's own journal).

        Written pages are handed to the disk as the stream goes (:class:`WriteBehind`) instead of all at
        the final fsync, and dropped from the page cache once written, so a large file neither waits
        for one long flush at the end nor grows the page cache by its size.
        """
        final = Path(self.path(key))  # safe_join: raises SuspiciousFileOperation outside the root
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                behind = WriteBehind(fd)
                for chunk in chunks:
                    handle.write(chunk)
                    behind.wrote(len(chunk))
                handle.flush()
                os.fsync(fd)
                behind.done()
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_folder(final.parent)

    def _save(self, name: str, content: File) -> str:
        self.save_stream(name, content.chunks(CHUNK_SIZE))
        return name

    def delete(self, name: str) -> None:
        super().delete(name)
        self._tidy_parents(Path(self.path(name)).parent)

    def _tidy_parents(self, folder: Path) -> None:
        """Remove empty {user}/{artifact} folders so a failed attempt leaves nothing behind."""
        root = Path(self.location).resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent

    def clear_prefix(self, prefix: str) -> None:
        folder = Path(self.path(prefix.rstrip("/")))  # safe_join keeps it under the root
        if folder.is_dir():
            shutil.rmtree(folder)
        self._tidy_parents(folder.parent)

    def signed_url(self, key: str, filename: str, ttl: int) -> str:
        return signing.local_download_url(key, filename, ttl)


def bounded_transfer_config() -> Any:
    """Multipart settings that cap memory: a streamed (non-seekable) upload buffers whole parts."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=8 * CHUNK_SIZE, multipart_chunksize=8 * CHUNK_SIZE, max_concurrency=4)
    config.max_in_memory_upload_chunks = 4  # s3transfer's default of 10 parts would hold 80 MiB
    return config


@deconstructible
class S3ArtifactStorage(S3Storage):
    """S3 / MinIO / Supabase's S3 endpoint through django-storages; multipart upload from the stream.

    ``upload_part_size`` and ``upload_concurrency`` set what a stream upload holds in memory:
    ``(upload_concurrency + 1) * upload_part_size`` (see ``artifacts.storage.s3_upload``).
    """

    def __init__(
        self,
        public_endpoint_url: str | None = None,
        upload_part_size: int = DEFAULT_PART_SIZE,
        upload_concurrency: int = 3,
        **settings: Any,
    ):
        self.public_endpoint_url = public_endpoint_url
        self.upload_part_size = upload_part_size
        self.upload_concurrency = upload_concurrency
        settings.setdefault("transfer_config", bounded_transfer_config())  # Django's save(), not the ingest
        settings.setdefault("file_overwrite", True)
        settings.setdefault("default_acl", None)
        settings.setdefault("querystring_auth", True)
        super().__init__(**settings)

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        StreamUpload(
            self.connection.meta.client,
            self.bucket_name,
            self._normalize_name(clean_name(key)),
            part_size=self.upload_part_size,
            concurrency=self.upload_concurrency,
            extra_args={"ContentType": "application/octet-stream"},
        ).run(chunks)

    list_page_size = 1000  # keys per ListObjectsV2 page and per DeleteObjects call (S3's maximum for both)

    def clear_prefix(self, prefix: str) -> None:
        """Every object under ``prefix``, page by page (a listing holds at most ``list_page_size``)."""
        client = self.connection.meta.client
        folder = self._normalize_name(clean_name(prefix.rstrip("/"))) + "/"
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket_name, Prefix=folder, PaginationConfig={"PageSize": self.list_page_size}
        )
        try:
            for page in pages:
                self._delete_page(client, folder, page)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "InvalidBucketName"):  # as final here as on upload
                raise StorageRefused(f"S3 refused {folder}: {code}") from exc
            raise

    def _delete_page(self, client: Any, folder: str, page: dict[str, Any]) -> None:
        objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if not objects:
            return
        result = client.delete_objects(Bucket=self.bucket_name, Delete={"Objects": objects, "Quiet": True})
        if result.get("Errors"):
            first = result["Errors"][0]
            raise OSError(f"S3 kept {len(result['Errors'])} object(s) under {folder}: {first.get('Code')}")

    @cached_property
    def public_client(self) -> Any:
        """A client for the address clients use: a presigned URL's signature covers the host."""
        internal = self.connection.meta.client
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.public_endpoint_url,
            region_name=internal.meta.region_name,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=internal.meta.config,
        )

    def signed_url(self, key: str, filename: str, ttl: int) -> str:
        return signing.s3_presigned_url(self, key, filename, ttl)


@deconstructible
class SupabaseArtifactStorage(Storage):
    """Supabase Storage through the ``supabase`` client (service-role key, server side only).

    Supabase's upload call takes a whole file, so a stream is first spooled to a temporary file
    on disk (memory stays bounded); for very large adapters prefer Supabase's S3 endpoint with
    ``ARTIFACT_STORAGE=s3``.
    """

    list_page_size = 100  # entries per Storage API ``list`` call (and names per ``remove`` call)

    def __init__(self, url: str = "", key: str = "", bucket: str = "lora-models", http_client: Any = None):
        self.url_base = url.rstrip("/")
        self.key = key
        self.bucket_name = bucket
        self._http_client = http_client
        self._client: Any = None

    @property
    def bucket(self) -> Any:
        if self._client is None:
            if not (self.url_base and self.key):
                raise ImproperlyConfigured("Supabase storage needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY.")
            from storage3 import SyncStorageClient  # the supabase package's storage client

            self._client = SyncStorageClient(
                f"{self.url_base}/storage/v1/",
                {"apikey": self.key, "Authorization": f"Bearer {self.key}"},
                http_client=self._http_client,
            )
        return self._client.from_(self.bucket_name)

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        with tempfile.NamedTemporaryFile(prefix="supabase-upload-") as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.flush()
            try:
                self.bucket.upload(
                    key,
                    spool.name,
                    {"content-type": "application/octet-stream", "upsert": "true"},
                )
            except Exception as exc:
                raise supabase_refusal(exc) or exc from exc

    def _save(self, name: str, content: File) -> str:
        self.save_stream(name, content.chunks(CHUNK_SIZE))
        return name

    def _open(self, name: str, mode: str = "rb") -> File:
        from django.core.files.base import ContentFile

        return ContentFile(self.bucket.download(name), name=name)

    def delete(self, name: str) -> None:
        self.bucket.remove([name])

    def list_folder(self, folder: str) -> Iterator[dict[str, Any]]:
        """Every entry of ``folder``, page by page: the Storage API answers at most ``limit``
        entries per ``list`` call (storage3's default is 100), so read on at ``offset`` until a
        short page."""
        offset = 0
        while True:
            try:
                page = self.bucket.list(folder, {"limit": self.list_page_size, "offset": offset}) or []
            except Exception as exc:  # a missing bucket is as final here as on upload
                raise supabase_refusal(exc) or exc from exc
            yield from page
            if len(page) < self.list_page_size:
                return
            offset += len(page)

    def clear_prefix(self, prefix: str) -> None:
        folder = prefix.rstrip("/")
        # List everything first: removing while paging would shift the offsets past live objects.
        names = [f"{folder}/{entry['name']}" for entry in self.list_folder(folder) if entry.get("name")]
        for start in range(0, len(names), self.list_page_size):
            self.bucket.remove(names[start : start + self.list_page_size])

    def exists(self, name: str) -> bool:
        folder, _, leaf = name.rpartition("/")
        entries = self.bucket.list(folder, {"search": leaf})
        return any(entry.get("name") == leaf for entry in entries or [])

    def size(self, name: str) -> int:
        folder, _, leaf = name.rpartition("/")
        for entry in self.bucket.list(folder, {"search": leaf}) or []:
            if entry.get("name") == leaf:
                return int((entry.get("metadata") or {}).get("size", 0))
        raise FileNotFoundError(name)

    def url(self, name: str | None) -> str:
        return self.signed_url(name or "", (name or "").rsplit("/", 1)[-1], 3600)

    def signed_url(self, key: str, filename: str, ttl: int) -> str:
        return signing.supabase_signed_url(self, key, filename, ttl)


def artifact_storage() -> Any:
    from django.core.files.storage import storages

    return storages["artifacts"]
