"""S3 / MinIO / Supabase's S3 endpoint as artifact storage, through django-storages and boto3.

A stream is stored by multipart upload in a fixed amount of memory (``artifacts.storage.s3_upload``);
downloads are presigned GETs (``artifacts.storage.signing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError
from django.utils.deconstruct import deconstructible
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from artifacts.storage import signing
from artifacts.storage.s3_upload import DEFAULT_PART_SIZE, StreamUpload
from artifacts.storage.seam import CHUNK_SIZE, StorageRefused, byte_range, checked_prefix, common_refusal, url_ttl

# What S3-compatible stores answer when they will never take the object as sent.
S3_REFUSALS = {
    "EntityTooLarge",
    "KeyTooLongError",
    "InvalidObjectName",
    "InvalidArgument",
    "NoSuchBucket",
    "InvalidBucketName",
}


def s3_error_code(exc: BaseException) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def s3_refusal(exc: BaseException) -> str | None:
    """Why S3 will never take the object (its error code), or ``None`` when a retry may help."""
    code = s3_error_code(exc)
    return code if code in S3_REFUSALS else common_refusal(exc)


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

    def read_stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A streaming GET (django-storages' S3File would download the whole object first)."""
        ranged = byte_range(start, end)
        extra = {"Range": ranged} if ranged else {}
        body = self.bucket.Object(self._normalize_name(clean_name(key))).get(**extra)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    def _pages(self, folder: str) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 pages under ``folder`` (recursive: S3 keys have no folders)."""
        client = self.connection.meta.client
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket_name, Prefix=folder, PaginationConfig={"PageSize": self.list_page_size}
        )
        try:
            yield from pages
        except ClientError as exc:
            code = s3_error_code(exc)
            if code in ("NoSuchBucket", "InvalidBucketName"):  # as final here as on upload
                raise StorageRefused(f"S3 refused {folder}: {code}") from exc
            raise

    def _folder(self, prefix: str) -> str:
        return self._normalize_name(clean_name(checked_prefix(prefix))) + "/"

    def list_prefix(self, prefix: str) -> Iterator[str]:
        folder = self._folder(prefix) if prefix.strip("/") else self._normalize_name("")
        location = self._normalize_name("")  # the storage's own ``location`` inside the bucket, if any
        for page in self._pages(folder):
            for item in page.get("Contents", []):
                yield item["Key"].removeprefix(location)

    def clear_prefix(self, prefix: str) -> None:
        """Every object under ``prefix``, page by page (a listing holds at most ``list_page_size``),
        then the multipart uploads a killed worker left unfinished there (their parts are stored and
        billed, but no listing of objects shows them)."""
        folder = self._folder(prefix)
        client = self.connection.meta.client
        for page in self._pages(folder):
            self._delete_page(client, folder, page)
        for upload in self.unfinished_uploads(prefix):
            client.abort_multipart_upload(Bucket=self.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"])

    def unfinished_uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Multipart uploads started under ``prefix`` and never completed or aborted."""
        client = self.connection.meta.client
        pages = client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket_name, Prefix=self._folder(prefix)
        )
        for page in pages:
            yield from page.get("Uploads", [])

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

    def signed_url(self, key: str, filename: str, ttl: int | None = None) -> str:
        return signing.s3_presigned_url(self, key, filename, url_ttl() if ttl is None else ttl)

    def refusal(self, exc: BaseException) -> str | None:
        return s3_refusal(exc)
