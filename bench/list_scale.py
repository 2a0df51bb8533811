"""Every list view at scale, timed in process on the database ``bench/scale_data.py`` fills.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> python -m bench.list_scale [--runs 30] [--json]

Fills the database unless it already holds the same shape (``BENCH_REFILL=1`` fills again), then
times each view through Django's test client (middleware, views, serializers, templates and SQL; no
HTTP), ``--runs`` times after three warm-ups, and counts its queries. The slowest single query of
the whole run is printed with ``EXPLAIN (ANALYZE, BUFFERS)``. ``--json`` prints the results as
the last line (what ``bench/listing.py`` reads).

The storage-use figure of the ``/models`` header and the admin overview's storage per user are
first tried once under a 10 s statement timeout; if they do not answer in that time, both are
replaced by a stub for the rest of the run and the output says "storage header excluded" (their
replacement, per-user counters, is measured with its own change).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipeline.settings")
os.environ.setdefault("LOG_LEVEL", "warning")

PAGE = 12
SLOW_FIRST_MS = 2_000  # a view this slow on its warm-up is timed only a few times
OVERFITTING = "convergence=overfitting%20detected"


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    url: str
    target_ms: float | None  # p95 budget; None: information
    who: str = "main"  # main | small | staff


def cases(main: int, live: int, small_live: int) -> list[Case]:
    last = max(1, math.ceil(live / PAGE))
    return [
        Case("api_first_recent", f"GET /api/models newest, page 1 of {main:,}", "/api/models", 30),
        Case("api_first_quality", "GET /api/models?sort=quality, page 1", "/api/models?sort=quality", 30),
        Case("api_page100_recent", "GET /api/models page 100", "/api/models?page=100", 60),
        Case("api_page100_quality", "GET /api/models?sort=quality page 100", "/api/models?sort=quality&page=100", 60),
        Case(
            "api_mid_quality",
            f"GET /api/models?sort=quality page {last // 2:,}",
            f"/api/models?sort=quality&page={last // 2}",
            60,
        ),
        Case("api_last_recent", f"GET /api/models page {last:,} (last)", f"/api/models?page={last}", 60),
        Case(
            "api_last_quality",
            f"GET /api/models?sort=quality page {last:,} (last)",
            f"/api/models?sort=quality&page={last}",
            60,
        ),
        Case("api_limit100", "GET /api/models?limit=100", "/api/models?limit=100", 100),
        Case("api_min_score", "GET /api/models?min_score=5", "/api/models?min_score=5", 60),
        Case(
            "api_min_score_quality",
            "GET /api/models?min_score=5&sort=quality",
            "/api/models?min_score=5&sort=quality",
            60,
        ),
        Case("api_min_score_deep", "GET /api/models?min_score=4 page 100", "/api/models?min_score=4&page=100", 60),
        Case("api_convergence", "GET /api/models?convergence=overfitting", f"/api/models?{OVERFITTING}", 60),
        Case(
            "api_convergence_deep",
            "GET /api/models?convergence=good page 100",
            "/api/models?convergence=good&page=100",
            60,
        ),
        Case("api_verdict_usable", "GET /api/models?verdict=ok,warnings", "/api/models?verdict=ok,warnings", 60),
        Case("api_verdict_unusable", "GET /api/models?verdict=unusable", "/api/models?verdict=unusable", 60),
        Case(
            "api_verdict_quality", "GET /api/models?verdict=ok&sort=quality", "/api/models?verdict=ok&sort=quality", 60
        ),
        Case("api_dataset", "GET /api/models?dataset=<one of 6>", "/api/models?dataset={dataset}", 60),
        Case("api_q_broad", "GET /api/models?q=legal (1 in 6 match)", "/api/models?q=legal", 50),
        Case("api_q_narrow", "GET /api/models?q=2026-03-0 (a few days)", "/api/models?q=2026-03-0", 50),
        Case("api_q_none", "GET /api/models?q=zzzz (no match)", "/api/models?q=zzzz", 50),
        Case("api_q_quality", "GET /api/models?q=sql&sort=quality", "/api/models?q=sql&sort=quality", 50),
        Case(
            "api_combined",
            "GET /api/models?min_score=4&verdict=ok&q=code",
            "/api/models?min_score=4&verdict=ok&q=code",
            60,
        ),
        Case("api_deleted", "GET /api/models?deleted=true", "/api/models?deleted=true", 60),
        Case("page_first", "/models page 1", "/models", 60),
        Case("page_100", "/models page 100", "/models?page=100", 60),
        Case("page_last", f"/models page {last:,} (last)", f"/models?page={last}", 60),
        Case(
            "page_filtered",
            "/models?min_score=5&convergence=excellent",
            "/models?min_score=5&convergence=excellent",
            60,
        ),
        Case("page_q", "/models?q=legal", "/models?q=legal", 60),
        Case("page_deleted", "/models/deleted (Recently deleted)", "/models/deleted", 60),
        Case("small_first", f"GET /api/models page 1, user with {small_live:,}", "/api/models", 30, "small"),
        Case("admin_overview", "admin: storage and ingest overview", "/admin/artifacts/ingestoverview/", 60, "staff"),
        Case("admin_index", "admin: index (staff dashboard)", "/admin/", None, "staff"),
        Case("admin_models", "admin: models changelist (staff)", "/admin/artifacts/modelartifact/", None, "staff"),
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def measure(client: Any, url: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    began = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    first_ms = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    queries = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    if first_ms > SLOW_FIRST_MS:
        runs = min(runs, 3)
    else:
        for _ in range(2):
            client.get(url)
    values = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        values.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, url
    slowest = max(queries, default=(0.0, ""))
    return {
        "p50": statistics.median(values),
        "p95": percentile(values, 0.95),
        "runs": runs,
        "queries": len(queries),
        "slowest_query_ms": slowest[0],
        "slowest_sql": slowest[1],
    }


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [line for (line,) in cursor.fetchall()]


def run(runs: int, main_count: int, refill: bool, only: set[str] | None = None) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from artifacts.models import ModelArtifact
    from bench.scale_data import ensure_filled
    from pipeline.models import Dataset

    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: the budgets are for PostgreSQL.")
    settings.ALLOWED_HOSTS = ["*"]
    how, seconds = ensure_filled(main_count, refill=refill)
    print(f"  data {how} in {seconds:.0f} s", flush=True)
    if not settings.DEBUG:
        call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG=false pages need the manifest
    users = get_user_model().objects
    main, small, staff = (users.get(username=n) for n in ("scale-main", "scale-small-0", "scale-staff"))
    live = ModelArtifact.objects.live_count(main)
    clients = {}
    for who, user in (("main", main), ("small", small), ("staff", staff)):
        clients[who] = Client()
        clients[who].force_login(user)
    dataset = Dataset.objects.filter(user=main).order_by("name").values_list("pk", flat=True).first()
    results: dict[str, Any] = {"live": live, "main": main_count, "data": how, "cases": {}}
    for case in cases(main_count, live, ModelArtifact.objects.live_count(small)):
        if only and case.key not in only:
            continue
        figures = measure(clients[case.who], case.url.format(dataset=dataset), runs)
        results["cases"][case.key] = {**figures, "label": case.label, "target": case.target_ms}
        print(
            f"  {case.label:58s} p50 {figures['p50']:8.1f} ms  p95 {figures['p95']:8.1f} ms  "
            f"queries {figures['queries']:2d}  slowest query {figures['slowest_query_ms']:.1f} ms",
            flush=True,
        )
    slowest_key = max(results["cases"], key=lambda k: results["cases"][k]["slowest_query_ms"])
    slowest = results["cases"][slowest_key]
    if slowest["slowest_sql"].lstrip().upper().startswith("SELECT"):
        plan = explain(slowest["slowest_sql"])
        results["explain"] = {"case": slowest_key, "sql": slowest["slowest_sql"], "plan": plan}
        print(f"\n  slowest query ({slowest['slowest_query_ms']:.1f} ms, {slowest['label']}):")
        print("    " + slowest["slowest_sql"][:2000])
        print("    EXPLAIN (ANALYZE, BUFFERS):")
        for line in plan:
            print("      " + line)
    for figures in results["cases"].values():
        figures.pop("slowest_sql")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_LIST_RUNS", "30")))
    parser.add_argument("--artifacts", type=int, default=int(os.environ.get("BENCH_LIST_ARTIFACTS", "100000")))
    parser.add_argument("--only", default="", help="Comma-separated case keys (default: every case).")
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON line, last.")
    parser.add_argument("--fill-only", action="store_true", help="Fill (or reuse) the database, measure nothing.")
    args = parser.parse_args()
    refill = os.environ.get("BENCH_REFILL", "") not in ("", "0", "false")
    if args.fill_only:
        import django

        django.setup()
        from bench.scale_data import ensure_filled

        how, seconds = ensure_filled(args.artifacts, refill=refill)
        print(f"  data {how} in {seconds:.0f} s", flush=True)
        return
    only = {k.strip() for k in args.only.split(",") if k.strip()} or None
    results = run(args.runs, args.artifacts, refill, only)
    if args.json:
        print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
