"""What every benchmark shares: ports, the app's environment, processes, timing, the result table."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RUN = str(ROOT / "deploy" / "run")
KEY = "bench-cluster-key"
SECRET = "bench-webhook-secret"  # noqa: S105 (loopback benchmark only)
MIB = 1024 * 1024


def prepare_ingest(env: Mapping[str, str]) -> None:
    """Ready a timed ingest: migrate the database in another process, as a deployment does (a
    worker never runs migrations, whose memory would stay in the ingesting process's peak), then
    write back what was written before (the migration, a freshly generated adapter), which the
    kernel would otherwise write back during the timed run."""
    subprocess.run([PY, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=dict(env), check=True)
    os.sync()


def alternating(runs: int, first: str, second: str) -> Iterator[tuple[int, str, bool]]:
    """``(round, side, counted)`` for one uncounted round, then ``runs`` counted ones, each side once
    a round, taking turns at going first (round -1 is the warm-up)."""
    for round_ in range(-1, runs):
        for side in (first, second) if round_ % 2 == 0 else (second, first):
            yield round_, side, round_ >= 0


_next_port = [int(os.environ["BENCH_BASE_PORT"])] if os.environ.get("BENCH_BASE_PORT") else []


def port() -> int:
    """The next of BENCH_BASE_PORT, +1, +2, ... or, without it, a free port."""
    if _next_port:
        _next_port[0] += 1
        return _next_port[0] - 1
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Row:
    measure: str
    figure: str
    target: str = ""
    ratio: float | None = None
    ok: bool | None = None  # None: information only

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


def print_table(rows: list[Row]) -> None:
    headers = ("Measure", "Figure", "Limit / target", "Ratio", "")
    cells = [(r.measure, r.figure, r.target, "" if r.ratio is None else f"{r.ratio:.2f}", r.verdict) for r in rows]
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(5)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print()
    print(line.format(*headers))
    print(line.format(*("-" * w for w in widths)))
    for cell in cells:
        print(line.format(*cell))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def app_env(var: Path, **extra: str) -> dict[str, str]:
    """The app's settings for a benchmark: embedded defaults under ``var`` unless overridden."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    return {
        **{k: os.environ[k] for k in keep if k in os.environ},
        "PYTHON": PY,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "pipeline.settings",
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "GPU_CLUSTER_API_KEY": KEY,
        "GPU_CLUSTER_WEBHOOK_SECRET": SECRET,
        "GPU_CLUSTER_TIMEOUT": "600",
        "DEBUG": "true",
        "LOG_LEVEL": "warning",
        **extra,
    }


class Processes:
    """Background processes, each in its own process group; all stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[str], env: Mapping[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
        out: Any = log.open("ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            list(argv), cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with suppress(ProcessLookupError):  # children of a process that exited first
            os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()


@contextmanager
def processes() -> Iterator[Processes]:
    group = Processes()
    try:
        yield group
    finally:
        group.stop_all()


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (loopback)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout:.0f} s")


def start_simulator(group: Processes, var: Path, adapter_mb: float, **options: str) -> str:
    sim_port = port()
    argv = [RUN, "simulator", "--adapter-mb", str(adapter_mb), "--api-key", KEY, "--cache-dir", str(var / "sim")]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", value]
    group.start(argv, app_env(var, SIMULATOR_HOST="127.0.0.1", SIMULATOR_PORT=str(sim_port)))
    url = f"http://127.0.0.1:{sim_port}"
    wait_http(f"{url}/health")
    return url


def listing(sim_url: str, job: str) -> dict[str, Any]:
    import json

    request = urllib.request.Request(f"{sim_url}/training/artifacts/{job}", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=1800) as response:  # noqa: S310 (loopback)
        return dict(json.load(response))


def run_script(script: str, env: Mapping[str, str], *args: str, timeout: float = 3600) -> str:
    """Run a Python snippet with the app importable; its last stdout line is returned."""
    proc = subprocess.run(
        [PY, "-c", script, *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
