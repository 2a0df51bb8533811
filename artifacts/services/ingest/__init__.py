"""Ingest: turn a completed training job into a stored, verified, scored artifact (DESIGN §6).

Read in this order: ``selection`` (which jobs are due; resetting a failed one), ``service``
(one attempt, top to bottom), ``transfer`` (streaming a file into storage), ``record`` (the
result in one transaction), ``outcome`` (what the attempt came to). Nothing here talks to the
task queue: ``artifacts.tasks`` turns what these return into queued tasks.
"""

from artifacts.services.ingest.outcome import IngestOutcome, Outcome
from artifacts.services.ingest.selection import awaiting_jobs, due_job_ids, reset_failed_ingest
from artifacts.services.ingest.service import TimeLimit, ingest, ingest_due_jobs

__all__ = [
    "IngestOutcome",
    "Outcome",
    "TimeLimit",
    "awaiting_jobs",
    "ingest",
    "ingest_due_jobs",
    "due_job_ids",
    "reset_failed_ingest",
]
