"""One zip of a whole model: every file, ``SHA256SUMS``, the model card and ``inspection.json``.

:func:`request_bundle` answers with the bundle's state and, when nobody is building it yet,
claims the build (one conditional UPDATE on the artifact's one :class:`~artifacts.models.Bundle`
row) and returns the claim; ``artifacts.tasks.request_bundle`` (what the API and the page call)
queues the Celery task for it. :func:`build_bundle` runs in the worker: it streams
each stored file out of storage in chunks, through ``zipstream-ng`` (entries STORED, never
recompressed; Zip64 when needed; its size known before the first byte), into storage with the
same ``save_stream`` the ingest uses. Memory stays bounded whatever the model's size.

The bundle is an ordinary stored object under ``{user_id}/{artifact_id}/!bundles/``, so its link is
our ``/downloads/<token>`` like any file's (checked per request, then served or redirected to the
backend, all with Range), and removed with the model's other objects when the model is purged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from zipstream import ZIP_STORED, ZipStream

from artifacts.models import ArtifactFile, Bundle, ModelArtifact, StorageUsage
from artifacts.services.model_card import artifact_card, generated_names
from artifacts.storage.keys import BUNDLES_LEAF, artifact_prefix
from artifacts.storage.seam import CHUNK_SIZE, artifact_storage, url_ttl
from artifacts.storage.signing import download_link
from pipeline.lib.numbers import binary_size

logger = logging.getLogger(__name__)

PROGRESS_EVERY_BYTES = 8 * CHUNK_SIZE
PROGRESS_EVERY_SECONDS = 2.0
# What a request over the concurrent-build limit is told to wait before asking again.
BUSY_RETRY_SECONDS = 30


class BundleBuildError(Exception):
    """A stored file could not be read back as recorded (missing, wrong size or checksum)."""


@dataclass(frozen=True)
class BundleStatus:
    state: str
    progress: float
    download_url: str | None = None
    expires_at: datetime | None = None
    size: int | None = None
    sha256: str | None = None
    error: str = ""

    @property
    def ready(self) -> bool:
        return self.state == Bundle.State.READY


# --- What goes into the zip -----------------------------------------------------------------------
def sha256sums(files: Iterable[ArtifactFile]) -> str:
    """``sha256sum -c`` input: ``<hex>  <name>`` per file (two spaces: text mode), sorted by name."""
    return "".join(f"{f.sha256}  {f.filename}\n" for f in sorted(files, key=lambda f: f.filename))


def bundle_key(artifact: ModelArtifact, token: str) -> str:
    """Each build writes a key of its own, so removing an old zip never touches a newer one."""
    prefix = artifact_prefix(artifact.user_id, artifact.pk)
    return f"{prefix}{BUNDLES_LEAF}/{token[:16]}/{artifact.folder}.zip"


def stored_chunks(storage: Any, record: ArtifactFile) -> Iterator[bytes]:
    """The stored bytes of one file, in chunks, checked against its recorded size and sha256."""
    digest = hashlib.sha256()
    size = 0
    for chunk in storage.read_stream(record.key):
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if size != record.size or digest.hexdigest() != record.sha256:
        raise BundleBuildError(f"{record.filename} in storage no longer matches its recorded size and sha256")


class ReadableZipStream(ZipStream):
    """zipstream-ng writes entries added from data as mode 0600 (as ``ZipFile.writestr`` does), which
    leaves unzipped files readable by their owner only. The mode lives only in the central
    directory, written after every entry, so it is set there: regular files, 0644."""

    def _gen_archive_footer(self) -> Any:
        for info in self._filelist:
            if not info.is_dir():
                info.external_attr = (stat.S_IFREG | 0o644) << 16
        return super()._gen_archive_footer()


def zip_stream(artifact: ModelArtifact, files: list[ArtifactFile], storage: Any) -> ZipStream:
    """The bundle as a ``ZipStream``: sized (``len()`` is known up front), every entry STORED, all
    under one top-level folder, the model's folder name, which the card's commands point at.

    The cluster's files keep their names; the generated ones take the first free name (DESIGN §14),
    so no two entries share a name. Entries are regular files of mode 0644.
    """
    folder = artifact.folder
    names = generated_names(f.filename for f in files)
    stream = ReadableZipStream(compress_type=ZIP_STORED, sized=True)

    def add(data: Any, name: str, size: int | None = None) -> None:
        stream.add(data, arcname=f"{folder}/{name}", size=size)

    for record in files:
        add(stored_chunks(storage, record), record.filename, record.size)
    add(sha256sums(files).encode(), names["sums"])
    add(artifact_card(artifact, files, folder=f"./{folder}").encode(), names["card"])
    if artifact.inspection is not None:
        add(json.dumps(artifact.inspection, indent=2, sort_keys=True).encode(), names["inspection"])
    return stream


# --- Requests from the API and the page -----------------------------------------------------------
def status_of(bundle: Bundle | None, *, touch: bool = False) -> BundleStatus:
    """What a caller sees; a ready bundle gets a fresh signed URL (and is marked as used)."""
    if bundle is None:
        return BundleStatus(state=Bundle.State.NEW, progress=0.0)
    if bundle.state != Bundle.State.READY:
        return BundleStatus(state=bundle.state, progress=bundle.progress, error=bundle.last_error)
    ttl = url_ttl()
    expires_at = timezone.now().replace(microsecond=0) + timedelta(seconds=ttl)
    url = download_link(bundle.key, bundle.filename, ttl)
    if touch:
        Bundle.objects.filter(pk=bundle.pk).update(last_used_at=timezone.now())
    return BundleStatus(
        state=bundle.state,
        progress=1.0,
        download_url=url,
        expires_at=expires_at,
        size=bundle.size,
        sha256=bundle.sha256,
    )


def current_bundle(artifact: ModelArtifact) -> Bundle | None:
    return Bundle.objects.filter(artifact=artifact).first()


@dataclass(frozen=True)
class BuildClaim:
    """This request claimed the build: the worker that runs it must hold ``token``."""

    bundle_id: Any
    token: str


@dataclass(frozen=True)
class BundleRequest:
    status: BundleStatus
    claim: BuildClaim | None = None


def request_bundle(artifact: ModelArtifact) -> BundleRequest:
    """Ready: its download. Otherwise make sure exactly one build is under way and report it; the
    request that started the build carries its claim, for the caller to queue. Starting a build
    raises :class:`BundleLimitReached` when its owner is at one of their limits."""
    bundle = current_bundle(artifact)
    if bundle is not None and bundle.state == Bundle.State.READY:
        return BundleRequest(status_of(bundle, touch=True))
    token = uuid.uuid4().hex
    claimed = None
    if bundle is None or not _running(bundle):
        with transaction.atomic():
            check_limits(artifact)  # holds the owner's counter row until the claim commits
            claimed = Bundle.objects.claim_build(artifact, token)
    claim = BuildClaim(bundle_id=claimed.pk, token=token) if claimed is not None else None
    bundle = claimed or current_bundle(artifact)
    if bundle is not None and bundle.state == Bundle.State.READY:  # finished while we looked
        return BundleRequest(status_of(bundle, touch=True))
    return BundleRequest(BundleStatus(state=Bundle.State.PREPARING, progress=bundle.progress if bundle else 0.0), claim)


# --- Per-user limits ------------------------------------------------------------------------------
class BundleLimitReached(Exception):
    """The owner may not start another build now; ``message`` says why, for API and page alike."""

    status_code = 409
    retry_after: int | None = None

    def __init__(self, message: str, details: dict[str, Any]):
        super().__init__(message)
        self.message = message
        self.details = details


class TooManyBuilds(BundleLimitReached):
    status_code = 429
    retry_after = BUSY_RETRY_SECONDS


class BundleStorageFull(BundleLimitReached):
    status_code = 409


def _running(bundle: Bundle) -> bool:
    """A build under way whose worker is alive (its lease holds)."""
    expires = bundle.lease_expires_at
    return bundle.state == Bundle.State.PREPARING and expires is not None and expires >= timezone.now()


def running_builds(user_id: Any) -> Any:
    """The user's builds under way (leases that lapsed belong to dead workers and do not count)."""
    return Bundle.objects.filter(
        artifact__user_id=user_id, state=Bundle.State.PREPARING, lease_expires_at__gte=timezone.now()
    )


