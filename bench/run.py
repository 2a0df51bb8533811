"""Benchmarks: streaming ingest of a large adapter, and webhook → stored latency.

Run with ``make bench``. Everything runs on loopback with the embedded defaults (SQLite,
filesystem broker, local storage) in a temporary folder; results are printed, nothing is kept.

1. Ingest one ``BENCH_ADAPTER_MB`` (default 2048) MiB simulator file in a fresh process and report
   its wall time, throughput and peak RSS, beside ``curl -o`` + ``sha256sum`` of the same file in the
   same run. Targets: peak RSS under 150 MB; wall time within 1.3× of the baseline.
2. Time from the cluster's webhook to ``stored`` for a 10 MB adapter through a real web server and
   Celery worker, ``BENCH_WEBHOOK_RUNS`` (default 10) times. Target: p50 under 2 s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KEY = "bench-cluster-key"
SECRET = "bench-webhook-secret"  # noqa: S105 (loopback benchmark only)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (loopback)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def env_for(var: Path, sim_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "GPU_CLUSTER_API_URL": sim_url,
        "GPU_CLUSTER_API_KEY": KEY,
        "GPU_CLUSTER_WEBHOOK_SECRET": SECRET,
        "GPU_CLUSTER_TIMEOUT": "600",
        "DEBUG": "true",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "pipeline.settings",
    }


def start_simulator(var: Path, adapter_mb: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
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
        ],
        cwd=ROOT,
        env=env_for(var, ""),
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health")
    return proc, url


def listing(sim_url: str, job: str) -> dict:
    request = urllib.request.Request(f"{sim_url}/training/artifacts/{job}", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=1800) as response:  # noqa: S310 (loopback)
        return json.load(response)


INGEST_SCRIPT = r"""
import json, resource, sys, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.utils import timezone
from pipeline.models import TrainingJob
from artifacts.services.ingest import ingest
user = get_user_model().objects.create_user("bench", "b@example.com", "x")
job = TrainingJob.objects.create(user=user, status="running", external_job_id=sys.argv[1])
TrainingJob.objects.filter(pk=job.pk).update(status="completed", completed_at=timezone.now())  # no signal
job.refresh_from_db()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = ingest(job)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"success": result.success, "error": result.error, "seconds": elapsed,
                  "peak_rss_kib": peak, "rss_before_ingest_kib": before}))
"""


def bench_ingest(adapter_mb: float) -> dict:
    var = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    sim, sim_url = start_simulator(var, adapter_mb)
    try:
        job = "bench-large"
        print(f"generating a {adapter_mb:.0f} MiB adapter in the simulator…", flush=True)
        body = listing(sim_url, job)
        size = body["model_metadata"]["files"]["adapter_model.safetensors"]["size"]
        total = sum(f["size"] for f in body["model_metadata"]["files"].values())
        url = body["download_urls"]["adapter_model.safetensors"]

        target = var / "curl.out"
        started = time.perf_counter()
        subprocess.run(["curl", "-sf", "-o", str(target), url], check=True)
        digest = subprocess.run(["sha256sum", str(target)], check=True, capture_output=True, text=True).stdout.split()[
            0
        ]
        baseline = time.perf_counter() - started
        assert digest == body["model_metadata"]["files"]["adapter_model.safetensors"]["sha256"]
        target.unlink()
        # Same amount of data as ingest moves: every file, not only the adapter.
        baseline_total = baseline * total / size

        proc = subprocess.run(
            [PY, "-c", INGEST_SCRIPT, job],
            cwd=ROOT,
            env=env_for(var, sim_url),
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        if not measured["success"]:
            raise SystemExit(f"ingest failed: {measured['error']}")
        return {
            "bytes": total,
            "baseline_seconds": baseline_total,
            "ingest_seconds": measured["seconds"],
            "peak_rss_mb": measured["peak_rss_kib"] / 1024,
            "rss_before_ingest_mb": measured["rss_before_ingest_kib"] / 1024,
        }
    finally:
        sim.terminate()
        sim.wait(timeout=10)
        shutil.rmtree(var, ignore_errors=True)


SETUP_SCRIPT = r"""
import sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from pipeline.models import TrainingJob
user = get_user_model().objects.create_user("bench", "b@example.com", "x")
for i in range(int(sys.argv[1])):
    TrainingJob.objects.create(user=user, status="running", external_job_id=f"bench-hook-{i}")
