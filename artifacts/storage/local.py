"""Local-disk artifact storage: object key K lives at ``$ARTIFACT_STORAGE_ROOT/K``.

Writes go to a temporary file that is fsynced and renamed over the key, so a file is complete under
its final name or absent. Downloads go through our own signed ``/downloads/<token>`` endpoint
(``artifacts.pages.downloads``), which serves Range requests.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from artifacts.storage import signing
from artifacts.storage.seam import CHUNK_SIZE, checked_prefix, common_refusal, url_ttl


class WriteBehind:
    """Start the disk writes of a file being written in order, and keep its page cache small.

    Every ``WINDOW`` bytes written, ``POSIX_FADV_DONTNEED`` on the new window starts its writeback
    and, on what was written two windows before (written back by then), drops the clean pages. On
    Linux, DONTNEED first starts writeback of the range's dirty pages, then drops the ones that are
    clean (mm/fadvise.c ``generic_fadvise``); it never discards data, and durability still comes
    from the final fsync. Without it, a gigabyte written at memory speed sits dirty in ever new
    page-cache pages until the kernel's dirty limits throttle the writer or the fsync writes it all
    (profiled: most of the ingest's CPU time went to copying into those pages); with it the disk
    works while the stream runs and the page cache holds a few windows. Where the call does not
    exist (macOS), this does nothing.
    """

    WINDOW = 32 * 1024 * 1024

    def __init__(self, fd: int):
        self.fd = fd
        self.written = 0
        self._started = 0  # writeback has been asked for every byte below this offset
        self._advise = getattr(os, "posix_fadvise", None)

    def wrote(self, count: int) -> None:
        self.written += count
        if self._advise is None or self.written - self._started < self.WINDOW:
            return
        self._hint(self._started, self.written - self._started)
        if self._started > 2 * self.WINDOW:  # (a length of 0 would mean "to the end of the file")
            self._hint(0, self._started - 2 * self.WINDOW)
        self._started = self.written

    def _hint(self, offset: int, length: int) -> None:
        """Advice only: a file system that refuses it (EINVAL, ESPIPE) is written without it."""
        if self._advise is None:
            return
        try:
            self._advise(self.fd, offset, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            self._advise = None

    def done(self) -> None:
        """After the fsync: drop the rest (reading the file back comes from disk)."""
        self._hint(0, 0)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (fsync(2): syncing a file does not sync its directory entry)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform that cannot open folders (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: a file system that cannot sync folders
            raise
    finally:
        os.close(fd)


@deconstructible
class LocalArtifactStorage(FileSystemStorage):
    """Object key K lives at ``location/K``; writes go to a temporary file then are renamed."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # keys are chosen by the caller and overwriting is intended

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        """Write to a temporary file, fsync it, rename it over ``key`` and fsync the folder, so the
        file is complete under its final name or absent (a folder the call had to create is synced
        only by the file system's own journal).

        Written pages are handed to the disk as the stream goes (:class:`WriteBehind`) instead of all at
        the final fsync, and dropped from the page cache once written, so a large file neither waits
        for one long flush at the end nor grows the page cache by its size.
        """
        final = Path(self.path(key))  # safe_join: raises SuspiciousFileOperation outside the root
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                behind = WriteBehind(fd)
                for chunk in chunks:
                    handle.write(chunk)
                    behind.wrote(len(chunk))
                handle.flush()
                os.fsync(fd)
                behind.done()
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_folder(final.parent)

    def _save(self, name: str, content: File) -> str:
        self.save_stream(name, content.chunks(CHUNK_SIZE))
        return name

    def delete(self, name: str) -> None:
        super().delete(name)
        self._tidy_parents(Path(self.path(name)).parent)

    def _tidy_parents(self, folder: Path) -> None:
        """Remove empty {user}/{artifact} folders so a failed attempt leaves nothing behind."""
        root = Path(self.location).resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent

    def read_stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self.path(key), "rb") as handle:
            handle.seek(start)
            left = None if end is None else max(0, end - start)
            while left is None or left > 0:
                chunk = handle.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every file under ``prefix`` at any depth, hidden ones included (an interrupted write's
        ``.upload-*.part``); a symbolic link is listed as itself, never followed."""
        folder = Path(self.path(prefix.strip("/")))  # safe_join keeps it under the root
        root = Path(self.path(""))
        for parent, _dirs, files in os.walk(folder):
            for name in sorted(files):
                yield Path(parent, name).relative_to(root).as_posix()

    def clear_prefix(self, prefix: str) -> None:
        folder = Path(self.path(checked_prefix(prefix)))  # safe_join keeps it under the root
        if folder.is_dir():
            shutil.rmtree(folder)
        self._tidy_parents(folder.parent)

    def signed_url(self, key: str, filename: str, ttl: int | None = None) -> str:
        return signing.local_download_url(key, filename, url_ttl() if ttl is None else ttl)

    def refusal(self, exc: BaseException) -> str | None:
        return common_refusal(exc)
