"""Safe file names and ``SHA256SUMS`` files in the format ``sha256sum -c`` reads."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline_client.errors import ClientError

SUMS_NAME = "SHA256SUMS"
# Where a download writes its sums: the first of these that is not one of the model's own files.
SUMS_NAMES = (SUMS_NAME, f"{SUMS_NAME}.generated")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# "<64 hex>  name" (text mode) or "<64 hex> *name" (binary mode), as sha256sum writes them.
_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64}) (?P<mode>[ *])(?P<name>.+)$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` may not be written inside the download folder, or None when it is safe.

    Names come from the server; only a plain file name (no folders, no ``..``, no absolute path,
    no control characters) can never land outside the folder.
    """
    if not name or name in (".", ".."):
        return "empty or a directory name"
    if name.startswith(("/", "~")) or os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in name.split("/") or ".." in name.split("\\"):
        return "it climbs out of the folder (..)"
    if _UNSAFE.search(name):
        return "it contains a path separator or control character"
    if len(name.encode()) > 255:
        return "too long"
    return None


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX64.match(value))


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def format_sums(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256sum`` text-mode lines, sorted by name: ``<hex>  <name>``."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(entries))


@dataclass(frozen=True)
class SumLine:
    number: int
    name: str
    digest: str | None  # None: the line is malformed


def parse_sums(text: str) -> list[SumLine]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _LINE.match(raw.rstrip("\r"))
        if match is None:
            lines.append(SumLine(number, raw.strip(), None))
        else:
            lines.append(SumLine(number, match["name"], match["digest"].lower()))
    return lines


def sums_for(text: str | None, wanted: dict[str, str]) -> dict[str, str]:
    """Name → digest for the ``wanted`` files, taken from the server's SHA256SUMS when it agrees.

    ``wanted`` holds the digests of the API's file list; the sums file must not contradict it. Files
    the sums file lacks (or a missing or unreadable sums file) take the file list's digest.
    """
    result = dict(wanted)
    for line in parse_sums(text or ""):
        if line.digest is None or line.name not in wanted:
            continue
        if line.digest != wanted[line.name]:
            raise ClientError(
                f"the server's SHA256SUMS and file list disagree about {line.name}; not writing SHA256SUMS"
            )
    return result


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    problem: str = ""


def sums_file(directory: Path) -> Path:
    """The sums file a download wrote into ``directory``: ``SHA256SUMS.generated`` when there is one
    (the model had its own ``SHA256SUMS``), else ``SHA256SUMS``."""
    for name in reversed(SUMS_NAMES):
        if (directory / name).is_file():
            return directory / name
    raise ClientError(f"{directory / SUMS_NAME} not found: nothing to verify")


def verify_folder(directory: Path) -> tuple[Path, list[Check]]:
    """Check every line of the folder's sums file (:func:`sums_file`), like ``sha256sum -c``."""
    sums = sums_file(directory)
    try:
        text = sums.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClientError(f"{sums} not found: nothing to verify") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {sums}: {exc}") from None
    checks = []
    for line in parse_sums(text):
        if line.digest is None:
            checks.append(Check(f"line {line.number}", False, "not a checksum line"))
            continue
        reason = unsafe_reason(line.name)
        if reason:
            checks.append(Check(line.name, False, f"refused: {reason}"))
            continue
        path = directory / line.name
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            checks.append(Check(line.name, False, "missing"))
        except OSError as exc:
            checks.append(Check(line.name, False, f"cannot read: {exc.strerror}"))
        else:
            checks.append(Check(line.name, actual == line.digest, "" if actual == line.digest else "checksum mismatch"))
    if not checks:
        raise ClientError(f"{sums} lists no files")
    return sums, checks
