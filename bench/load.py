"""Load, not only latency: 50 concurrent API clients against gunicorn + PostgreSQL + Redis at
100,000 artifacts (the database ``bench/scale_data.py`` fills, shared with the ``list`` area).

The web process starts as production starts it (``deploy/run web``: gunicorn, threaded workers,
``DEBUG=false``), with these explicit choices:

* ``WEB_CONCURRENCY`` = ``BENCH_LOAD_WORKERS`` (default 4) worker processes, ``WEB_THREADS`` =
  ``BENCH_LOAD_THREADS`` (default 4) threads each: at most 16 requests run at once on 2 cores;
  the rest wait in the listen backlog, not in the database.
* ``CONN_MAX_AGE`` 60 s (``pipeline/settings.py``): each thread keeps its one connection between
  requests, so PostgreSQL sees at most workers × threads connections from the web, whatever the
  number of clients.
* ``DOWNLOAD_GRANT_RATE`` raised to 100000/min: the load measures capacity, not the per-user limit.

locust (``locust --headless``, ``bench/locustfile.py``) runs ``BENCH_LOAD_USERS`` (50) clients for
``BENCH_LOAD_SECONDS`` (60) s, each with an API token (``manage.py create_api_token``): lists
(first and deep pages, filters, search), model detail, download-URL minting and bundle requests.
Meanwhile ``pg_stat_activity`` of the database is sampled every 0.25 s. Reported: requests/s,
p95 per endpoint, the number of 5xx answers (target 0) and the peak connection count
(target: ≤ workers × threads + 2).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from bench.common import PY, ROOT, RUN, Row, port, processes, wait_http
from bench.listing import bench_url, database_url, ensure_database, scale_env

CONNECTION_MARGIN = 2


class ConnectionSampler(threading.Thread):
    """The peak of ``SELECT count(*) FROM pg_stat_activity WHERE datname = <db>`` (itself not counted)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.peak = 0
        self.samples: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        name = psycopg.conninfo.conninfo_to_dict(self.url)["dbname"]
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.wait(0.25):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
                ).fetchone()
                count = int(row[0]) if row else 0
                self.samples.append(count)
                self.peak = max(self.peak, count)


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except (redis.RedisError, ValueError):
        return False


def pick_ids(url: str) -> dict[str, list[str]]:
    """Live models of the big account, some with a ready bundle (clients ask for those bundles)."""
    import psycopg

    with psycopg.connect(url) as conn:
        user = conn.execute("SELECT id FROM accounts_user WHERE username = 'scale-main'").fetchone()
        if user is None:
            raise SystemExit("the load database is not filled (run the list area first)")
        models = conn.execute(
            "SELECT id::text FROM lora_model_artifacts TABLESAMPLE SYSTEM (5) "
            "WHERE user_id = %s AND deleted_at IS NULL LIMIT 3000",
            [user[0]],
        ).fetchall()
        bundled = conn.execute(
            "SELECT a.id::text FROM lora_model_artifacts a JOIN lora_model_bundles b ON b.artifact_id = a.id "
            "WHERE a.user_id = %s AND a.deleted_at IS NULL AND b.state = 'ready' LIMIT 1000",
            [user[0]],
        ).fetchall()
        live = conn.execute("SELECT live FROM lora_artifact_counts WHERE user_id = %s", [user[0]]).fetchone()
    return {"models": [r[0] for r in models], "bundled": [r[0] for r in bundled], "live": [str(live[0] if live else 0)]}


