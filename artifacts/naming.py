"""Model names people can tell apart, and validation of user-edited names and descriptions.

The seed names every model "<dataset> - <date>", so two runs on the same dataset on the same day
look identical in the list. A default name here carries what tells runs apart: dataset, preset,
LoRA rank and training date ("Python Code Review Pairs · balanced · r16 · 2026-11-27"), plus
" (2)", " (3)" … when the owner already has a model of that name. Pure functions: the caller
passes the owner's taken names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pipeline.lib.text import first_invisible, has_visible, unprintable_positions, without_unprintable

# ModelArtifact.name's max_length (tests/models/test_naming.py checks they agree).
NAME_MAX_LENGTH = 255
# Descriptions are free text shown on the detail page and in the model card; long enough for a
# paragraph of notes, short enough to keep the list API and the card small.
DESCRIPTION_MAX_LENGTH = 2000
SEPARATOR = " · "
FALLBACK_NAME = "Model"

_SPACES = re.compile(r"\s+")


def _single_line(value: str) -> str:
    """Characters the display rule refuses (``pipeline.lib.text``) dropped, whitespace runs collapsed
    to one space."""
    kept = (" " if ch.isspace() else ch for ch in without_unprintable(value, allowed=" \t\n\r"))
    return _SPACES.sub(" ", "".join(kept)).strip()


def _day(value: date | datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            return None
    return None


def _rank(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value > 0:
        return f"r{value}"
    return None


def _key(name: str) -> str:
    """What makes two names "the same" to a reader: case and spacing ignored."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…" if limit > 0 else ""


def default_model_name(
    dataset_name: str | None,
    preset: str | None,
    rank: Any,
    trained_on: date | datetime | str | None,
    taken: Iterable[str] = (),
    *,
    max_length: int = NAME_MAX_LENGTH,
) -> str:
    """A default name that tells this run apart from the owner's other models.

    Parts that are missing or unusable are left out (a missing dataset becomes "Model"); control
    characters are removed; the dataset part is shortened with "…" so the whole name, suffix
    included, fits ``max_length``. ``taken`` holds the owner's existing names; a name equal to one
    of them (ignoring case and spacing) gets the first free " (2)", " (3)" … suffix.
    """
    dataset = _single_line(dataset_name) if isinstance(dataset_name, str) else ""
    parts = [
        _single_line(preset) if isinstance(preset, str) else "",
        _rank(rank) or "",
        _day(trained_on) or "",
    ]
    tail = "".join(SEPARATOR + part for part in parts if part)
    taken_keys = {_key(name) for name in taken if isinstance(name, str)}
    number = 1
    while True:
        suffix = "" if number == 1 else f" ({number})"
        room = max_length - len(tail) - len(suffix)
        if room < len(FALLBACK_NAME):  # absurdly long preset: keep what fits of the whole
            name = _truncate((dataset or FALLBACK_NAME) + tail, max_length - len(suffix)) + suffix
        else:
            name = _truncate(dataset or FALLBACK_NAME, room) + tail + suffix
        if _key(name) not in taken_keys:
            return name
        number += 1


def validate_display_text(
    value: Any,
    max_length: int,
    *,
    multiline: bool = False,
    allow_empty: bool = False,
    label: str = "Name",
) -> str:
    """The cleaned text for a rename or description, or ValueError with a plain message.

    Cleaning: Unicode NFC, Windows and old Mac line breaks become "\\n", surrounding whitespace
    trimmed. Rejected: non-text, any character the display rule of ``pipeline.lib.text`` refuses
    (controls, bidirectional overrides and other invisible format characters, line separators;
    newline and tab are allowed when ``multiline``), so also a name made only of zero-width
    characters; text that draws nothing (only whitespace, or only characters shown as blanks such
    as the Hangul filler U+3164: ``pipeline.lib.text.has_visible``); empty text (unless
    ``allow_empty``: then only truly empty text, which clears a description) and text longer than
    ``max_length`` characters after cleaning.
    """
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text.")
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()
    refused = next(unprintable_positions(text, allowed="\n\t" if multiline else ""), None)
    if refused is not None:
        if text[refused] in "\n\t":
            raise ValueError(f"{label} must be a single line.")
        raise ValueError(f"{label} contains an invisible control character (U+{ord(text[refused]):04X}); remove it.")
    if not text and value and not allow_empty:
        raise ValueError(f"{label} must not be empty. It has only spaces.")
    if not text and value:
        raise ValueError(f"{label} has only spaces or line breaks; leave it empty for no {label.lower()}.")
    if not text and not allow_empty:
        raise ValueError(f"{label} must not be empty.")
    if text and not has_visible(text):
        code = ord(first_invisible(text) or " ")
        raise ValueError(f"{label} has no visible characters (U+{code:04X} shows nothing); use letters or digits.")
    if len(text) > max_length:
        raise ValueError(f"{label} is {len(text):,} characters long; the limit is {max_length:,}.")
    return text


FOLDER_MAX_BYTES = 100


def model_folder(name: Any, model_id: Any) -> str:
    """The one folder name of a model (DESIGN §14): a file-system-safe slug of its current name —
    lower-case ASCII letters, digits, ``-`` and ``_`` — at most 100 bytes, or ``model-<first 8 hex
    of its id>`` when the name leaves nothing. Never empty, ``.``/``..``, absolute or with a separator.

    The serving commands, the card's "how to load", ``inspection.serving``, the CLI's default
    download folder and the bundle's top-level folder all use it, so they follow a rename together.
    """
    decomposed = unicodedata.normalize("NFKD", name if isinstance(name, str) else "").lower()
    text = "".join(c for c in decomposed if not unicodedata.combining(c))  # "é" becomes "e"
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in text)
    slug = "-".join(part for part in safe.split("-") if part)[:FOLDER_MAX_BYTES].strip("-_")
    return slug or f"model-{str(model_id).replace('-', '')[:8]}"
