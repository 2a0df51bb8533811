import json

from django.core.management.base import BaseCommand

from artifacts.services.ingest import ingest_due_jobs


class Command(BaseCommand):
    help = "Run one artifact sweep now, in this process, and print the result as JSON."

    def handle(self, *args, **options):
        results = ingest_due_jobs()
        attempted = [r for r in results if not r.skipped]
        self.stdout.write(
            json.dumps(
                {"success": True, "processed": len(attempted), "results": [r.as_seed_result() for r in attempted]},
                indent=2,
            )
        )
