"""Every download link users get: ``GET|HEAD /downloads/<token>``, on every storage backend.

The token (``artifacts.storage.signing``) is the only credential: it names one storage key, the name the
file downloads as and an expiry, all signed. No session is needed, so ``curl`` and download
managers can use the URL directly, and ``curl -C -`` can resume it (single ``Range`` requests,
``If-Range``, ``ETag`` / ``If-None-Match``).

Each request first checks that the key is still a file (or a ready bundle) of a model that is not
deleted; otherwise the answer is 404 with a plain message. Then:

* local storage: the file is streamed with ``FileResponse``, which hands the open file to the
  server's ``wsgi.file_wrapper`` (``sendfile`` under gunicorn);
* S3 / Supabase: a 302 to a backend URL minted for this request, valid ``BACKEND_URL_TTL`` seconds
  (the client's ``Range`` / ``If-Range`` go with it); ``HEAD`` is answered here from the records,
  since a presigned GET does not answer HEAD.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_http_date_safe, quote_etag
from django.views.decorators.http import require_safe

from artifacts.models import ArtifactFile, Bundle
from artifacts.storage.seam import BACKEND_URL_TTL, StoredFile, artifact_storage, url_ttl
from artifacts.storage.signing import InvalidDownloadToken, content_disposition, read_token

logger = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")


class RangeNotSatisfiable(Exception):
    pass


def wants_html(request: HttpRequest) -> bool:
    """A browser asking for a page (its Accept prefers text/html), not a script or download tool."""
    accepted = request.get_preferred_type(["text/html", "application/octet-stream", "text/plain"])
    return accepted == "text/html" and "text/html" in request.headers.get("Accept", "")


def link_problem(request: HttpRequest, message: str, *, status: int, expired: bool = False) -> HttpResponse:
    """Why a download link does not work: a page that says what to do in a browser, one plain line
    for scripts (``curl --fail`` exits non-zero on either status)."""
    if wants_html(request):
        context = {
            "message": message,
            "expired": expired,
            "gone": status == 404,
            "status": status,
            "ttl_minutes": url_ttl() // 60,
        }
        return render(request, "artifacts/download_link_problem.html", context, status=status)
    return HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as inclusive ``(first, last)``; None means "send the whole file".

    Malformed or multi-range headers are ignored (RFC 9110 §14.2 allows that); a well-formed
    range that starts past the end raises :class:`RangeNotSatisfiable`.
    """
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable
    return first, min(last, size - 1)


