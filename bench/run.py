"""``make bench``: each measure beside its true limit, measured side by side in the same run.

Areas (``BENCH_ONLY=ingest,s3,hash,inspection,streams,webhook,list,load`` picks some; default all):

* ``ingest``  — large-file ingest to local storage vs ``curl -o FILE && sync FILE``; peak RSS
* ``s3``      — ingest into an S3 endpoint (moto) vs boto3 ``upload_fileobj`` of the same bytes
* ``hash``    — sha256 throughput of this Python (information)
* ``inspection`` — the 2 GiB ingest with adapter inspection vs without (<= 1.10x); memory it adds
* ``streams`` — 4 parallel range streams vs 1 from a cluster that caps each connection (>= 3x)
* ``webhook`` — webhook -> stored p50 on the filesystem broker and on Redis
* ``list``    — every list view (API, pages, admin) at 100,000 artifacts with file rows on PostgreSQL
* ``load``    — 50 concurrent API clients (locust) against gunicorn + PostgreSQL + Redis at 100,000

Prints one table (measure, figure, limit or target, ratio, PASS/FAIL) and exits non-zero when a
target is missed. Ratio is figure ÷ limit for throughput (higher is better) and figure ÷ target for
times (lower is better). Figures vary with machine load: compare rows of the same run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench.common import Row, print_table
from bench.ingest import bench_hash, bench_local, bench_s3
from bench.inspection import inspection_rows
from bench.listing import bench_listing
from bench.load import bench_load
from bench.streams import bench_streams
from bench.webhook import bench_webhook


def main() -> int:
    repeat = int(os.environ.get("BENCH_REPEAT", "5"))
    areas: dict[str, Callable[[], list[Row]]] = {
        "ingest": lambda: bench_local(repeat),
        "s3": lambda: bench_s3(repeat),
        "hash": bench_hash,
        "inspection": lambda: inspection_rows(int(os.environ.get("BENCH_ADAPTER_MB", "2048")), repeat),
        "streams": lambda: bench_streams(repeat),
        "webhook": bench_webhook,
        "list": bench_listing,
        "load": bench_load,
    }
    chosen = [a.strip() for a in os.environ.get("BENCH_ONLY", ",".join(areas)).split(",") if a.strip()]
    unknown = set(chosen) - set(areas)
    if unknown:
        print(f"BENCH_ONLY: unknown area(s) {', '.join(sorted(unknown))}; choose from {', '.join(areas)}")
        return 2
    rows: list[Row] = []
    began = time.monotonic()
    for area in chosen:
        print(f"[{time.monotonic() - began:6.1f} s] {area}", flush=True)
        rows += areas[area]()
    print_table(rows)
    failed = [r.measure for r in rows if r.ok is False]
    print(f"\n{len(rows)} measures in {time.monotonic() - began:.0f} s; ", end="")
    print(f"MISSED: {'; '.join(failed)}" if failed else "every target met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
