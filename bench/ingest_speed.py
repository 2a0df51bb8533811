"""Ingest throughput against the machine's real limit, side by side in one run.

    python -m bench.ingest_speed [--adapter-mb 1024] [--repeats 3] [--compare-root DIR] [--port 0] [--s3]

Starts the cluster simulator with one ``--adapter-mb`` MiB job, then, ``--repeats`` times in turn:

* ``curl -o FILE && sync FILE``: the same bytes from the same server, written durably;
* an ingest of that job in a fresh process (SQLite, local storage), wall time and peak RSS;
* with ``--compare-root``, the same ingest with the code checked out in that folder (e.g. the main
  branch), so a change is measured beside what it replaces, on the same machine at the same time.

With ``--s3`` it also starts a moto S3 server and compares the S3 backend's ``save_stream`` of the
adapter file as a stream of 1 MiB chunks with a plain boto3 ``upload_fileobj`` of the same file.

Prints medians. Targets (DESIGN §13): ingest >= 0.8x curl + sync, peak RSS < 150 MB; S3 >= 0.8x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import port as free_port
from bench.common import wait_http

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KEY = "bench-cluster-key"
JOB = "bench-large"

INGEST_SCRIPT = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
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
TrainingJob.objects.filter(pk=job.pk).update(status="completed", completed_at=timezone.now())
job.refresh_from_db()
started = time.perf_counter()
result = ingest(job)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"success": result.success, "error": result.error, "seconds": elapsed, "peak_rss_kib": peak}))
"""

