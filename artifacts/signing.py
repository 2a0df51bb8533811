"""Signed, expiring download URLs for files in local storage.

A token binds one storage key, the name the file downloads as, and an expiry time; it is signed
with ``SECRET_KEY`` (Django's signing), so changing any part of it invalidates it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "artifacts.local-download"


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


def local_download_url(key: str, filename: str, ttl: int) -> str:
    path = reverse("artifact-file-download", kwargs={"token": make_token(key, filename, ttl)})
    return f"{settings.SITE_URL}{path}"
