"""The model card of one stored artifact (DESIGN §10): what the API, the page and downloads serve.

It is built from the artifact's stored values every time, so a renamed model or a fresh
inspection shows at once; nothing is read from storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from artifacts.inspection import model_card
from artifacts.models import ArtifactFile, ModelArtifact

CARD_CONTENT_TYPE = "text/markdown; charset=utf-8"


def artifact_card(artifact: ModelArtifact, files: list[ArtifactFile] | None = None, *, folder: str = ".") -> str:
    """README.md text for ``artifact``; ``files`` saves a query when the caller has them already,
    ``folder`` is where the card's commands expect the downloaded files (a bundle's top folder)."""
    rows = files if files is not None else list(artifact.files.all())
    health: Any = artifact.training_health if isinstance(artifact.training_health, dict) else None
    return model_card(
        name=artifact.name,
        dataset_name=artifact.dataset.name if artifact.dataset else None,
        configuration=artifact.configuration if isinstance(artifact.configuration, dict) else None,
        quality_metrics=artifact.quality_metrics if isinstance(artifact.quality_metrics, dict) else None,
        training_summary=artifact.training_summary if isinstance(artifact.training_summary, dict) else None,
        inspection=artifact.inspection if isinstance(artifact.inspection, dict) else None,
        health=health,
        files=[{"filename": f.filename, "size": f.size, "sha256": f.sha256} for f in rows],
        folder=folder,
        verdict=artifact.verdict,
    )


# What the product adds beside the cluster's files, each with its names in order of preference
# (DESIGN §14): the first one the model's own files leave free is used, so nothing the cluster
# sent is ever shadowed or overwritten.
GENERATED_NAMES = {
    "card": ("README.md", "MODEL_CARD.md", "MODEL_CARD.generated.md"),
    "sums": ("SHA256SUMS", "SHA256SUMS.generated"),
    "inspection": ("inspection.json", "inspection.generated.json"),
}


def first_free_name(kind: str, filenames: Iterable[str]) -> str:
    """The name a generated file of ``kind`` takes beside ``filenames`` (the cluster's own)."""
    taken = set(filenames)
    candidates = GENERATED_NAMES[kind]
    for name in candidates:
        if name not in taken:
            return name
    stem, dot, suffix = candidates[-1].partition(".")
    number = 2
    while f"{stem}-{number}{dot}{suffix}" in taken:
        number += 1
    return f"{stem}-{number}{dot}{suffix}"


def generated_names(filenames: Iterable[str]) -> dict[str, str]:
    """``{"card": ..., "sums": ..., "inspection": ...}`` for a model whose files are ``filenames``."""
    names = list(filenames)
    return {kind: first_free_name(kind, names) for kind in GENERATED_NAMES}


def card_filename(filenames: Iterable[str]) -> str:
    """``README.md`` unless the cluster sent one (never overwritten), then ``MODEL_CARD.md``, …"""
    return first_free_name("card", filenames)
