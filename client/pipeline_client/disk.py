"""Writing into the download folder without surprises.

- A file in transit lives under a short name derived from its final name,
  ``.dl-<16 hex of sha256(name)>.part``: predictable, so the next run resumes it, and short, so a
  255-byte file name still has room. It is opened without following a symbolic link and used only
  when it is a regular file with no other links.
- Generated files (``SHA256SUMS``, the model card) are written to a new, randomly named file
  created exclusively (``O_EXCL``: never an existing file, never through a symlink) and then
  renamed onto their name.
- An existing file is compared with the model's before anything replaces it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from io import BufferedRandom
from pathlib import Path

from pipeline_client.errors import ClientError
from pipeline_client.units import human_size

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def part_name(name: str) -> str:
    """The in-transit name of ``name``: ``.dl-<16 hex>.part`` (25 bytes, whatever the name's length)."""
    return f".dl-{hashlib.sha256(name.encode()).hexdigest()[:16]}.part"


def open_part(path: Path) -> BufferedRandom:
    """Open (creating it when absent) the partial file for reading and appending.

    Refused when ``path`` is a symbolic link, not a regular file, or a file with other hard links:
    the download writes only into a file of its own.
    """
    if not _NOFOLLOW and path.is_symlink():  # no O_NOFOLLOW on this platform: check first
        raise ClientError(f"{path} is a symbolic link; refusing to write through it (remove it and run again)")
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | _BINARY, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and path.is_symlink()):
            raise ClientError(
                f"{path} is a symbolic link; refusing to write through it (remove it and run again)"
            ) from None
        raise ClientError(f"cannot write {path}: {exc.strerror}") from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(descriptor)
        kind = "a file with other links" if stat.S_ISREG(info.st_mode) else "not a regular file"
        raise ClientError(f"{path} is {kind}; refusing to write into it (remove it and run again)")
    return os.fdopen(descriptor, "r+b")


def create_temporary(folder: Path, mode: int = 0o644) -> tuple[int, Path]:
    """A new, empty file in ``folder`` with a random short name, created exclusively."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    for _ in range(100):
        path = folder / f".tmp-{secrets.token_hex(8)}"
        try:
            return os.open(path, flags, mode), path
        except FileExistsError:
            continue
    raise ClientError(f"cannot create a temporary file in {folder}")


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to a new temporary file beside ``path``, then rename it onto ``path``.

    The rename replaces whatever is at ``path`` (a symbolic link included) without following it.
    """
    descriptor, temporary = create_temporary(path.parent, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


ABSENT, SAME, DIFFERENT, IN_THE_WAY = "absent", "same", "different", "in the way"


@dataclass(frozen=True)
class Existing:
    """What is already at a file's final name, compared with the model's file.

    ``state`` is ABSENT, SAME (byte for byte), DIFFERENT (a file or symbolic link that
    ``--overwrite`` may replace) or IN_THE_WAY (a directory or other non-file nothing replaces);
    ``reason`` completes "NAME exists and …".
    """

    state: str
    reason: str = ""


def existing(path: Path, size: int, sha256: str) -> Existing:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return Existing(ABSENT)
    if stat.S_ISLNK(info.st_mode):
        return Existing(DIFFERENT, "is a symbolic link")
    if stat.S_ISDIR(info.st_mode):
        return Existing(IN_THE_WAY, "is a directory")
    if not stat.S_ISREG(info.st_mode):
        return Existing(IN_THE_WAY, "is not a regular file")
    if info.st_size != size:
        return Existing(
            DIFFERENT,
            f"differs from the model's (its size is {human_size(info.st_size)}, the model's {human_size(size)})",
        )
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if digest == sha256:
        return Existing(SAME)
    return Existing(DIFFERENT, f"differs from the model's (sha256 {digest}, the model's {sha256})")
