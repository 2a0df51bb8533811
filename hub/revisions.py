"""A repository at a revision, as the Hub protocol shows it: its commit and its files.

A revision is an alias (``main``, ``production`` …) or a full 40-hex commit. Its files are the
cluster's, byte for byte, plus what the product generates beside them as a bundle does (DESIGN
§14): the model card (``README.md`` when the cluster sent none), ``SHA256SUMS`` and
``inspection.json``, each under the first name the cluster's files leave free.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import CharField, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from artifacts.models import Alias, ArtifactFile, ModelArtifact, Repository
from artifacts.models.registry import is_commit
from artifacts.services.bundles import sha256sums
from artifacts.services.model_card import artifact_card, generated_names

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str
    key: str | None = None  # stored object (the cluster's file); None for a generated one
    content: bytes | None = field(default=None, repr=False)  # a generated file's bytes
    content_type: str = "application/octet-stream"

    @property
    def blob_id(self) -> str:
        """An id of the content in the form the Hub gives (40 hex), derived from its sha256."""
        return hashlib.sha1(f"sha256:{self.sha256}".encode(), usedforsecurity=False).hexdigest()

    @property
    def lfs(self) -> dict[str, Any]:
        pointer = LFS_POINTER.format(sha256=self.sha256, size=self.size)
        return {"oid": self.sha256, "size": self.size, "pointerSize": len(pointer)}


def find_repository(user: Any, namespace: str, name: str) -> Repository | None:
    """``namespace/name`` when it is one of ``user``'s repositories; None otherwise (someone else's
    and missing are the same)."""
    if user is None:
        return None
    return (
        Repository.objects.visible_to(user).filter(user__username=namespace).named(name).select_related("user").first()
    )


def resolve(user: Any, repository: Repository, revision: str) -> ModelArtifact | None:
    """The live revision ``revision`` names in ``repository``: an alias, or a full commit."""
    models = ModelArtifact.objects.visible_to(user).filter(repository=repository).select_related("dataset")
    if is_commit(revision):
        return models.filter(commit=revision).first()
    alias = Alias.objects.filter(repository=repository, name=revision).values_list("artifact_id", flat=True).first()
    return models.filter(pk=alias).first() if alias is not None else None


def alias_targets(user: Any, repository: Repository) -> list[tuple[str, str]]:
    """``(alias, commit)`` for each alias of ``repository`` that resolves (its revision is live),
    by name: what :func:`resolve` answers for each alias."""
    live = ModelArtifact.objects.visible_to(user).filter(repository=repository)
    rows = Alias.objects.filter(repository=repository, artifact__in=live).order_by("name")
    return list(rows.values_list("name", "artifact__commit"))


def listed_repositories(user: Any, search: str, sort: str, descending: bool) -> QuerySet[Repository]:
    """The user's repositories whose ``ns/repo`` contains ``search`` (any case), sorted by
    ``sort`` (``name``, ``created_at`` or ``last_revision_at``), each annotated with
    ``last_revision_at`` and ``main_commit`` (what ``main`` resolves to: a live revision, or None).
    A page is one query."""
    live = ModelArtifact.objects.filter(repository=OuterRef("pk"), deleted_at__isnull=True)
    main = Alias.objects.filter(repository=OuterRef("pk"), name="main", artifact__deleted_at__isnull=True)
    rows = (
        Repository.objects.visible_to(user)
        .select_related("user")
        .annotate(
            listed_id=Concat(Value(f"{user.username}/"), "name", output_field=CharField()),
            last_revision_at=Subquery(live.order_by("-created_at").values("created_at")[:1]),
            main_commit=Subquery(main.values("artifact__commit")[:1]),
        )
        .filter(listed_id__icontains=search)
    )
    key = F(sort).desc(nulls_last=True) if descending else F(sort).asc(nulls_first=True)
    return rows.order_by(key, "id")


def _generated(path: str, content: bytes, content_type: str) -> HubFile:
    return HubFile(
        path=path,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        content_type=content_type,
    )


def revision_files(model: ModelArtifact) -> list[HubFile]:
    """Every file of the revision, sorted by path: the cluster's, then the generated ones."""
    rows: list[ArtifactFile] = list(model.files.all())
    files = [
        HubFile(path=row.filename, size=row.size, sha256=row.sha256, key=row.key, content_type=row.content_type)
        for row in rows
    ]
    names = generated_names(row.filename for row in rows)
    files.append(_generated(names["card"], artifact_card(model, rows).encode(), "text/markdown; charset=utf-8"))
    files.append(_generated(names["sums"], sha256sums(rows).encode(), "text/plain; charset=utf-8"))
    if model.inspection is not None:
        text = json.dumps(model.inspection, indent=2, sort_keys=True).encode()
        files.append(_generated(names["inspection"], text, "application/json"))
    return sorted(files, key=lambda f: f.path)


LIBRARY = "peft"  # what loads every revision here


def card_data(model: ModelArtifact) -> dict[str, Any]:
    """What the repository info says about the adapter: base model, library, tags."""
    adapter = (model.inspection or {}).get("adapter") if isinstance(model.inspection, dict) else None
    base = adapter.get("base_model") if isinstance(adapter, dict) else None
    tags = ["peft", "lora", "safetensors"]
    if isinstance(base, str) and base:
        tags.append(f"base_model:adapter:{base}")
    return {"library_name": LIBRARY, "tags": tags, "base_model": base if isinstance(base, str) and base else None}
