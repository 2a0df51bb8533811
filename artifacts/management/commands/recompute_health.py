"""Compute and store the training health (DESIGN §11) of existing artifacts.

Ingest stores it for new artifacts; this fills it in for artifacts stored before, or refreshes it
after the checks change. Only ``training_health`` is written: ``quality_metrics`` and the score
stay as ingest recorded them.
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from artifacts.health.verdict import recompute
from artifacts.models import ModelArtifact


class Command(BaseCommand):
    help = "Recompute the training health of the given artifacts (--all: every artifact, deleted ones included)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", help="Artifact ids")
        parser.add_argument("--all", action="store_true", help="Every artifact")
        parser.add_argument(
            "--missing", action="store_true", help="Only artifacts whose health was never computed (with --all)"
        )

    def handle(self, *args, **options):
        ids, everything = options["ids"], options["all"]
        if bool(ids) == bool(everything):
            raise CommandError("Give artifact ids or --all (not both).")
        if ids:
            try:
                wanted = [uuid.UUID(value) for value in ids]
            except ValueError as exc:
                raise CommandError(f"Not an artifact id: {exc}") from None
            queryset = ModelArtifact.objects.filter(pk__in=wanted)
            missing = set(wanted) - set(queryset.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No artifact with id {', '.join(sorted(map(str, missing)))}.")
        else:
            queryset = ModelArtifact.objects.all()
            if options["missing"]:
                queryset = queryset.filter(training_health__isnull=True)
        done = 0
        for artifact in queryset.only("pk", "job_id").iterator():
            health = recompute(artifact)
            done += 1
            self.stdout.write(f"{artifact.pk}: {health['summary']}")
        self.stdout.write(self.style.SUCCESS(f"Recomputed the training health of {done} artifact(s)."))
