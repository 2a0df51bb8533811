import json

from django.core.management.base import BaseCommand

from artifacts.services.ingest import ingest_due_jobs
from artifacts.tasks import follow_up


class Command(BaseCommand):
    help = "Run one artifact sweep now, in this process, and print the result as JSON."

    def handle(self, *args, **options):
        outcomes = ingest_due_jobs()
        for outcome in outcomes:
            follow_up(outcome)  # a failed attempt is retried by a worker, as after a task's attempt
        attempted = [o for o in outcomes if not o.skipped]
        self.stdout.write(
            json.dumps(
                {"success": True, "processed": len(attempted), "results": [o.as_seed_result() for o in attempted]},
                indent=2,
            )
        )
