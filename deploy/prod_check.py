"""``make prod-check``: the production process set, end to end, on this machine without Docker.

It starts what docker-compose runs, with the same ``deploy/run`` commands and ``DEBUG=false``:
gunicorn, two Celery workers and beat as separate processes, the GPU-cluster simulator, an S3
endpoint (moto's server, bucket created), against the machine's PostgreSQL (a dedicated database,
dropped and recreated) and Redis (a dedicated db number, flushed). Then it checks:

1. ``manage.py check --deploy`` is clean, ``/status`` answers 200, pages and static files are served;
2. jobs completed through signed webhooks, all at once, each get exactly one artifact and one
   ``artifact_ready`` notification, with every file in the bucket (jobs/minute with 1 and 2 workers);
3. a worker SIGKILLed in the middle of a (throttled) transfer: the job's lease expires, beat's sweep
   hands it to the other worker, and the artifact is stored exactly once, byte for byte;
4. downloads through S3 presigned URLs honour Range (206, the right bytes);

and stops everything (no process left behind), exiting non-zero with a message on any failure.

Settings (environment): ``PRODCHECK_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/prodcheck``), ``PRODCHECK_REDIS_URL`` (default
``redis://127.0.0.1:6379/13``), ``PRODCHECK_BASE_PORT`` (three consecutive ports; default: free
ones), ``PRODCHECK_JOBS`` (default 200, the two-worker batch), ``PRODCHECK_JOBS_ONE_WORKER``
(default 100).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

from deploy.checks import Checks
from deploy.stack import ROOT, CheckFailed, Stack, tail_text, wait_until


def ports() -> tuple[int, int, int]:
    """Web, simulator and S3 ports: PRODCHECK_BASE_PORT and the next two, or three distinct free ones."""
    base = os.environ.get("PRODCHECK_BASE_PORT")
    if base:
        return int(base), int(base) + 1, int(base) + 2
    sockets = [socket.socket() for _ in range(3)]
    try:
        for sock in sockets:  # held open together, so the three differ
            sock.bind(("127.0.0.1", 0))
        web, sim, s3 = (int(sock.getsockname()[1]) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
    return web, sim, s3


def reset_database(url: str) -> None:
    """Drop and recreate the dedicated database named in ``url`` (never a shared one: see defaults)."""
    import psycopg
    from psycopg import sql

    info = psycopg.conninfo.conninfo_to_dict(url)
    name = str(info.get("dbname") or "")
    if not name or name in {"postgres", "template0", "template1"}:
        raise CheckFailed(f"PRODCHECK_DATABASE_URL must name a dedicated database, got {name!r}")
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.ping()
    client.flushdb()
    client.close()


def base_env(work: Path, web: int, sim: int, s3: int, db_url: str, redis_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    return {
        **{k: os.environ[k] for k in keep if k in os.environ},
        "PYTHON": sys.executable,
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"https://127.0.0.1:{web}",
        "VAR_DIR": str(work / "var"),
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "ARTIFACT_STORAGE": "s3",
        "ARTIFACT_BUCKET": "lora-models",
        "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
        "AWS_ACCESS_KEY_ID": "prodcheck",
        "AWS_SECRET_ACCESS_KEY": "prodcheck-secret",
        "AWS_S3_REGION_NAME": "us-east-1",
        "GPU_CLUSTER_API_URL": f"http://127.0.0.1:{sim}",
        "GPU_CLUSTER_API_KEY": "prodcheck-cluster-key",
        "GPU_CLUSTER_WEBHOOK_SECRET": secrets.token_hex(16),
        # A killed worker's job becomes claimable after 30 s; beat sweeps every minute.
        "ARTIFACT_LEASE_SECONDS": "30",
        "ARTIFACT_SWEEP_CRON": "* * * * *",
        "ARTIFACT_RETRY_BASE_SECONDS": "5",
        "LOG_LEVEL": "info",
        "WEB_BIND": f"127.0.0.1:{web}",
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "2",
        "SIMULATOR_HOST": "127.0.0.1",
        "SIMULATOR_PORT": str(sim),
    }


def start_s3(stack: Stack, env: dict[str, str], port: int) -> None:
    import boto3

    stack.start("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env)
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_S3_REGION_NAME"],
    )
    wait_until("the S3 endpoint answering", lambda: client.list_buckets() is not None, 60)
    client.create_bucket(Bucket=env["ARTIFACT_BUCKET"])


def main() -> int:
    started = time.monotonic()
    db_url = os.environ.get("PRODCHECK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prodcheck")
    redis_url = os.environ.get("PRODCHECK_REDIS_URL", "redis://127.0.0.1:6379/13")
    jobs_two = int(os.environ.get("PRODCHECK_JOBS", "200"))
    jobs_one = int(os.environ.get("PRODCHECK_JOBS_ONE_WORKER", "100"))
    work = Path(tempfile.mkdtemp(prefix="prodcheck-"))
    web, sim, s3 = ports()
    env = base_env(work, web, sim, s3, db_url, redis_url)
    stack = Stack(work / "logs")
    run = [str(ROOT / "deploy" / "run")]

    def on_signal(signum: int, _frame: Any) -> NoReturn:
        raise SystemExit(f"prod-check interrupted by signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ok = False
    checks = None
    try:
        step("services: PostgreSQL database, Redis db, S3 endpoint")
        try:
            reset_database(db_url)
        except Exception as exc:
            raise CheckFailed(f"PostgreSQL at {db_url} is not usable: {exc}") from exc
        try:
            flush_redis(redis_url)
        except Exception as exc:
            raise CheckFailed(f"Redis at {redis_url} is not usable: {exc}") from exc
        start_s3(stack, env, s3)
        step("deploy/run check, migrate, collectstatic")
        stack.run("check", [*run, "check"], env)
        stack.run("migrate", [*run, "migrate"], env)
        stack.run("collectstatic", [*run, "collectstatic"], env)
        step("deploy/run simulator, web, worker (1 of 2), beat")
        stack.start("simulator", [*run, "simulator", "--adapter-mb", "0.1", "--rank", "1"], env)
        stack.start("web", [*run, "web"], env)
        stack.start("worker1", [*run, "worker"], {**env, "WORKER_NAME": "worker1"})
        stack.start("beat", [*run, "beat"], env)
        checks = Checks(stack, env, run, db_url)
        checks.wait_ready()
        checks.seed(jobs_one, jobs_two)
        checks.serving()

        step(f"{jobs_one} jobs completed by webhook at once, one worker")
        one = checks.batch("pc-one", jobs_one)
        step("deploy/run worker (2 of 2)")
        stack.start("worker2", [*run, "worker"], {**env, "WORKER_NAME": "worker2"})
        checks.wait_workers(2)
        step(f"{jobs_two} jobs completed by webhook at once, two workers")
        two = checks.batch("pc-two", jobs_two)
        checks.bucket_matches_database()
        step("SIGKILL a worker in the middle of a transfer")
        killed = checks.kill_mid_transfer()
        step("downloads through S3 presigned URLs with Range")
        checks.ranged_downloads()
        step("recovery of the killed worker's job")
        recovery = checks.await_recovery(killed)
        checks.bucket_matches_database()
        checks.status_ok()
        stack.assert_running()
        ok = True
        print("\nprod-check figures (shared 2-core machine: throughput figures are noisy)")
        print(f"  jobs/minute, 1 worker  : {one:8.1f}  ({jobs_one} jobs)")
        print(f"  jobs/minute, 2 workers : {two:8.1f}  ({jobs_two} jobs)")
        print(f"  killed worker's job    : stored {recovery:.0f} s after the SIGKILL (lease 30 s + next sweep)")
    except CheckFailed as exc:
        print(f"\nprod-check FAILED: {exc}", file=sys.stderr)
    except (KeyboardInterrupt, SystemExit) as exc:
        print(f"\nprod-check stopped: {exc or 'interrupted'}", file=sys.stderr)
    except Exception as exc:
        print(f"\nprod-check FAILED with an unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        import traceback

        traceback.print_exc()
    finally:
        if checks is not None:
            checks.close()
        step("stopping every process")
        leftovers = stack.stop_all()
        if leftovers:
            ok = False
            print(f"prod-check FAILED: processes of {', '.join(leftovers)} had to be killed or are still running")
    if ok:
        drop_database(db_url)
        flush_redis(redis_url)
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        print(f"\nprod-check passed in {time.monotonic() - started:.0f} s")
        return 0
    for log in sorted((work / "logs").glob("*.log")):
        print(f"\n--- {log.name} (last lines)\n{tail_text(log.read_text(errors='replace'), 12)}", file=sys.stderr)
    print(f"\nprod-check failed after {time.monotonic() - started:.0f} s; logs kept in {work / 'logs'}")
    return 1


_began = time.monotonic()


def step(text: str) -> None:
    print(f"[{time.monotonic() - _began:6.1f} s] {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
