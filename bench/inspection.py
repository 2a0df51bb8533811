"""What adapter inspection costs: its own throughput, and the ingest's wall time and memory with it.

    python -m bench.inspection                  # both parts, 2048 MiB ingest
    python -m bench.inspection --only scan      # the inspector alone on a synthetic file
    python -m bench.inspection --adapter-mb 1024 --runs 3

1. Scan: a synthetic ``--scan-mb`` MiB safetensors file (F32, F16 and BF16; generated a chunk at a
   time, never held whole) fed to ``AdapterInspector`` in 1 MiB chunks whose boundaries split the
   elements, as real transfers do. Prints MB/s per dtype, for finite values (the common case) and
   for values with many NaN/Inf (the slow path).
2. Ingest: the simulator serves one ``--adapter-mb`` MiB adapter; each run is a fresh process
   calling ``ingest`` with inspection on or off (off replaces the inspector with one that does
   nothing), alternating, ``--runs`` times each after one unmeasured run of each. Prints the best
   wall time of each, their ratio (target: at most 1.10) and each mode's peak RSS (target: no
   higher with inspection).
   The adapter is shaped like a real large one (``REALISTIC``: rank 256 on all seven linear
   modules of Mistral-7B in F32, its first 26 layers, 364 tensors of 2-14 MiB); ``make bench``
   also measures ``MANY_TENSORS`` (rank 16 on four modules, about 10,000 tensors of 0.25 MiB,
   layers repeated past the model's last), where the per-tensor work weighs most, as information.

Everything runs on loopback with the embedded defaults (SQLite, local storage) in a temporary
folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import alternating, prepare_ingest, wait_http
from bench.common import port as free_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KEY = "bench-inspection-key"
CHUNK = 1024 * 1024

# --- 1. the inspector alone ----------------------------------------------------------------------


def synthetic_chunks(dtype: str, total_mb: int, nonfinite: bool) -> tuple[int, list[bytes], bytes]:
    """(file size, the data blocks to repeat, the 8-byte length + header) of a synthetic adapter."""
    import numpy as np

    size = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    rng = np.random.default_rng(0)
    values = rng.standard_normal(CHUNK // 4).astype(np.float32) * 0.02
    if nonfinite:
        values[::5] = np.inf
        values[1::7] = np.nan
    with np.errstate(over="ignore"):
        if dtype == "BF16":
            block = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        else:
            block = values.astype(np.float16 if dtype == "F16" else np.float32).tobytes()
    block = (block * (CHUNK // len(block) + 1))[:CHUNK]  # F16/BF16 blocks are half a chunk
    tensors = 64
    per_tensor = total_mb * CHUNK // tensors // size * size
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for i in range(tensors):
        kind = "A" if i % 2 == 0 else "B"
        name = f"base_model.model.model.layers.{i // 2}.self_attn.q_proj.lora_{kind}.weight"
        header[name] = {
            "dtype": dtype,
            "shape": [per_tensor // size],
            "data_offsets": [i * per_tensor, (i + 1) * per_tensor],
        }
    encoded = json.dumps(header).encode() + b"  "  # padding: the data section starts mid-element
    prefix = struct.pack("<Q", len(encoded)) + encoded
    return len(prefix) + tensors * per_tensor, [block], prefix


def bench_scan(total_mb: int) -> None:
    sys.path.insert(0, str(ROOT))
    from artifacts.inspection import AdapterInspector

    name = "adapter_model.safetensors"
    for dtype in ("F32", "F16", "BF16"):
        for nonfinite in (False, True):
            size, (block,), prefix = synthetic_chunks(dtype, total_mb, nonfinite)
            first = prefix[len(prefix) // 2 :]
            offset = CHUNK - len(first)
            rotated = block[offset:] + block[:offset]  # what follows, chunk after chunk
            inspector = AdapterInspector()
            started = time.perf_counter()
            inspector.start_file(name, size)
            inspector.feed(name, prefix[: len(prefix) // 2])  # the header split across two chunks
            inspector.feed(name, first + block[:offset])
            remaining = size - len(prefix) // 2 - CHUNK
            while remaining > 0:
                piece = rotated if remaining >= CHUNK else rotated[:remaining]
                inspector.feed(name, piece)
                remaining -= len(piece)
            inspector.end_file(name, size)
            report = inspector.report()
            seconds = time.perf_counter() - started
            codes = sorted({f["code"] for f in report["findings"]} & {"safetensors_invalid", "nonfinite_values"})
            label = "with NaN/Inf" if nonfinite else "finite"
            print(
                f"scan {dtype:5} {label:13} {size / 1e6 / seconds:8.0f} MB/s  {', '.join(codes) or 'no value errors'}"
            )


# --- 2. the real ingest with and without inspection -----------------------------------------------

INGEST_SCRIPT = r"""
import json, resource, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.utils import timezone
from pipeline.models import TrainingJob
from artifacts.models import ModelArtifact
import artifacts.services.ingest.service as service

class NoInspection:
    def start_file(self, name, expected_size=None): pass
    def feed(self, name, chunk): pass
    def end_file(self, name, size=None): pass
    def report(self, *args, **kwargs): return None

if sys.argv[2] == "off":
    service.GuardedInspector = NoInspection
user = get_user_model().objects.create_user("bench", "b@example.com", "x")
job = TrainingJob.objects.create(user=user, status="running", external_job_id=sys.argv[1])
TrainingJob.objects.filter(pk=job.pk).update(status="completed", completed_at=timezone.now())
job.refresh_from_db()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = service.ingest(job)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
inspection = ModelArtifact.objects.get(job=job).inspection if result.success else None
print(json.dumps({"success": result.success, "error": result.error, "seconds": elapsed, "peak_rss_kib": peak,
                  "rss_before_kib": before, "verdict": (inspection or {}).get("verdict"),
                  "tensors": ((inspection or {}).get("adapter") or {}).get("tensors")}))
