"""Names the client chooses: the default download folder and the generated files' names.

**Folder.** The server's ``folder`` for the model (DESIGN §14's one folder name) when it sends
one, else a slug of the model's name plus the start of its id (servers before ``folder``). Whatever
its source, a folder name must be a plain name inside the current directory: not empty, not
``.``/``..``, not absolute, no separator or control character, at most 100 bytes; anything else
falls back to ``model-<first 8 hex of the id>``.

**Generated files.** The model's own files keep their names; a file the client writes beside them
takes the first of its candidates that is not the name of one of the model's files (all of them,
not only those being downloaded, so a later download of the rest never collides): the card
``README.md``, ``MODEL_CARD.md``, ``MODEL_CARD.generated.md``; the sums ``SHA256SUMS``,
``SHA256SUMS.generated`` (:data:`pipeline_client.checksums.SUMS_NAMES`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from pipeline_client.checksums import unsafe_reason

FOLDER_MAX_BYTES = 100

CARD_NAMES = ("README.md", "MODEL_CARD.md", "MODEL_CARD.generated.md")

_NOT_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_HEX = re.compile(r"[^0-9a-f]+")


def plain_folder(name: str) -> bool:
    """True for a name that can only mean a folder directly inside the current directory."""
    return bool(name.strip()) and unsafe_reason(name) is None and len(name.encode()) <= FOLDER_MAX_BYTES


def id_hex(model: dict[str, Any]) -> str:
    """The first 8 hex digits of the model's id (of a UUID: its first group); whatever else the id
    holds is dropped, so a hostile id cannot steer a path."""
    return _NOT_HEX.sub("", str(model.get("id") or "").lower())[:8]


def fallback_folder(model: dict[str, Any]) -> str:
    digits = id_hex(model)
    return f"model-{digits}" if digits else "model"


def folder_name(model: dict[str, Any]) -> str:
    """The default download folder of ``model``: always one plain name inside the current directory."""
    sent = model.get("folder")
    if isinstance(sent, str) and plain_folder(sent):
        return sent
    digits = id_hex(model)
    slug = _NOT_SLUG.sub("-", str(model.get("name") or "")).strip("-.")
    if slug:
        # Two runs of one dataset on one day share a name; the id's start keeps their files apart.
        room = FOLDER_MAX_BYTES - (len(digits) + 1 if digits else 0)
        slug = slug[:room].rstrip("-.")
        candidate = f"{slug}-{digits}" if digits else slug
        if slug and plain_folder(candidate):
            return candidate
    return fallback_folder(model)


def model_file_names(model: dict[str, Any]) -> set[str]:
    return {str(item.get("filename")) for item in model.get("files") or [] if isinstance(item, dict)}


def first_free(candidates: Iterable[str], taken: Collection[str]) -> str | None:
    """The first candidate that is not one of ``taken`` (the model's own file names), or None."""
    return next((name for name in candidates if name not in taken), None)
