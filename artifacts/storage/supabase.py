"""Supabase Storage as artifact storage, through the ``supabase`` client's Storage API (server side
only, with the service-role key).

The Storage API lists one folder level per call, at most 100 entries a page; ``list_prefix`` walks
every level and page, so a prefix is cleared completely (bundles sit one folder deeper).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from artifacts.storage import signing
from artifacts.storage.seam import CHUNK_SIZE, StorageRefused, byte_range, checked_prefix, common_refusal, url_ttl

# What the Supabase Storage API answers when it will never take an object as sent: a key outside
# its charset (400 InvalidKey, supabase/storage src/storage/limits.ts), an object over the bucket's
# file_size_limit (413 Payload too large), a bucket that does not exist (404 Bucket not found).
SUPABASE_REFUSED_STATUS = {400, 404, 413, 415}
STREAM_URL_TTL = 300  # a stored object read back (bundles) is fetched at once through this URL


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

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, however deep: the API lists one level, where a folder is an
        entry without an ``id`` (supabase/storage ``list_objects`` returns folders with ``id: null``)."""
        pending = [prefix.strip("/")]  # "" is the bucket's top level
        while pending:
            folder = pending.pop()
            for entry in self.list_folder(folder):
                name = entry.get("name")
                if not name:
                    continue
                key = f"{folder}/{name}" if folder else name
                if entry.get("id") is None:
                    pending.append(key)
                else:
                    yield key

    def clear_prefix(self, prefix: str) -> None:
        checked_prefix(prefix)  # never the whole bucket
        # List everything first: removing while paging would shift the offsets past live objects.
        names = list(self.list_prefix(prefix))
        for start in range(0, len(names), self.list_page_size):
            self.bucket.remove(names[start : start + self.list_page_size])

    def read_stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Through a short-lived signed URL: the Storage API client downloads whole objects into memory."""
        import requests

        url = self.signed_url(key, key.rsplit("/", 1)[-1], STREAM_URL_TTL)
        ranged = byte_range(start, end)
        headers = {"Range": ranged} if ranged else {}
        with requests.get(url, headers=headers, stream=True, timeout=(10, 60)) as response:
            response.raise_for_status()
            yield from response.iter_content(CHUNK_SIZE)

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
        return self.signed_url(name or "", (name or "").rsplit("/", 1)[-1])

    def signed_url(self, key: str, filename: str, ttl: int | None = None) -> str:
        return signing.supabase_signed_url(self, key, filename, url_ttl() if ttl is None else ttl)

    def refusal(self, exc: BaseException) -> str | None:
        refused = supabase_refusal(exc) if isinstance(exc, Exception) else None
        return str(refused) if refused is not None else common_refusal(exc)
