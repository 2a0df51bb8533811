"""Start, watch and stop the processes of the production topology on one machine, without Docker.

Every process runs in its own session (process group), so stopping one stops its children too
(gunicorn's workers, Celery's pool), and nothing is left behind when the check ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


class CheckFailed(Exception):
    """A production check did not hold; the message says what was expected and what happened."""


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel whether anything answers
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # state ppid pgrp ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class Stack:
    def __init__(self, logs: Path):
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._files: dict[str, IO[Any]] = {}
        self.expected_dead: set[str] = set()

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        handle = self.log_path(name).open("ab")
        self._files[name] = handle
        proc = subprocess.Popen(  # noqa: S603 (argv built by this check, never from input)
            list(argv), cwd=ROOT, env=dict(env), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        self.expected_dead.discard(name)
        return proc

    def run(self, name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float = 300) -> str:
        """Run a one-off command to completion; its output is returned and kept in the log folder."""
        result = subprocess.run(  # noqa: S603 (argv built by this check)
            list(argv), cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
        output = result.stdout + result.stderr
        self.log_path(name).write_text(output)
        if result.returncode != 0:
            raise CheckFailed(f"`{' '.join(argv)}` exited {result.returncode}:\n{tail_text(output)}")
        return result.stdout

    def tail(self, name: str, lines: int = 25) -> str:
        path = self.log_path(name)
        return tail_text(path.read_text(errors="replace"), lines) if path.exists() else "(no log)"

    def assert_running(self) -> None:
        for name, proc in self.procs.items():
            if name not in self.expected_dead and proc.poll() is not None:
                raise CheckFailed(f"{name} exited with {proc.returncode}; its log ends:\n{self.tail(name)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process and all its children at once, then reap it."""
        proc = self.procs[name]
        self.expected_dead.add(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self, name: str, timeout: float = 20) -> None:
        self._stop([name], timeout)

    def stop_all(self, timeout: float = 20) -> list[str]:
        """SIGTERM every group, SIGKILL what is still there after ``timeout``; names of groups that
        had to be killed or still have live processes (orphans) are returned."""
        return self._stop(list(self.procs), timeout)

    def _stop(self, names: list[str], timeout: float) -> list[str]:
        for name in names:
            self.expected_dead.add(name)
            # The leader alone: gunicorn's master and Celery's main process stop their children
            # gracefully; whatever is still in the group after the timeout is killed.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.procs[name].pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        stubborn = []
        for name in names:
            proc = self.procs[name]
            while group_members(proc.pid) and time.monotonic() < deadline:
                proc.poll()
                time.sleep(0.1)
            if group_members(proc.pid):
                stubborn.append(name)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                stubborn.append(name)
        time.sleep(0.2)
        orphans = [name for name in names if group_members(self.procs[name].pid)]
        for name in names:
            handle = self._files.pop(name, None)
            if handle:
                handle.close()
        return sorted(set(stubborn) | set(orphans))


def tail_text(text: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])


def wait_until(what: str, predicate: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except CheckFailed:
            raise
        except Exception as exc:  # not up yet: connection refused, table missing, ...
            last_error = exc
        else:
            if value:
                return value
        time.sleep(interval)
    detail = f" (last error: {last_error})" if last_error else ""
    raise CheckFailed(f"{what} did not happen within {timeout:.0f} s{detail}")
