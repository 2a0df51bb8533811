"""Every download URL the project hands out is signed here.

* What users get (:func:`download_link`), on every backend: our own ``/downloads/<token>`` link,
  served by ``artifacts.pages.downloads``. A token binds one storage key, the name the file
  downloads as, and an expiry time (``SIGNED_URL_TTL``); it is signed with ``SECRET_KEY`` (Django's
  signing), so changing any part of it invalidates it. Each request to it checks that the model is
  still there (not deleted) before anything is served, so a deleted model's links stop at once.
* What that link answers with on S3 and Supabase: a 302 to a backend URL minted for that one request,
  valid ``BACKEND_URL_TTL`` seconds (``artifacts.storage.seam``): an S3 presigned ``GET``
  (:func:`s3_presigned_url`) or the Storage API's ``create_signed_url`` (:func:`supabase_signed_url`).
  Local storage serves the bytes itself.

Each backend's ``signed_url(key, filename, ttl)`` (``artifacts.storage.local``, ``.s3``,
``.supabase``) calls its function here. Every URL downloads as ``filename`` and stops working after
``ttl`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.http import content_disposition_header
from storages.utils import clean_name

SALT = "artifacts.local-download"


def content_disposition(filename: str) -> str:
    """``attachment; filename=…`` (RFC 6266, with ``filename*`` for non-ASCII names) for every backend."""
    return content_disposition_header(as_attachment=True, filename=filename) or "attachment"


# --- Our own signed link (every backend) ----------------------------------------------------------
class InvalidDownloadToken(Exception):
    """The token was tampered with, is for another key, or has expired."""


@dataclass(frozen=True)
class DownloadToken:
    key: str
    filename: str
    expires_at: int


def make_token(key: str, filename: str, ttl: int) -> str:
    payload = {"k": key, "n": filename, "e": int(time.time()) + ttl}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_token(token: str) -> DownloadToken:
    try:
        payload = signing.loads(token, salt=SALT)
        parsed = DownloadToken(key=str(payload["k"]), filename=str(payload["n"]), expires_at=int(payload["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidDownloadToken("This download link is not valid.") from None
    if parsed.expires_at < time.time():
        raise InvalidDownloadToken("This download link has expired.")
    return parsed


def download_link(key: str, filename: str, ttl: int) -> str:
    """The link users get for the object under ``key``, whatever the backend: ours, checked per request."""
    path = reverse("artifact-file-download", kwargs={"token": make_token(key, filename, ttl)})
    return f"{settings.SITE_URL}{path}"


local_download_url = download_link  # local storage serves the same link itself


# --- S3: presigned GET ----------------------------------------------------------------------------
def s3_presigned_url(storage: Any, key: str, filename: str, ttl: int) -> str:
    """Presigned by ``storage`` (an ``S3ArtifactStorage``), for the address clients use: the
    signature covers the host, so a separate public endpoint gets its own signing client."""
    parameters = {"ResponseContentDisposition": content_disposition(filename)}
    if not storage.public_endpoint_url:
        return str(storage.url(key, parameters=parameters, expire=ttl))
    return str(
        storage.public_client.generate_presigned_url(
            "get_object",
            Params={"Bucket": storage.bucket_name, "Key": storage._normalize_name(clean_name(key)), **parameters},
            ExpiresIn=ttl,
        )
    )


# --- Supabase Storage: create_signed_url ----------------------------------------------------------
def supabase_signed_url(storage: Any, key: str, filename: str, ttl: int) -> str:
    """Signed by Supabase for ``storage`` (a ``SupabaseArtifactStorage``); its errors propagate."""
    result = storage.bucket.create_signed_url(key, ttl, {"download": filename})
    url = result.get("signedURL") or result.get("signedUrl")
    if not url:
        raise RuntimeError(f"Supabase returned no signed URL for {key!r}")
    return str(url)