class FileSlice:
    """Reads at most ``length`` bytes of ``handle`` from ``start``.

    It keeps ``fileno()`` so a server's ``sendfile`` can take over: gunicorn starts at the file's
    current offset and sends ``Content-Length`` bytes, which is exactly this slice.
    """

    def __init__(self, handle: Any, start: int, length: int):
        handle.seek(start)
        self._handle = handle
        self._remaining = length

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data = self._handle.read(size)
        self._remaining -= len(data)
        return bytes(data)

    def fileno(self) -> int:
        return int(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


class FileGone(Exception):
    """The signed file was deleted, or its model was."""


GONE_MESSAGE = "This file is no longer available."
UNAVAILABLE_MESSAGE = "Storage is not answering right now; try the link again in a minute."


def _live_record(key: str) -> ArtifactFile:
    """The record of what is stored under ``key``: a file, or a ready zip bundle shaped like one.

    Only of live artifacts: a model deleted after the link was handed out stops downloading, and a
    purged one is gone from storage.
    """
    record = (
        ArtifactFile.objects.filter(key=key, artifact__deleted_at__isnull=True)
        .only("filename", "key", "size", "sha256", "content_type")
        .first()
    )
    if record is None:
        record = _live_bundle(key)
    if record is None:
        raise FileGone
    return record


def _on_disk(storage: Any, record: ArtifactFile) -> tuple[StoredFile, str, os.stat_result] | None:
    """The file, its path and its ``stat`` when the backend keeps files on this machine; ``None``
    when it does not (S3, Supabase: the request is redirected). Raises :class:`FileGone`."""
    try:
        path = storage.path(record.key)
    except NotImplementedError:  # no local path: a remote backend
        return None
    except SuspiciousFileOperation:
        raise FileGone from None
    try:
        stat = os.stat(path)
    except OSError:
        raise FileGone from None
    stored = StoredFile(
        name=record.filename,
        key=record.key,
        size=stat.st_size,  # what is on disk is what gets served
        sha256=record.sha256,
        content_type=record.content_type or "application/octet-stream",
    )
    return stored, path, stat


def _live_bundle(key: str) -> ArtifactFile | None:
    """A ready zip bundle of a live artifact, shaped like a file record (served the same way)."""
    bundle = Bundle.objects.filter(key=key, state=Bundle.State.READY, artifact__deleted_at__isnull=True).first()
    if bundle is None:
        return None
    return ArtifactFile(
        filename=bundle.filename, key=key, size=bundle.size or 0, sha256=bundle.sha256, content_type="application/zip"
    )


def _from_backend(request: HttpRequest, storage: Any, record: ArtifactFile, filename: str) -> HttpResponseBase:
    """S3 / Supabase: HEAD answered from the record; GET redirected to a URL minted for this request."""
    headers = {"Cache-Control": "private, no-store", "Accept-Ranges": "bytes"}
    if request.method == "HEAD":  # no ETag: the bucket's GET answers with its own, which If-Range must match
        response = HttpResponse(content_type=record.content_type or "application/octet-stream", headers=headers)
        response["Content-Disposition"] = content_disposition(filename)
        response["Content-Length"] = str(record.size)
        return response
    try:
        url = storage.signed_url(record.key, filename, BACKEND_URL_TTL)
    except Exception:  # any backend error (boto, HTTP, a misconfigured bucket): say so, try later
        logger.exception("minting a storage URL for %s failed", record.key)
        return link_problem(request, UNAVAILABLE_MESSAGE, status=503)
    return HttpResponseRedirect(url, headers=headers)


def safe_filename(name: str) -> str:
    cleaned = _UNSAFE_NAME_CHARS.sub("_", name).strip(". ")
    return cleaned or "download"


def _range_applies(request: HttpRequest, etag: str, mtime: int) -> bool:
    """``If-Range``: resume only if the file is still the one the client started with.

    RFC 9110 §13.1.5 asks for a strong match: the exact ETag (a weak one never matches), or a
    date equal to the file's ``Last-Modified``. A date that is merely later proves nothing (the
    file may have changed within it), so it gets the whole file (200), never a stale slice.
    """
    if_range = request.headers.get("If-Range")
    if not if_range:
        return True
    if if_range.startswith(('"', "W/")):
        return if_range == etag
    modified = parse_http_date_safe(if_range)
    return modified is not None and modified == mtime


@require_safe
def download_file(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        signed = read_token(token)
    except InvalidDownloadToken as exc:
        return link_problem(request, str(exc), status=403, expired="expired" in str(exc))
    storage = artifact_storage()
    try:
        record = _live_record(signed.key)
        local = _on_disk(storage, record)
    except FileGone:
        return link_problem(request, GONE_MESSAGE, status=404)
    if local is None:
        return _from_backend(request, storage, record, safe_filename(signed.filename))
    stored, path, stat = local
    etag = quote_etag(stored.sha256 or f"{stat.st_size:x}-{stat.st_mtime_ns:x}")
    mtime = int(stat.st_mtime)

    headers = {
        "ETag": etag,
        "Last-Modified": http_date(mtime),
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-transform",
    }
    # 304 for If-None-Match / If-Modified-Since, 412 for failed If-Match / If-Unmodified-Since.
    unconditional = HttpResponse(headers=headers)
    conditional = get_conditional_response(request, etag=etag, last_modified=mtime, response=unconditional)
    if conditional is not None and conditional is not unconditional:
        return conditional

    first, last, status = 0, stored.size - 1, 200
    range_header = request.headers.get("Range")
    if range_header and _range_applies(request, etag, mtime):
        try:
            byte_range = parse_range(range_header, stored.size)
        except RangeNotSatisfiable:
            return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{stored.size}"})
        if byte_range is not None:
            first, last = byte_range
            status = 206
            headers["Content-Range"] = f"bytes {first}-{last}/{stored.size}"
    length = last - first + 1 if stored.size else 0

    filename = safe_filename(signed.filename)
    if request.method == "HEAD":
        response: HttpResponseBase = HttpResponse(status=status, content_type=stored.content_type, headers=headers)
        response["Content-Disposition"] = content_disposition(filename)  # what FileResponse sends for GET
    else:
        try:
            handle = open(path, "rb")  # noqa: SIM115 -- closed by the response
        except OSError:
            return link_problem(request, GONE_MESSAGE, status=404)
        response = FileResponse(
            FileSlice(handle, first, length),
            status=status,
            content_type=stored.content_type,
            as_attachment=True,
            filename=filename,
            headers=headers,
        )
    response["Content-Length"] = str(length)
    return response