"""

POLL_SCRIPT = r"""
import sys, time
import django
django.setup()
from pipeline.models import TrainingJob
job_id, deadline = sys.argv[1], time.monotonic() + 60
while time.monotonic() < deadline:
    if TrainingJob.objects.filter(external_job_id=job_id, artifact__isnull=False).exists():
        print("stored"); break
    time.sleep(0.05)
"""


def bench_webhook(runs: int) -> list[float]:
    var = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    sim, sim_url = start_simulator(var, 10)
    env = env_for(var, sim_url)
    subprocess.run([PY, "-c", SETUP_SCRIPT, str(runs)], cwd=ROOT, env=env, check=True)
    for i in range(runs):
        listing(sim_url, f"bench-hook-{i}")  # generate the files up front: we time our side only
    port = free_port()
    web = subprocess.Popen(
        [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [PY, "-m", "celery", "-A", "pipeline", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import django

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pipeline.settings"
    sys.path.insert(0, str(ROOT))
    django.setup()
    from pipeline.models import TrainingJob

    latencies = []
    try:
        wait_http(f"http://127.0.0.1:{port}/status")
        time.sleep(3)  # let the worker connect
        for i in range(runs):
            body = json.dumps({"external_job_id": f"bench-hook-{i}", "status": "completed"}).encode()
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/webhooks/training-complete",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "X-Signature-256": signature},
            )
            started = time.perf_counter()
            urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 (loopback)
            deadline = started + 60
            while time.perf_counter() < deadline:
                if TrainingJob.objects.filter(external_job_id=f"bench-hook-{i}", artifact__isnull=False).exists():
                    break
                time.sleep(0.02)
            else:
                raise SystemExit(f"job bench-hook-{i} was not stored within 60 s")
            latencies.append(time.perf_counter() - started)
    finally:
        for proc in (web, worker, sim):
            proc.terminate()
        for proc in (web, worker, sim):
            proc.wait(timeout=20)
        shutil.rmtree(var, ignore_errors=True)
    return latencies


def main() -> None:
    adapter_mb = float(os.environ.get("BENCH_ADAPTER_MB", "2048"))
    runs = int(os.environ.get("BENCH_WEBHOOK_RUNS", "10"))
    ingest = bench_ingest(adapter_mb)
    mib = ingest["bytes"] / 1024 / 1024
    ratio = ingest["ingest_seconds"] / ingest["baseline_seconds"]
    print(f"\nIngest of {mib:,.0f} MiB over loopback")
    print(
        f"  curl -o + sha256sum : {ingest['baseline_seconds']:7.2f} s  ({mib / ingest['baseline_seconds']:,.0f} MiB/s)"
    )
    print(
        f"  ingest              : {ingest['ingest_seconds']:7.2f} s  ({mib / ingest['ingest_seconds']:,.0f} MiB/s)"
        f"  = {ratio:.2f}x baseline (target <= 1.3x)"
    )
    print(
        f"  peak RSS            : {ingest['peak_rss_mb']:7.1f} MB"
        f"  (before ingest {ingest['rss_before_ingest_mb']:.1f} MB; target < 150 MB)"
    )
    latencies = bench_webhook(runs)
    p50 = statistics.median(latencies)
    print(f"\nWebhook -> stored, 10 MB adapter, {runs} runs")
    print(f"  p50 {p50:.2f} s   min {min(latencies):.2f} s   max {max(latencies):.2f} s  (target p50 < 2 s)")
    ok = ingest["peak_rss_mb"] < 150 and ratio <= 1.3 and p50 < 2
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
