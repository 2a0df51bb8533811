"""Repositories and aliases: what may change and what every change writes down (DESIGN §15).

* :func:`repository_for_job` — the repository a new model joins (ingest calls it).
* :func:`follow_main` — ``main`` points at the newest live revision whose verdict is not ``unusable``,
  unless its owner pinned it; called whenever the revisions of a repository change.
* :func:`move_alias` / :func:`remove_alias` — the owner points an alias at a revision or takes it
  away; an ``unusable`` revision needs ``force``. Moving ``main`` by hand pins it; removing ``main``
  unpins it (it follows again).
* :func:`create_repository`, :func:`rename_repository`, :func:`move_artifact`.

Every alias change goes through :func:`record_alias_move`: the history row, and the one place the
``alias.moved`` event is written. Changes to one repository's aliases are serialised by a row
lock on the repository.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from artifacts.health.verdict import UNUSABLE
from artifacts.models import Alias, AliasMove, ModelArtifact, Repository
from artifacts.models.registry import MAIN, alias_name_error, repository_name_error
from artifacts.services import model_events
from pipeline.models import TrainingJob

FOLLOW_NOTE = "main follows the newest usable revision"


class RegistryError(Exception):
    """A change the registry refuses; the message is a plain sentence for the user."""


class InvalidName(RegistryError):
    pass


class NameTaken(RegistryError):
    pass


class NotARevision(RegistryError):
    """The model is not a live revision of this repository (or not the user's)."""


class AliasNotFound(RegistryError):
    pass


class UnusableRevision(RegistryError):
    """Pointing an alias at an ``unusable`` revision needs ``force``."""


def repository_for_job(job: TrainingJob) -> Repository:
    """The repository a new model of ``job`` joins: ``hyperparameters.repository`` when the job names
    one, else its dataset's slug + ``-lora`` (created on first use)."""
    dataset = job.dataset.name if job.dataset_id and job.dataset else None
    return Repository.objects.default_for(job.user_id, dataset, job.hyperparameters)


def main_candidate(repository: Repository) -> ModelArtifact | None:
    """The revision an unpinned ``main`` points at: the newest live one not ``unusable``."""
    return (
        ModelArtifact.objects.alive()
        .filter(repository=repository)
        .exclude(verdict=UNUSABLE)
        .order_by("-created_at", "-id")
        .first()
    )


def follow_main(repository: Repository) -> Alias | None:
    """Point an unpinned ``main`` at :func:`main_candidate` (removing it when there is none);
    a pinned ``main`` stays. Returns the ``main`` alias after the change, if any."""
    with transaction.atomic():
        locked = Repository.objects.select_for_update().get(pk=repository.pk)
        current = Alias.objects.select_related("artifact").filter(repository=locked, name=MAIN).first()
        if locked.main_pinned:
            return current
        target = main_candidate(locked)
        if current is not None and target is not None and current.artifact_id == target.pk:
            return current
        return _set_alias(locked, MAIN, current, target, by=None, forced=False, note=FOLLOW_NOTE)


def move_alias(
    user: Any, repository: Repository, alias: str, artifact: ModelArtifact, *, force: bool = False, note: str = ""
) -> Alias:
    """Point ``alias`` of ``repository`` at ``artifact`` (a live revision of it) for its owner ``user``.

    Raises :class:`InvalidName`, :class:`NotARevision`, or :class:`UnusableRevision` when the revision
    is ``unusable`` and ``force`` is not given. Moving ``main`` pins it there."""
    error = alias_name_error(alias)
    if error:
        raise InvalidName(error)
    with transaction.atomic():
        locked = Repository.objects.select_for_update().visible_to(user).get(pk=repository.pk)
        target = ModelArtifact.objects.visible_to(user).filter(pk=artifact.pk, repository=locked).first()
        if target is None:
            raise NotARevision(f"That model is not a revision of {locked.full_name}.")
        if target.verdict == UNUSABLE and not force:
            raise UnusableRevision(
                f"{target.name} is unusable as delivered (see its inspection); "
                f'pass "force": true to point {alias} at it anyway.'
            )
        if alias == MAIN and not locked.main_pinned:
            Repository.objects.filter(pk=locked.pk).update(main_pinned=True, updated_at=timezone.now())
        current = Alias.objects.select_related("artifact").filter(repository=locked, name=alias).first()
        if current is not None and current.artifact_id == target.pk:
            return current
        moved = _set_alias(locked, alias, current, target, by=user, forced=target.verdict == UNUSABLE, note=note)
        assert moved is not None  # noqa: S101 (a target was given)
        return moved


def remove_alias(user: Any, repository: Repository, alias: str) -> None:
    """Take ``alias`` away. ``main`` cannot be removed: removing it unpins it, so it follows again."""
    with transaction.atomic():
        locked = Repository.objects.select_for_update().visible_to(user).get(pk=repository.pk)
        current = Alias.objects.select_related("artifact").filter(repository=locked, name=alias).first()
        if alias == MAIN:
            if current is None and not locked.main_pinned:
                raise AliasNotFound(f"{locked.full_name} has no alias {alias}.")
            Repository.objects.filter(pk=locked.pk).update(main_pinned=False, updated_at=timezone.now())
            locked.main_pinned = False
            target = main_candidate(locked)
            if current is None or target is None or current.artifact_id != target.pk:
                _set_alias(locked, MAIN, current, target, by=user, forced=False, note="unpinned: " + FOLLOW_NOTE)
            return
        if current is None:
            raise AliasNotFound(f"{locked.full_name} has no alias {alias}.")
        _set_alias(locked, alias, current, None, by=user, forced=False, note="")


def create_repository(user: Any, name: str, description: str = "") -> Repository:
    """A new, empty repository of ``user``; :class:`InvalidName` or :class:`NameTaken`."""
    error = repository_name_error(name)
    if error:
        raise InvalidName(error)
    if Repository.objects.filter(user=user).named(name).exists():
        raise NameTaken(f"You already have a repository named {name}.")
    try:
        with transaction.atomic():
            return Repository.objects.create(user=user, name=name, description=description)
    except IntegrityError as exc:  # created at the same moment by another request
        raise NameTaken(f"You already have a repository named {name}.") from exc


def rename_repository(user: Any, repository: Repository, name: str) -> Repository:
    """Rename (its revisions, commits and aliases stay); the old id stops resolving."""
    error = repository_name_error(name)
    if error:
        raise InvalidName(error)
    if Repository.objects.filter(user=user).named(name).exclude(pk=repository.pk).exists():
        raise NameTaken(f"You already have a repository named {name}.")
    try:
        with transaction.atomic():
            updated = (
                Repository.objects.visible_to(user)
                .filter(pk=repository.pk)
                .update(name=name, updated_at=timezone.now())
            )
    except IntegrityError as exc:
        raise NameTaken(f"You already have a repository named {name}.") from exc
    if not updated:
        raise Repository.DoesNotExist
    repository.name = name
    return repository


def move_artifact(user: Any, artifact: ModelArtifact, repository: Repository) -> ModelArtifact:
    """Make ``artifact`` a revision of another repository of its owner. The aliases pointing at it in
    its old repository are removed (each recorded); ``main`` of both repositories follows."""
    with transaction.atomic():
        target = Repository.objects.select_for_update().visible_to(user).get(pk=repository.pk)
        row = ModelArtifact.objects.select_for_update().owned_by(user).get(pk=artifact.pk)
        source = Repository.objects.select_for_update().get(pk=row.repository_id)
        if source.pk == target.pk:
            return row
        for alias in Alias.objects.select_related("artifact").filter(repository=source, artifact=row):
            note = f"its revision moved to {target.name}"
            _set_alias(source, alias.name, alias, None, by=user, forced=False, note=note)
            if alias.name == MAIN:
                Repository.objects.filter(pk=source.pk).update(main_pinned=False)
        ModelArtifact.objects.filter(pk=row.pk).update(repository=target)
        row.repository = target
        follow_main(source)
        follow_main(target)
    artifact.repository = target
    return row


def record_alias_move(
    repository: Repository,
    alias: str,
    source: ModelArtifact | None,
    target: ModelArtifact | None,
    *,
    by: Any,
    forced: bool,
    note: str,
) -> AliasMove:
    """Write one alias change into the history. Every alias change passes here, inside the change's
    transaction, which also writes the owner's ``alias.moved`` event (DESIGN §16)."""
    model_events.alias_moved(
        repository.user_id,
        repository=repository.full_name,
        alias=alias,
        from_commit=source.commit if source else None,
        to_commit=target.commit if target else None,
        model_id=target.pk if target else None,
    )
    return AliasMove.objects.create(
        repository=repository,
        alias=alias,
        from_artifact=source,
        to_artifact=target,
        from_commit=source.commit if source else "",
        to_commit=target.commit if target else "",
        by=by if getattr(by, "is_authenticated", False) else None,
        forced=forced,
        note=note[:200],
    )


def _set_alias(
    repository: Repository,
    name: str,
    current: Alias | None,
    target: ModelArtifact | None,
    *,
    by: Any,
    forced: bool,
    note: str,
) -> Alias | None:
    """Point ``name`` at ``target`` (None removes it) and record the move. The repository is locked."""
    source = current.artifact if current is not None else None
    who = by if getattr(by, "is_authenticated", False) else None
    result: Alias | None
    if target is None:
        if current is None:
            return None
        current.delete()
        result = None
    elif current is None:
        result = Alias.objects.create(repository=repository, name=name, artifact=target, updated_by=who)
    else:
        current.artifact = target
        current.updated_at = timezone.now()
        current.updated_by = who
        current.save(update_fields=["artifact", "updated_at", "updated_by"])
        result = current
    record_alias_move(repository, name, source, target, by=who, forced=forced, note=note)
    return result