S3_SCRIPT = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import django
django.setup()
import boto3, requests
from artifacts.storage.s3 import S3ArtifactStorage, bounded_transfer_config
url, path, endpoint, mode = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
creds = dict(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
s3 = boto3.client("s3", endpoint_url=endpoint, **creds)
try:
    s3.create_bucket(Bucket="bench")
except Exception:
    pass
started = time.perf_counter()
if mode == "boto3":
    with open(path, "rb") as handle:
        s3.upload_fileobj(handle, "bench", "plain/adapter", Config=bounded_transfer_config())
else:
    storage = S3ArtifactStorage(bucket_name="bench", endpoint_url=endpoint, access_key="bench",
                                secret_key="bench", region_name="us-east-1")
    with open(path, "rb") as handle:
        storage.save_stream("stream/adapter", iter(lambda: handle.read(1024 * 1024), b""))
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def env_for(var: Path, sim_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "GPU_CLUSTER_API_URL": sim_url,
        "GPU_CLUSTER_API_KEY": KEY,
        "GPU_CLUSTER_TIMEOUT": "600",
        "ARTIFACT_STORAGE": "local",
        "DEBUG": "true",
        "LOG_LEVEL": "warning",
        "DJANGO_SETTINGS_MODULE": "pipeline.settings",
    }


def curl_and_sync(url: str, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", str(target), url], check=True)
    subprocess.run(["sync", str(target)], check=True)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def ingest_once(root: Path, work: Path, sim_url: str) -> dict:
    var = Path(tempfile.mkdtemp(prefix="ingest-", dir=work))
    try:
        proc = subprocess.run(
            [PY, "-c", INGEST_SCRIPT, JOB, str(root)],
            cwd=root,
            env=env_for(var, sim_url),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        if not measured["success"]:
            raise SystemExit(f"ingest failed: {measured['error']}")
        return measured
    finally:
        shutil.rmtree(var, ignore_errors=True)


def s3_once(root: Path, work: Path, url: str, path: Path, endpoint: str, mode: str) -> float:
    proc = subprocess.run(
        [PY, "-c", S3_SCRIPT, str(root), url, str(path), endpoint, mode],
        cwd=root,
        env=env_for(work, ""),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter-mb", type=float, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare-root", type=Path, default=None, help="Also time the code in this folder.")
    parser.add_argument("--port", type=int, default=0, help="Simulator port (default: a free one).")
    parser.add_argument("--s3", action="store_true", help="Also compare the S3 backend with plain boto3.")
    parser.add_argument("--work", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=args.work))
    port = args.port or free_port()
    sim_url = f"http://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [PY, "manage.py", "run_cluster_simulator", "--port", str(port), "--api-key", KEY]
                + ["--adapter-mb", str(args.adapter_mb), "--cache-dir", str(work / "sim")],
                cwd=ROOT,
                env=env_for(work, ""),
                stdout=subprocess.DEVNULL,
            )
        )
        wait_http(f"{sim_url}/health")
        request = urllib.request.Request(
            f"{sim_url}/training/artifacts/{JOB}", headers={"Authorization": f"Bearer {KEY}"}
        )
        print(f"generating a {args.adapter_mb:.0f} MiB adapter in the simulator…", flush=True)
        with urllib.request.urlopen(request, timeout=1800) as response:  # noqa: S310 (loopback)
            listing = json.load(response)
        files = listing["model_metadata"]["files"]
        total = sum(f["size"] for f in files.values())
        big = max(files, key=lambda name: files[name]["size"])
        url = listing["download_urls"][big]
        # Same amount of data as ingest moves: every file, as one durable download of that size.
        scale = total / files[big]["size"]

        runs: dict[str, list[float]] = {"curl -o + sync": [], "ingest (this tree)": []}
        rss: dict[str, list[float]] = {"ingest (this tree)": []}
        if args.compare_root:
            runs["ingest (compare)"] = []
            rss["ingest (compare)"] = []
        for n in range(args.repeats):
            runs["curl -o + sync"].append(curl_and_sync(url, work / "curl.out") * scale)
            for label, root in (("ingest (this tree)", ROOT), ("ingest (compare)", args.compare_root)):
                if root is None:
                    continue
                measured = ingest_once(root, work, sim_url)
                runs[label].append(measured["seconds"])
                rss[label].append(measured["peak_rss_kib"] / 1024)
            print(f"  round {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)

        mib = total / 2**20
        limit = statistics.median(runs["curl -o + sync"])
        print(f"\n{mib:,.0f} MiB, median of {args.repeats}:")
        for label, samples in runs.items():
            seconds = statistics.median(samples)
            line = f"  {label:22s} {seconds:6.2f} s  {mib / seconds:7,.0f} MiB/s  {limit / seconds:5.2f}x curl+sync"
            if label in rss:
                line += f"  peak RSS {max(rss[label]):5.0f} MB"
            print(line)

        if args.s3:
            s3_port = free_port()
            endpoint = f"http://127.0.0.1:{s3_port}"
            procs.append(
                subprocess.Popen(
                    [str(Path(PY).parent / "moto_server"), "-p", str(s3_port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_http(endpoint)
            source = work / "adapter.bin"
            subprocess.run(["curl", "-sf", "-o", str(source), url], check=True)
            s3_runs: dict[str, list[float]] = {"boto3 upload_fileobj": [], "save_stream (this tree)": []}
            if args.compare_root:
                s3_runs["save_stream (compare)"] = []
            for _ in range(args.repeats):
                s3_runs["boto3 upload_fileobj"].append(s3_once(ROOT, work, url, source, endpoint, "boto3"))
                s3_runs["save_stream (this tree)"].append(s3_once(ROOT, work, url, source, endpoint, "stream"))
                if args.compare_root:
                    s3_runs["save_stream (compare)"].append(
                        s3_once(args.compare_root, work, url, source, endpoint, "stream")
                    )
            plain = statistics.median(s3_runs["boto3 upload_fileobj"])
            size_mib = source.stat().st_size / 2**20
            print(f"\nS3 (moto server), {size_mib:,.0f} MiB, median of {args.repeats}:")
            for label, samples in s3_runs.items():
                seconds = statistics.median(samples)
                print(
                    f"  {label:24s} {seconds:6.2f} s  {size_mib / seconds:7,.0f} MiB/s  {plain / seconds:5.2f}x boto3"
                )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