def check_limits(artifact: ModelArtifact) -> None:
    """Raise when starting a build of ``artifact`` would exceed ``BUNDLE_MAX_CONCURRENT_PER_USER``
    builds at once or ``BUNDLE_STORAGE_LIMIT_BYTES`` of zips (ready ones, those under way and this
    one, estimated by its files' sizes). Call inside the transaction that claims the build: the
    owner's counter row stays locked until it commits, so two requests cannot both pass."""
    usage = StorageUsage.objects.locked(artifact.user_id)
    mine = current_bundle(artifact)  # read again under the lock: another request may have started it
    if mine is not None and (mine.state == Bundle.State.READY or _running(mine)):
        return
    running = running_builds(artifact.user_id).exclude(artifact_id=artifact.pk)
    max_running = settings.BUNDLE_MAX_CONCURRENT_PER_USER
    if max_running:
        busy = running.count()
        if busy >= max_running:
            raise TooManyBuilds(
                f"You have {busy} zip{'s' if busy != 1 else ''} being prepared, the most allowed at once "
                f"({max_running}). Try again when one is ready.",
                {"running": busy, "limit": max_running, "retry_after_seconds": BUSY_RETRY_SECONDS},
            )
    allowed = settings.BUNDLE_STORAGE_LIMIT_BYTES
    if not allowed:
        return
    pending = ArtifactFile.objects.filter(artifact__bundle__in=running).aggregate(size=Sum("size"))["size"] or 0
    needed = artifact.files.aggregate(size=Sum("size"))["size"] or 0
    used = usage.bundle_bytes + pending
    if used + needed > allowed:
        raise BundleStorageFull(
            f"Your zips take {binary_size(used)} of the {binary_size(allowed)} allowed, and this one needs about "
            f"{binary_size(needed)} more. Zips nobody downloads for {settings.BUNDLE_TTL_DAYS} days are removed; "
            "until then, download the files one by one.",
            {"used_bytes": used, "needed_bytes": needed, "allowed_bytes": allowed},
        )