def api_tokens(env: dict[str, str], count: int) -> list[str]:
    tokens = []
    for n in range(count):
        proc = subprocess.run(
            [PY, "manage.py", "create_api_token", "scale-main", "--name", f"load-{n}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        tokens.append(proc.stdout.strip().splitlines()[-1])
    return tokens


def read_stats(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def bench_load() -> list[Row]:
    url = database_url()
    if url is None:
        print("  DATABASE_URL is not PostgreSQL: load skipped")
        return [Row("load: 50 API clients", "skipped (needs DATABASE_URL=postgres://...)", "")]
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    if not redis_answers(redis_url):
        print(f"  no Redis at {redis_url} (BENCH_REDIS_URL): load skipped")
        return [Row("load: 50 API clients", "skipped (needs Redis at BENCH_REDIS_URL)", "")]
    users = int(os.environ.get("BENCH_LOAD_USERS", "50"))
    seconds = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
    workers = int(os.environ.get("BENCH_LOAD_WORKERS", "4"))
    threads = int(os.environ.get("BENCH_LOAD_THREADS", "4"))
    scratch = bench_url(url)
    ensure_database(scratch)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        var = Path(tmp)
        env = scale_env(scratch, var)
        subprocess.run([PY, "-m", "bench.list_scale", "--fill-only"], cwd=ROOT, env=env, check=True)
        web = port()
        env.update(
            {
                "CACHE_URL": redis_url,
                "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", redis_url),
                "WEB_BIND": f"127.0.0.1:{web}",
                "WEB_CONCURRENCY": str(workers),
                "WEB_THREADS": str(threads),
                "WEB_ACCESS_LOG": "/dev/null",
                "SITE_URL": f"http://127.0.0.1:{web}",
                "DOWNLOAD_GRANT_RATE": "100000/min",
                "LOG_LEVEL": "warning",
            }
        )
        tokens = api_tokens(env, 5)
        ids = pick_ids(scratch)
        ids_file = var / "ids.json"
        ids_file.write_text(json.dumps(ids))
        last_page = max(2, int(ids["live"][0]) // 12)
        report = var / "status.json"
        with processes() as group:
            group.start([RUN, "web"], env, var / "web.log")
            wait_http(f"http://127.0.0.1:{web}/status")
            sampler = ConnectionSampler(scratch)
            sampler.start()
            locust_env = {
                **env,
                "LOAD_IDS": str(ids_file),
                "LOAD_TOKENS": ",".join(tokens),
                "LOAD_REPORT": str(report),
                "LOAD_LAST_PAGE": str(last_page),
            }
            shape = f"{workers} workers × {threads} threads"
            print(f"  locust: {users} clients for {seconds} s against {shape}", flush=True)
            subprocess.run(
                [
                    PY,
                    "-m",
                    "locust",
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(users),
                    "--spawn-rate",
                    str(users),
                    "--run-time",
                    f"{seconds}s",
                    "--host",
                    f"http://127.0.0.1:{web}",
                    "--csv",
                    str(var / "load"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=locust_env,
                check=False,
            )
            sampler.stopping.set()
            sampler.join(timeout=5)
        stats = read_stats(var / "load_stats.csv")
        status = json.loads(report.read_text()) if report.exists() else {}
    return load_rows(stats, status, sampler, users, seconds, workers, threads)


def load_rows(
    stats: list[dict[str, Any]],
    status: dict[str, int],
    sampler: ConnectionSampler,
    users: int,
    seconds: int,
    workers: int,
    threads: int,
) -> list[Row]:
    rows = []
    total = next((s for s in stats if s["Name"] == "Aggregated"), None)
    for entry in stats:
        if entry["Name"] == "Aggregated":
            continue
        rows.append(
            Row(
                f"load: {entry['Name']}",
                f"{float(entry['Requests/s']):.1f} req/s, p50 {entry['50%']} ms, p95 {entry['95%']} ms",
                "information",
            )
        )
    if total is not None:
        rows.insert(
            0,
            Row(
                f"load: {users} API clients, {seconds} s ({workers} workers × {threads} threads)",
                f"{float(total['Requests/s']):.1f} req/s, {total['Request Count']} requests, p95 {total['95%']} ms",
                "information",
            ),
        )
    server_errors = int(status.get("5xx", 0))
    other = {k: v for k, v in sorted(status.items()) if k not in ("2xx", "5xx")}
    rows.append(
        Row(
            "load: 5xx answers",
            f"{server_errors} ({', '.join(f'{k}: {v}' for k, v in other.items()) or 'every other answer 2xx'})",
            "0",
            None,
            server_errors == 0 and "error" not in status,
        )
    )
    bound = workers * threads + CONNECTION_MARGIN
    rows.append(
        Row(
            "load: peak PostgreSQL connections",
            f"{sampler.peak} (median {sorted(sampler.samples)[len(sampler.samples) // 2] if sampler.samples else 0})",
            f"<= {bound} (workers × threads + {CONNECTION_MARGIN})",
            sampler.peak / bound,
            0 < sampler.peak <= bound,
        )
    )
    return rows
