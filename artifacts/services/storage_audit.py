"""Storage against the database: objects nobody owns, and rows whose object is gone.

:func:`audit` lists every object under one user's prefix (or the whole bucket) and compares it
with the rows:

* an **orphan** is an object with no row that accounts for it: under a model's folder but neither
  one of its files nor its ready bundle (an old zip, an interrupted write's ``.part``), under a model
  whose row is gone, under a user who is gone, or outside any model's folder;
* a **missing** object is an ``ArtifactFile`` (of a live or a soft-deleted model) or a ready
  ``Bundle`` whose key is not in storage.

Objects under an ingest still under way (waiting, running or retrying, keyed by its
``artifact_id``) and under the folder of a bundle being built are neither: they are work in progress.

:func:`fix` removes the orphans and puts missing things where the product tells the truth about them:
a ready bundle whose zip is gone goes back to "not built" (the next request builds it again); a
missing model file cannot be made again here (only the cluster had it), so it is reported and left,
and its download link already answers 404 "no longer available" on local storage.

The listed keys of the audited scope are held in memory (a set of strings) to find missing objects;
rows are read in batches.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model

from artifacts.models import ArtifactFile, ArtifactIngest, Bundle, ModelArtifact
from artifacts.services import bundles
from artifacts.storage.keys import BUNDLES_LEAF, user_prefix
from artifacts.storage.seam import artifact_storage

logger = logging.getLogger(__name__)

BATCH = 1000
ACTIVE_INGEST = [ArtifactIngest.State.PENDING, ArtifactIngest.State.RUNNING, ArtifactIngest.State.RETRYING]


@dataclass(frozen=True)
class Orphan:
    key: str
    reason: str


@dataclass(frozen=True)
class Missing:
    key: str
    what: str  # "file" or "bundle"
    artifact_id: Any
    name: str


@dataclass
class AuditReport:
    scope: str
    objects: int = 0
    orphans: list[Orphan] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    in_progress: int = 0
    removed: int = 0
    bundles_reset: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return len(self.orphans) + len(self.missing)

    def summary(self) -> str:
        line = (
            f"{self.scope}: {self.objects} object(s) checked, {len(self.orphans)} orphan(s), "
            f"{len(self.missing)} missing, {self.in_progress} in progress"
        )
        if self.removed or self.bundles_reset or self.errors:
            line += (
                f"; fixed: {self.removed} orphan(s) removed, {self.bundles_reset} bundle(s) back to not built"
                f", {len(self.errors)} error(s)"
            )
        return line


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _batches(keys: Iterable[str]) -> Iterator[list[str]]:
    iterator = iter(keys)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _classify(batch: list[str], report: AuditReport) -> None:
    """Add the batch's orphans to ``report``: a handful of queries per batch, none per key."""
    parsed = {key: key.split("/", 2) for key in batch}
    ids = {found for parts in parsed.values() if len(parts) == 3 and (found := _uuid(parts[1])) is not None}
    users = {found for parts in parsed.values() if (found := _uuid(parts[0])) is not None}  # first folders
    file_keys = set(ArtifactFile.objects.filter(key__in=batch).values_list("key", flat=True))
    owners = {pk: str(user) for pk, user in ModelArtifact.objects.filter(pk__in=ids).values_list("pk", "user_id")}
    bundles = {
        row[0]: row[1:]
        for row in Bundle.objects.filter(artifact_id__in=ids).values_list("artifact_id", "state", "key", "lease_token")
    }
    ingesting = set(
        ArtifactIngest.objects.filter(artifact_id__in=ids, state__in=ACTIVE_INGEST).values_list(
            "artifact_id", flat=True
        )
    )
    known_users = {str(pk) for pk in get_user_model().objects.filter(pk__in=users).values_list("pk", flat=True)}
    for key, parts in parsed.items():
        if key in file_keys:
            continue
        if parts[0] not in known_users:
            reason = "its owner is gone" if _uuid(parts[0]) else "outside any user's folder"
            report.orphans.append(Orphan(key, reason))
            continue
        artifact_id = _uuid(parts[1]) if len(parts) == 3 else None
        if artifact_id is None:
            report.orphans.append(Orphan(key, "outside any model's folder"))
            continue
        if artifact_id in ingesting and artifact_id not in owners:
            report.in_progress += 1
            continue
        if owners.get(artifact_id) != parts[0]:
            report.orphans.append(Orphan(key, "its model is gone"))
            continue
        state, bundle_key, lease = bundles.get(artifact_id, (None, "", ""))
        if state == Bundle.State.READY and key == bundle_key:
            continue
        building = f"{parts[0]}/{parts[1]}/{BUNDLES_LEAF}/{lease[:16]}/"
        if state == Bundle.State.PREPARING and lease and key.startswith(building):
            report.in_progress += 1
            continue
        report.orphans.append(Orphan(key, "no file or bundle of its model"))


def _missing(stored: set[str], user: Any | None) -> Iterator[Missing]:
    files = ArtifactFile.objects.order_by("pk")
    bundles = Bundle.objects.filter(state=Bundle.State.READY).order_by("pk")
    if user is not None:
        files = files.filter(artifact__user=user)
        bundles = bundles.filter(artifact__user=user)
    for key, artifact_id, name in files.values_list("key", "artifact_id", "filename").iterator(chunk_size=BATCH):
        if key not in stored:
            yield Missing(key=key, what="file", artifact_id=artifact_id, name=name)
    for key, artifact_id, name in bundles.values_list("key", "artifact_id", "filename").iterator(chunk_size=BATCH):
        if key not in stored:
            yield Missing(key=key, what="bundle", artifact_id=artifact_id, name=name)


def audit(user: Any | None = None) -> AuditReport:
    """Orphans and missing objects under ``user``'s prefix, or the whole bucket when ``user`` is None."""
    storage = artifact_storage()
    prefix = user_prefix(user.pk) if user is not None else ""
    report = AuditReport(scope=f"user {user}" if user is not None else "all users")
    stored: set[str] = set()
    for batch in _batches(storage.list_prefix(prefix)):
        stored.update(batch)
        report.objects += len(batch)
        _classify(batch, report)
    report.missing = list(_missing(stored, user))
    return report


def fix(report: AuditReport) -> AuditReport:
    """Remove the orphans; send ready bundles whose zip is gone back to "not built"; leave missing files."""
    storage = artifact_storage()
    for orphan in report.orphans:
        try:
            storage.delete(orphan.key)
            report.removed += 1
        except Exception as exc:  # storage down or the object already gone: say so, go on
            logger.warning("could not remove orphan %s", orphan.key, exc_info=True)
            report.errors.append(f"{orphan.key}: {exc}")
    for missing in report.missing:
        if missing.what != "bundle":
            continue
        report.bundles_reset += bundles.forget_missing_zip(missing.artifact_id, missing.key)
    return report