# --- The build (in a worker) ----------------------------------------------------------------------
def _with_progress(bundle: Bundle, chunks: Iterable[bytes], digest: Any, total: int) -> Iterator[bytes]:
    """Pass the zip's chunks on, hashing them and recording progress (which renews the lease)."""
    done = 0
    reported, reported_at = 0, time.monotonic()
    for chunk in chunks:
        digest.update(chunk)
        done += len(chunk)
        yield chunk
        if done - reported >= PROGRESS_EVERY_BYTES or time.monotonic() - reported_at >= PROGRESS_EVERY_SECONDS:
            if not bundle.renew(bytes_done=done, bytes_total=total):
                raise BundleBuildError("another worker took this bundle over")
            reported, reported_at = done, time.monotonic()


def build_bundle(bundle_id: Any, token: str) -> bool:
    """Build the bundle this ``token`` claimed; False when the claim is no longer ours."""
    bundle = Bundle.objects.select_related("artifact", "artifact__dataset").filter(pk=bundle_id).first()
    if bundle is None or bundle.lease_token != token or bundle.state != Bundle.State.PREPARING:
        return False
    artifact = bundle.artifact
    files = list(artifact.files.order_by("filename"))
    storage = artifact_storage()
    key = bundle_key(artifact, token)
    filename = f"{artifact.folder}.zip"
    try:
        stream = zip_stream(artifact, files, storage)
        total = len(stream)
        bundle.renew(bytes_done=0, bytes_total=total)
        digest = hashlib.sha256()
        storage.save_stream(key, _with_progress(bundle, stream, digest, total))
    except Exception as exc:
        logger.exception("bundle of artifact %s failed", artifact.pk)
        _remove(storage, key)
        bundle.fail(str(exc) or exc.__class__.__name__)
        return False
    with transaction.atomic():
        done = bundle.succeed(key=key, filename=filename, size=total, sha256=digest.hexdigest())
        if done:
            StorageUsage.objects.add(artifact.user_id, bundle_bytes=total)
    if not done:
        logger.warning("bundle of artifact %s finished after its lease was taken over", artifact.pk)
        return False
    logger.info("bundle of artifact %s ready: %s bytes", artifact.pk, total)
    return True


def _remove(storage: Any, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # nothing there, or storage down: expiry tries again
        logger.warning("could not remove bundle %s", key, exc_info=True)


def forget_missing_zip(artifact_id: Any, key: str) -> bool:
    """A ready bundle whose zip is gone from storage goes back to "not built" (the next request
    builds it again) and its bytes leave its owner's counters, in one transaction."""
    with transaction.atomic():
        bundle = (
            Bundle.objects.select_for_update()
            .select_related("artifact")
            .filter(artifact_id=artifact_id, state=Bundle.State.READY, key=key)
            .first()
        )
        if bundle is None:
            return False
        size = bundle.size or 0
        Bundle.objects.filter(pk=bundle.pk).update(
            state=Bundle.State.NEW, key="", filename="", size=None, sha256="", bytes_done=0, bytes_total=None
        )
        StorageUsage.objects.add(bundle.artifact.user_id, bundle_bytes=-size)
    return True


def expire_bundles(now: datetime | None = None) -> int:
    """Remove bundles unused for ``BUNDLE_TTL_DAYS``: the stored zip first, then the row."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.BUNDLE_TTL_DAYS)
    storage = artifact_storage()
    removed = 0
    for bundle in Bundle.objects.unused_since(cutoff).select_related("artifact"):
        # The row goes first and only if still unused (a request may have used it meanwhile):
        # from then on no new link is signed for the zip, which is removed next. A ready zip's
        # bytes leave its owner's counters in the same transaction.
        with transaction.atomic():
            row = Bundle.objects.select_for_update().filter(pk=bundle.pk).values("state", "size").first()
            if row is None or not Bundle.objects.unused_since(cutoff).filter(pk=bundle.pk).delete()[0]:
                continue
            if row["state"] == Bundle.State.READY:
                StorageUsage.objects.add(bundle.artifact.user_id, bundle_bytes=-(row["size"] or 0))
        if bundle.key:
            _remove(storage, bundle.key)
        removed += 1
        logger.info("bundle of artifact %s expired (unused since %s)", bundle.artifact_id, bundle.last_used_at)
    return removed
