"""The storage counters (:class:`~artifacts.models.StorageUsage`): what a removed model takes away,
and the repair that recomputes every counter from the rows (``manage.py recount_storage``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from artifacts.models import ArtifactFile, Bundle, ModelArtifact, StorageUsage
from artifacts.models.usage import COUNTERS

logger = logging.getLogger(__name__)


def artifact_removed(artifact: ModelArtifact) -> None:
    """Subtract what ``artifact`` stores from its owner's counters; called in the transaction that
    deletes its rows, before they go. Its bundle row is locked first, so a build finishing at the
    same moment either counts before this reads it or finds its row gone and counts nothing."""
    ready = list(
        Bundle.objects.select_for_update()
        .filter(artifact_id=artifact.pk, state=Bundle.State.READY)
        .values_list("size", flat=True)
    )
    files = ArtifactFile.objects.filter(artifact_id=artifact.pk).aggregate(n=Count("id"), size=Sum("size"))
    StorageUsage.objects.add(
        artifact.user_id,
        create=False,
        model_count=-1,
        file_count=-files["n"],
        file_bytes=-(files["size"] or 0),
        bundle_bytes=-sum(size or 0 for size in ready),
    )


# --- Repair ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drift:
    """One user's counters as they were and as the rows say they should be."""

    user_id: Any
    username: str
    counted: dict[str, int]
    actual: dict[str, int]

    @property
    def differences(self) -> dict[str, int]:
        """Counter name → how far off it was (counted − actual); only the wrong ones."""
        counted, actual = self.counted, self.actual
        return {name: counted[name] - actual[name] for name in COUNTERS if counted[name] != actual[name]}


ZERO = dict.fromkeys(COUNTERS, 0)


def actual_counters(user_ids: list[Any] | None = None) -> dict[Any, dict[str, int]]:
    """What the rows say, per user with anything stored: three grouped aggregates."""
    artifacts = ModelArtifact.objects.order_by()
    files = ArtifactFile.objects.order_by()
    ready = Bundle.objects.filter(state=Bundle.State.READY).order_by()
    if user_ids is not None:
        artifacts = artifacts.filter(user_id__in=user_ids)
        files = files.filter(artifact__user_id__in=user_ids)
        ready = ready.filter(artifact__user_id__in=user_ids)
    actual: dict[Any, dict[str, int]] = {}

    def row(user_id: Any) -> dict[str, int]:
        return actual.setdefault(user_id, dict(ZERO))

    for user_id, n in artifacts.values_list("user_id").annotate(n=Count("id")):
        row(user_id)["model_count"] = n
    for user_id, n, size in files.values_list("artifact__user_id").annotate(n=Count("id"), size=Sum("size")):
        row(user_id).update(file_count=n, file_bytes=size or 0)
    for user_id, size in ready.values_list("artifact__user_id").annotate(size=Sum("size")):
        row(user_id)["bundle_bytes"] = size or 0
    return actual


def counted_counters(user_ids: list[Any] | None = None) -> dict[Any, dict[str, int]]:
    rows = StorageUsage.objects.all() if user_ids is None else StorageUsage.objects.filter(user_id__in=user_ids)
    return {item["user_id"]: {name: item[name] for name in COUNTERS} for item in rows.values("user_id", *COUNTERS)}


def recount_storage(user: Any = None) -> list[Drift]:
    """Recompute the counters (of ``user``, or everyone's) from the rows; return the ones that were
    wrong, now fixed.

    A first pass compares everyone at once; each user found off is then recounted again with their
    row locked, so an ingest or a bundle committing meanwhile is neither lost nor counted twice (its
    increment waits for the lock, and this count already sees or does not see its rows).
    """
    user_ids = None if user is None else [user.pk]
    actual, counted = actual_counters(user_ids), counted_counters(user_ids)
    suspects = [uid for uid in actual.keys() | counted.keys() if actual.get(uid, ZERO) != counted.get(uid, ZERO)]
    names = dict(get_user_model().objects.filter(pk__in=suspects).values_list("pk", "username"))
    drifts = []
    for user_id in sorted(suspects, key=lambda uid: names.get(uid, "")):
        if user_id not in names:  # the account was deleted meanwhile
            continue
        with transaction.atomic():
            locked = StorageUsage.objects.locked(user_id)
            before = {name: getattr(locked, name) for name in COUNTERS}
            now = actual_counters([user_id]).get(user_id, dict(ZERO))
            if now == before:
                continue
            StorageUsage.objects.filter(user_id=user_id).update(**now, updated_at=timezone.now())
        drifts.append(Drift(user_id=user_id, username=names[user_id], counted=before, actual=now))
        logger.warning("storage counters of %s were off: %s", names[user_id], drifts[-1].differences)
    return drifts
