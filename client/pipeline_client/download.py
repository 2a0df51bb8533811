"""``pipeline download``: a model's files into a folder, in parallel, resumable and verified.

For each file: skip it when the folder already holds it with the right sha256; refuse it when the
folder holds a different file of that name (unless ``--overwrite``); otherwise fetch it into its
partial file (``.dl-<hash>.part``, resuming what an earlier run left), check size and sha256
against the API's file list, and only then rename it to ``NAME``. A partial file whose checksum
does not match is discarded and fetched once more. Afterwards the sums file and the model card
are written, each under the first of its names the model's own files leave free
(:mod:`pipeline_client.names`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pipeline_client import disk
from pipeline_client.api import TIMEOUT, Api, user_agent
from pipeline_client.checksums import SUMS_NAMES, format_sums, is_sha256, parse_sums, sums_for, unsafe_reason
from pipeline_client.disk import part_name, write_atomically
from pipeline_client.errors import ClientError, DownloadFailed
from pipeline_client.names import CARD_NAMES, first_free, model_file_names
from pipeline_client.transfer import RemoteFile, Transfer, UrlBook

Say = Callable[[str], None]


@dataclass
class Outcome:
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bytes_received: int = 0
    grants: int = 0


def remote_files(model: dict[str, Any], wanted: tuple[str, ...]) -> list[RemoteFile]:
    files = {}
    for item in model.get("files") or []:
        try:
            name = str(item["filename"])
            files[name] = RemoteFile(name, int(item["size"]), str(item["sha256"] or "").lower())
        except (KeyError, TypeError, ValueError):
            raise ClientError("the server's file list is malformed") from None
    if not files:
        raise ClientError(f"model {model.get('id')} has no files to download")
    if wanted:
        unknown = [name for name in wanted if name not in files]
        if unknown:
            raise ClientError(f"no such file in this model: {', '.join(unknown)} (it has: {', '.join(sorted(files))})")
        return [files[name] for name in dict.fromkeys(wanted)]
    return [files[name] for name in sorted(files)]


class Downloader:
    def __init__(
        self,
        api: Api,
        model_id: str,
        directory: Path,
        *,
        workers: int,
        progress: Progress,
        say: Say,
        overwrite: bool = False,
    ):
        self.api = api
        self.model_id = model_id
        self.directory = directory
        self.overwrite = overwrite
        self.workers = workers
        self.progress = progress
        self.say = say
        self.stop = threading.Event()
        self.outcome = Outcome()
        self._lock = threading.Lock()

    def run(self, model: dict[str, Any], wanted: tuple[str, ...]) -> Outcome:
        selected = remote_files(model, wanted)
        todo: list[RemoteFile] = []
        for remote in selected:
            reason = unsafe_reason(remote.name)
            if reason:
                self.outcome.failures.append(f"{remote.name!r}: refused, not a safe file name ({reason})")
            elif not is_sha256(remote.sha256):
                self.outcome.failures.append(f"{remote.name}: the server gives no sha256 to verify it against")
            else:
                self._sort_existing(remote, todo)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClientError(f"cannot create {self.directory}: {exc.strerror}") from None
        if todo:
            self._fetch_all(todo)
        good = {r.name: r.sha256 for r in selected if r.name in self.outcome.downloaded + self.outcome.skipped}
        self._write_sums(good, {r.name for r in selected}, model_file_names(model))
        self._write_card(model_file_names(model))
        return self.outcome

    def _sort_existing(self, remote: RemoteFile, todo: list[RemoteFile]) -> None:
        """Skip a file already there, refuse to replace a different one, fetch the rest."""
        try:
            found = disk.existing(self.directory / remote.name, remote.size, remote.sha256)
        except OSError as exc:
            self.outcome.failures.append(f"{remote.name}: cannot read the existing file: {exc.strerror or exc}")
            return
        if found.state == disk.ABSENT:
            todo.append(remote)
        elif found.state == disk.SAME:
            self.outcome.skipped.append(remote.name)
        elif found.state == disk.IN_THE_WAY:
            self.outcome.failures.append(f"{remote.name} exists and {found.reason}; move it away and run again")
        elif self.overwrite:
            self.outcome.notes.append(f"{remote.name} {found.reason}; replacing it (--overwrite)")
            todo.append(remote)
        else:
            self.outcome.failures.append(
                f"{remote.name} exists and {found.reason}; rerun with --overwrite to replace it"
            )

    # --- files ----------------------------------------------------------------------------------
    def _fetch_all(self, todo: list[RemoteFile]) -> None:
        book = UrlBook(lambda names: self.api.grant(self.model_id, names)[0], [r.name for r in todo])
        book.mint_all()  # one grant up front; a 404/401 stops here with the API's message
        http = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": user_agent()}, follow_redirects=True)
        overall = self.progress.add_task("total", total=sum(r.size for r in todo))
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="download") as pool:
                futures = {pool.submit(self._fetch_one, http, book, remote, overall): remote for remote in todo}
                try:
                    for future in as_completed(futures):
                        remote = futures[future]
                        try:
                            future.result()
                        except DownloadFailed as exc:
                            self.outcome.failures.append(str(exc))
                        except ClientError as exc:
                            self.outcome.failures.append(f"{remote.name}: {exc}")
                        except OSError as exc:
                            self.outcome.failures.append(f"{remote.name}: {exc.strerror or exc}")
                        except Exception as exc:  # one file's surprise must not hide the others' results
                            self.outcome.failures.append(f"{remote.name}: unexpected error: {exc!r}")
                        else:
                            self.outcome.downloaded.append(remote.name)
                except KeyboardInterrupt:
                    self.stop.set()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        finally:
            http.close()
            self.outcome.grants = book.grants

    def _fetch_one(self, http: httpx.Client, book: UrlBook, remote: RemoteFile, overall: TaskID) -> None:
        final = self.directory / remote.name
        part = self.directory / part_name(remote.name)
        task = self.progress.add_task(remote.name, total=remote.size)
        shown = {"offset": 0}
        lock = threading.Lock()

        def advance(count: int) -> None:
            with lock:
                shown["offset"] += count
            self.progress.advance(task, count)
            self.progress.advance(overall, count)

        def reset(offset: int) -> None:
            with lock:
                delta = offset - shown["offset"]
                shown["offset"] = offset
            self.progress.update(task, completed=offset)
            self.progress.advance(overall, delta)

        for attempt in (1, 2):
            transfer = Transfer(http, book, remote, part, advance, reset, self.stop)
            digest = transfer.run()
            with self._lock:
                self.outcome.bytes_received += transfer.bytes_received
            if digest == remote.sha256:
                if not self.overwrite and os.path.lexists(final):
                    raise DownloadFailed(
                        f"{remote.name} appeared in {self.directory} during the download; "
                        f"rerun with --overwrite to replace it"
                    )
                os.replace(part, final)  # only a verified file takes the real name
                book.finished(remote.name)
                return
            part.unlink(missing_ok=True)
            if attempt == 1:
                self.say(f"{remote.name}: checksum mismatch, discarded the partial file and fetching it again")
        raise DownloadFailed(
            f"{remote.name}: sha256 mismatch after fetching it twice (expected {remote.sha256}, got {digest})"
        )

    # --- SHA256SUMS and model card --------------------------------------------------------------
    def _write_sums(self, good: dict[str, str], selected: set[str], own: set[str]) -> None:
        if not good:
            return
        name = first_free(SUMS_NAMES, own)
        if name is None:
            self.outcome.notes.append(f"the model has its own {' and '.join(SUMS_NAMES)}; not writing sums of ours")
            return
        if name != SUMS_NAMES[0]:
            self.outcome.notes.append(f"the model has its own {SUMS_NAMES[0]}; the download's sums are in {name}")
        try:
            server_sums = self.api.sha256sums(self.model_id)
        except ClientError as exc:
            self.outcome.notes.append(f"{name} built from the file list (the server's SHA256SUMS: {exc})")
            server_sums = None
        try:
            entries = sums_for(server_sums, good)
        except ClientError as exc:
            self.outcome.failures.append(str(exc))
            return
        path = self.directory / name
        if path.is_file() and not path.is_symlink():
            # Keep lines for files of earlier downloads into this folder that are still there.
            for line in parse_sums(path.read_text(encoding="utf-8", errors="replace")):
                keep = line.digest and line.name not in entries and line.name not in selected
                if keep and unsafe_reason(line.name) is None and (self.directory / line.name).is_file():
                    entries[line.name] = str(line.digest)
        write_atomically(path, format_sums(entries.items()))

    def _write_card(self, own: set[str]) -> None:
        name = first_free(CARD_NAMES, own)
        if name is None:
            self.outcome.notes.append(f"model card skipped: the model has its own {', '.join(CARD_NAMES)}")
            return
        try:
            card = self.api.card(self.model_id)
        except ClientError as exc:
            self.outcome.notes.append(f"model card skipped: {exc}")
            return
        if card is None:
            self.outcome.notes.append("model card skipped: the server has no card for this model (HTTP 404)")
            return
        write_atomically(self.directory / name, card)


def make_progress(*, quiet: bool) -> Progress:
    from rich.console import Console

    return Progress(
        TextColumn("{task.description}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