"""


def env_for(var: Path, sim_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
        "ARTIFACT_STORAGE_ROOT": str(var / "storage"),
        "CELERY_BROKER_URL": "filesystem://",
        "GPU_CLUSTER_API_URL": sim_url,
        "GPU_CLUSTER_API_KEY": KEY,
        "GPU_CLUSTER_TIMEOUT": "600",
        "LOG_LEVEL": "warning",
        "DJANGO_SETTINGS_MODULE": "pipeline.settings",
    }


REALISTIC = ("--rank", "256", "--target-modules", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
MANY_TENSORS = ("--rank", "16")


def bench_ingest(
    adapter_mb: int, runs: int, shape: tuple[str, ...] = REALISTIC
) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall time (s) and peak RSS (MB) of the ingest with inspection on and off."""
    var = Path(tempfile.mkdtemp(prefix="bench-inspection-"))
    port = free_port()
    sim = subprocess.Popen(  # noqa: S603 (our own command)
        [
            PY,
            "manage.py",
            "run_cluster_simulator",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--adapter-mb",
            str(adapter_mb),
            "--cache-dir",
            str(var / "sim"),
            *shape,
        ],
        cwd=ROOT,
        env=env_for(var, ""),
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health")
        request = urllib.request.Request(
            f"{url}/training/artifacts/bench-warm", headers={"Authorization": f"Bearer {KEY}"}
        )
        print(f"generating a {adapter_mb} MiB adapter in the simulator…", flush=True)
        with urllib.request.urlopen(request, timeout=1800) as response:  # noqa: S310 (loopback)
            files = json.load(response)["model_metadata"]["files"]
        total = sum(f["size"] for f in files.values())
        results: dict[str, list[dict]] = {"on": [], "off": []}
        # One unmeasured run of each mode first: the first ingest after the simulator wrote its
        # adapter was the slowest of six in both shapes (2.90 s against 2.40-2.71 s, 3.07 against
        # 2.51-3.22).
        for _, mode, counted in alternating(runs, "off", "on"):
            shutil.rmtree(var / "storage", ignore_errors=True)
            (var / "bench.sqlite3").unlink(missing_ok=True)
            prepare_ingest(env_for(var, url))
            proc = subprocess.run(  # noqa: S603 (our own command)
                [PY, "-c", INGEST_SCRIPT, "bench-warm", mode],
                cwd=ROOT,
                env=env_for(var, url),
                capture_output=True,
                text=True,
                check=True,
            )
            measured = json.loads(proc.stdout.strip().splitlines()[-1])
            if not measured["success"]:
                raise SystemExit(f"ingest failed: {measured['error']}")
            if counted:
                results[mode].append(measured)
            rate = total / 1e6 / measured["seconds"]
            print(
                f"ingest inspection={mode:3} {measured['seconds']:7.2f} s  {rate:6.0f} MB/s"
                f"  peak RSS {measured['peak_rss_kib'] / 1024:6.1f} MB  verdict={measured['verdict']}"
                f"  tensors={measured['tensors']}{'' if counted else '  (warm-up, not counted)'}",
                flush=True,
            )
        best = {mode: min(r["seconds"] for r in rs) for mode, rs in results.items()}
        peak = {mode: max(r["peak_rss_kib"] for r in rs) / 1024 for mode, rs in results.items()}
        print(f"ingest of {total / 2**20:.0f} MiB, best of {runs}: without inspection {best['off']:.2f} s", end="")
        print(f", with {best['on']:.2f} s")
        print(f"ratio with/without: {best['on'] / best['off']:.3f} (target <= 1.10)")
        difference = peak["on"] - peak["off"]
        print(f"peak RSS: without {peak['off']:.1f} MB, with {peak['on']:.1f} MB (difference {difference:+.1f} MB)")
        return best, peak
    finally:
        sim.terminate()
        sim.wait(timeout=10)
        shutil.rmtree(var, ignore_errors=True)


def inspection_rows(adapter_mb: int, runs: int) -> list[Any]:
    """``make bench``'s rows: inspection's cost on the ingest's wall time and peak memory."""
    from bench.common import Row

    best, peak = bench_ingest(adapter_mb, runs)
    ratio = best["on"] / best["off"]
    extra = peak["on"] - peak["off"]
    many, _ = bench_ingest(adapter_mb, runs, MANY_TENSORS)
    many_ratio = many["on"] / many["off"]
    return [
        Row(
            f"Ingest {adapter_mb} MiB with inspection vs without (rank 256, 364 tensors)",
            f"{best['on']:.2f} s vs {best['off']:.2f} s",
            "<= 1.10x",
            ratio,
            ratio <= 1.10,
        ),
        Row("Peak RSS added by inspection", f"{extra:+.1f} MB", "info (header + one record per tensor)"),
        Row(
            "The same with ~10,000 tensors of 0.25 MiB (rank 16)",
            f"{many['on']:.2f} s vs {many['off']:.2f} s",
            "info (per-tensor work)",
            many_ratio,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("scan", "ingest"))
    parser.add_argument("--scan-mb", type=int, default=768)
    parser.add_argument("--adapter-mb", type=int, default=int(os.environ.get("BENCH_ADAPTER_MB", "2048")))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--many-tensors", action="store_true", help="rank 16 on four modules: ~5 tensors per MiB")
    options = parser.parse_args()
    os.chdir(ROOT)
    if options.only != "ingest":
        bench_scan(options.scan_mb)
    if options.only != "scan":
        bench_ingest(options.adapter_mb, options.runs, MANY_TENSORS if options.many_tensors else REALISTIC)


if __name__ == "__main__":
    main()
