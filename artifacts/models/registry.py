"""Repositories, aliases and the history of alias moves (DESIGN §15).

Every model belongs to one repository of its owner, ``{username}/{repo}``; each model is a revision
of it with a stable 40-hex ``commit`` (a field of :class:`~artifacts.models.ModelArtifact`). An
alias (``main``, ``production``, ``staging`` …) points at one revision; every move is written down
as an :class:`AliasMove`. The rules (who may move what, ``main`` following the newest usable
revision) live in ``artifacts.services.registry``; the names and their validation live here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

REPOSITORY_NAME_MAX_LENGTH = 96
ALIAS_NAME_MAX_LENGTH = 63
MAIN = "main"
REPOSITORY_SUFFIX = "-lora"
FALLBACK_REPOSITORY = "adapters"

_REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_ALIAS_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_commit(value: str) -> bool:
    """A full revision id: 40 lower-case hex characters."""
    return bool(_COMMIT.fullmatch(value))


def commit_for(artifact_id: Any) -> str:
    """The commit a revision gets from its id (migration 0011 used it for existing models)."""
    return hashlib.sha1(str(artifact_id).encode(), usedforsecurity=False).hexdigest()


def new_commit() -> str:
    """A fresh commit for a new revision: 40 random lower-case hex characters."""
    return secrets.token_hex(20)


def repository_name_error(name: Any) -> str | None:
    """Why ``name`` cannot name a repository (a plain sentence), or None when it can."""
    if not isinstance(name, str) or not name:
        return "A repository name is required."
    if len(name) > REPOSITORY_NAME_MAX_LENGTH:
        return f"A repository name is at most {REPOSITORY_NAME_MAX_LENGTH} characters long."
    if not _REPOSITORY_NAME.fullmatch(name):
        return "A repository name starts with a letter or digit and holds only letters, digits, '.', '_' and '-'."
    if "--" in name or ".." in name:
        return "A repository name may not contain '--' or '..'."
    if name.lower().endswith(".git"):
        return "A repository name may not end in '.git'."
    return None


def alias_name_error(name: Any) -> str | None:
    """Why ``name`` cannot name an alias (a plain sentence), or None when it can."""
    if not isinstance(name, str) or not name:
        return "An alias name is required."
    if not _ALIAS_NAME.fullmatch(name):
        return (
            f"An alias name is 1 to {ALIAS_NAME_MAX_LENGTH} characters: lower-case letters, digits, "
            "'.', '_' and '-', starting with a letter or digit."
        )
    if is_commit(name):
        return "An alias name may not look like a commit (40 hex characters)."
    return None


def repository_slug(text: Any) -> str:
    """``text`` as a valid repository name (without suffix), or "" when nothing of it is usable."""
    decomposed = unicodedata.normalize("NFKD", text if isinstance(text, str) else "").lower()
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "._" else "-" for c in plain)
    slug = "-".join(part for part in safe.split("-") if part)
    while ".." in slug:
        slug = slug.replace("..", ".")
    return slug.strip("-._")


def default_repository_name(dataset_name: Any, hyperparameters: Any) -> str:
    """The repository a new model joins (DESIGN §15): the job's ``hyperparameters.repository`` when
    it names one (``ns/repo`` keeps ``repo``; an invalid name is made valid), else the dataset's
    slug + ``-lora``."""
    requested = hyperparameters.get("repository") if isinstance(hyperparameters, dict) else None
    if isinstance(requested, str) and requested.strip():
        wanted = requested.strip().rsplit("/", 1)[-1]
        if repository_name_error(wanted) is None:
            return wanted
        slug = repository_slug(wanted)[:REPOSITORY_NAME_MAX_LENGTH].strip("-._")
        if slug and repository_name_error(slug) is None:
            return slug
    base = repository_slug(dataset_name)[: REPOSITORY_NAME_MAX_LENGTH - len(REPOSITORY_SUFFIX)].strip("-._")
    name = f"{base}{REPOSITORY_SUFFIX}" if base else FALLBACK_REPOSITORY
    return name if repository_name_error(name) is None else FALLBACK_REPOSITORY


class AliasNames(models.Aggregate):
    """The names of a group's aliases, comma-separated (alias names hold no comma), in any order."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = models.TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


def alias_names_of(artifact_ref: Any) -> models.Subquery:
    """A subquery of the alias names pointing at ``artifact_ref`` (an ``OuterRef``), for one query
    per list page whatever its length."""
    names = (
        Alias.objects.filter(artifact=artifact_ref)
        .order_by()
        .values("artifact")
        .annotate(names=AliasNames("name"))
        .values("names")
    )
    return models.Subquery(names, output_field=models.TextField())


class RepositoryQuerySet(models.QuerySet["Repository"]):
    def visible_to(self, user: Any) -> RepositoryQuerySet:
        """The one place that decides which repositories a user may see: their own."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)

    def named(self, name: str) -> RepositoryQuerySet:
        """Names are unique per owner regardless of case."""
        return self.filter(name__iexact=name)

    def default_for(self, user_id: Any, dataset_name: Any, hyperparameters: Any) -> Repository:
        """The owner's repository a new model joins (``default_repository_name``), created on first use."""
        name = default_repository_name(dataset_name, hyperparameters)
        existing = self.filter(user_id=user_id).named(name).first()
        if existing is not None:
            return existing
        repository, _ = self.get_or_create(user_id=user_id, name__iexact=name, defaults={"name": name})
        return repository


class Repository(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="repositories")
    name = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH)
    description = models.TextField(blank=True, default="")
    # While False, ``main`` follows the newest revision whose verdict is not ``unusable``; the owner
    # moving ``main`` by hand pins it there.
    main_pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RepositoryQuerySet.as_manager()

    class Meta:
        db_table = "lora_repositories"
        ordering = ["name"]
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint("user", Lower("name"), name="repository_unique_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        """``{username}/{repo}``, as the Hub protocol and the API name it."""
        return f"{self.user.username}/{self.name}"


class Alias(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=ALIAS_NAME_MAX_LENGTH)
    # A purged model takes its aliases with it (the history keeps its commit).
    artifact = models.ForeignKey("artifacts.ModelArtifact", on_delete=models.CASCADE, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "lora_repository_aliases"
        ordering = ["name"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["repository", "name"], name="alias_unique_name_per_repository"),
        ]

    def __str__(self) -> str:
        return self.name


class AliasMove(models.Model):
    """One change of an alias: set (``from`` empty), moved, or removed (``to`` empty). ``by`` is
    empty when the product moved it (``main`` following a new revision). The commits are kept as
    text so the history still reads after a model is purged."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="alias_moves")
    alias = models.CharField(max_length=ALIAS_NAME_MAX_LENGTH)
    from_artifact = models.ForeignKey(
        "artifacts.ModelArtifact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_artifact = models.ForeignKey(
        "artifacts.ModelArtifact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_commit = models.CharField(max_length=40, blank=True, default="")
    to_commit = models.CharField(max_length=40, blank=True, default="")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    forced = models.BooleanField(default=False, help_text="Moved to an unusable revision on purpose")
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        db_table = "lora_alias_moves"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["repository", "-at", "-id"], name="alias_move_history_idx")]

    def __str__(self) -> str:
        return f"{self.alias}: {self.from_commit[:7] or '-'} → {self.to_commit[:7] or '-'}"
