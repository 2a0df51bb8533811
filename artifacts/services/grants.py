"""Download grants: sign time-limited links for a model's files and record who got them.

The caller has already decided the user may see the artifact (``ModelArtifact.objects.visible_to``);
this module only checks the requested names, signs one link per file, records a
:class:`~artifacts.models.DownloadGrant` and bumps the artifact's download count.

Every link is our own ``/downloads/<token>`` (``artifacts.storage.signing.download_link``), valid
``SIGNED_URL_TTL`` seconds on every backend: each request to it checks the model is still there
before it serves the file (local storage) or redirects to a backend URL minted for that request
(S3, Supabase), so links stop working as soon as the model is deleted.

Every link is signed before anything is recorded: when signing fails the caller gets
:class:`SigningFailed` and no grant or download is counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from artifacts.models import DownloadGrant, ModelArtifact
from artifacts.storage.seam import url_ttl
from artifacts.storage.signing import download_link

logger = logging.getLogger(__name__)


class NoFilesAvailable(Exception):
    """The artifact has no stored files to hand out."""


class UnknownFiles(Exception):
    """Some requested names are not files of this artifact."""

    def __init__(self, unknown: list[str], available: list[str]):
        self.unknown = unknown
        self.available = available
        super().__init__(f"Unknown file name(s): {', '.join(unknown)}")


class SigningFailed(Exception):
    """A download link could not be signed for one of the files (already logged)."""

    def __init__(self, filename: str):
        self.filename = filename
        super().__init__(f"Could not sign a download URL for {filename}")


@dataclass(frozen=True)
class Grant:
    download_urls: dict[str, str]
    expires_at: datetime


def select_files(artifact: ModelArtifact, requested: Sequence[str] | None) -> dict[str, str]:
    """File name → storage key for the requested names (all files when ``requested`` is None)."""
    available: dict[str, str] = dict(artifact.artifacts or {})
    if not available:
        raise NoFilesAvailable
    if requested is None:
        return available
    names = list(dict.fromkeys(requested))  # drop repeats, keep the caller's order
    unknown = [name for name in names if name not in available]
    if unknown:
        raise UnknownFiles(unknown, sorted(available))
    return {name: available[name] for name in names}


def grant_download(artifact: ModelArtifact, user: Any, requested: Sequence[str] | None = None) -> Grant:
    files = select_files(artifact, requested)
    ttl = url_ttl()
    expires_at = timezone.now().replace(microsecond=0) + timedelta(seconds=ttl)
    urls: dict[str, str] = {}
    for name, key in files.items():
        try:
            urls[name] = download_link(key, name, ttl)
        except Exception as exc:  # a broken URL configuration: nothing is recorded
            logger.exception("signing %s of artifact %s failed", key, artifact.pk)
            raise SigningFailed(name) from exc
    with transaction.atomic():
        DownloadGrant.objects.create(artifact=artifact, user=user, files=list(files), expires_at=expires_at)
        ModelArtifact.objects.filter(pk=artifact.pk).update(links_handed_out=F("links_handed_out") + 1)
    return Grant(download_urls=urls, expires_at=expires_at)
