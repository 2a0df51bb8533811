"""Every list view at scale (DESIGN §13), on PostgreSQL only: when ``BENCH_DATABASE_URL`` or
``DATABASE_URL`` names a PostgreSQL database, the benchmark uses the database ``<name>_bench`` on
the same server, filled by ``bench/scale_data.py`` (100,000 artifacts for one user, as ingest stores
them, file rows included, plus smaller users; ``BENCH_LIST_ARTIFACTS`` scales the first). The
database is kept: a later run reuses it when it holds the same shape (``BENCH_REFILL=1`` fills it
again). Each view is timed in-process by ``bench/list_scale.py``, ``BENCH_LIST_RUNS`` (default 30)
times each.

Budgets (p95): first page ≤ 30 ms (both sorts); every other page, filter, ``/models``, "Recently
deleted" and the admin overview ≤ 60 ms; ``q`` ≤ 50 ms; ``limit=100`` ≤ 100 ms; the same number
of queries whatever the page size, depth and filter."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import PY, ROOT, Row, app_env


def database_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def ensure_database(url: str) -> None:
    """Create the bench database when it is missing (never drops it: the fill is reused)."""
    import psycopg
    from psycopg import sql

    name = str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def bench_url(url: str) -> str:
    """``<name>_bench`` beside the database ``url`` names."""
    import psycopg

    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    return urlsplit(url)._replace(path=f"/{name}_bench").geturl()


def scale_env(url: str, var: Path) -> dict[str, str]:
    env = app_env(var, DATABASE_URL=url, DEBUG="false")
    env.update({"SECRET_KEY": "bench-" + "k" * 60, "SITE_URL": "http://testserver", "SECURE_SSL_REDIRECT": "false"})
    for name in ("BENCH_LIST_ARTIFACTS", "BENCH_LIST_RUNS", "BENCH_REFILL", "CACHE_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def bench_listing() -> list[Row]:
    url = database_url()
    if url is None:
        print("  DATABASE_URL is not PostgreSQL: list-at-scale skipped")
        return [Row("models list at 100,000 artifacts", "skipped (needs DATABASE_URL=postgres://...)", "")]
    scratch = bench_url(url)
    ensure_database(scratch)
    with tempfile.TemporaryDirectory(prefix="bench-list-") as var:
        proc = subprocess.Popen(
            [PY, "-m", "bench.list_scale", "--json"],
            cwd=ROOT,
            env=scale_env(scratch, Path(var)),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        last = ""
        for line in proc.stdout:
            if line.startswith("{"):
                last = line
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0 or not last:
            raise SystemExit(f"list benchmark failed ({proc.returncode})")
    return rows(json.loads(last))


def rows(result: dict[str, object]) -> list[Row]:
    cases = result["cases"]
    assert isinstance(cases, dict)
    out = []
    for figures in cases.values():
        target = figures["target"]
        label = figures["label"]
        figure = f"p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, {figures['queries']} queries"
        if target is None:
            out.append(Row(label, figure, "information"))
        else:
            out.append(Row(label, figure, f"p95 <= {target:.0f} ms", figures["p95"] / target, figures["p95"] <= target))
    # One count per family whatever the page, size, depth and filter (nothing matching reads no page).
    families = {
        "every API list": [k for k in cases if k.startswith("api_") and k != "api_q_none"],
        "/models": ["page_first", "page_100", "page_last"],
        "/models filtered": ["page_filtered", "page_q"],
    }
    counts = {name: sorted({cases[k]["queries"] for k in keys if k in cases}) for name, keys in families.items()}
    out.append(
        Row(
            "queries: " + " / ".join(counts),
            " / ".join("/".join(map(str, c)) for c in counts.values()),
            "constant",
            None,
            all(len(c) <= 1 for c in counts.values()),
        )
    )
    return out
