"""Parallel range fetching (``GPU_CLUSTER_STREAMS``) against a cluster that caps each connection.

The simulator serves one ``BENCH_STREAMS_MB`` (default 96) MiB adapter at most
``BENCH_STREAM_RATE_MB`` (default 16) MiB/s per connection, as many object stores and proxies do;
the same job is ingested in a fresh process with 1 stream and with 4. Target (issue 13.3): 4 streams
at least 3x as fast as 1. The limit is the throttle itself: 4 connections can at most be 4x one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bench.common import MIB, Row, app_env, listing, processes, start_simulator
from bench.ingest import run_ingest


def bench_streams(repeat: int = 1) -> list[Row]:
    adapter_mb = float(os.environ.get("BENCH_STREAMS_MB", "96"))
    rate = int(float(os.environ.get("BENCH_STREAM_RATE_MB", "16")) * MIB)
    var = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    seconds: dict[int, list[float]] = {1: [], 4: []}
    try:
        with processes() as group:
            sim = start_simulator(group, var, adapter_mb, throttle_bytes_per_second=str(rate))
            files = listing(sim, "bench-streams")["model_metadata"]["files"]
            total = sum(f["size"] for f in files.values())
            for attempt in range(repeat):
                for streams in seconds:
                    env = app_env(
                        var,
                        GPU_CLUSTER_API_URL=sim,
                        GPU_CLUSTER_STREAMS=str(streams),
                        ARTIFACT_STORAGE_ROOT=str(var / f"storage-{streams}-{attempt}"),
                    )
                    env["DATABASE_URL"] = f"sqlite:///{var / f'ingest-{streams}-{attempt}.sqlite3'}"
                    seconds[streams].append(run_ingest(env, "bench-streams")["seconds"])
                    shutil.rmtree(var / f"storage-{streams}-{attempt}", ignore_errors=True)
    finally:
        shutil.rmtree(var, ignore_errors=True)
    mib = total / MIB
    one, four = min(seconds[1]), min(seconds[4])
    speedup = one / four
    cap = f"{rate / MIB:.0f} MiB/s per connection"
    return [
        Row(f"ingest of {mib:,.0f} MiB, 1 stream ({cap})", f"{one:.2f} s ({mib / one:,.1f} MiB/s)", "limit"),
        Row(
            f"ingest of {mib:,.0f} MiB, GPU_CLUSTER_STREAMS=4",
            f"{four:.2f} s ({mib / four:,.1f} MiB/s)",
            ">= 3x 1 stream",
            speedup,
            speedup >= 3,
        ),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(bench_streams(int(os.environ.get("BENCH_REPEAT", "1"))))
