"""Inspect stored artifacts again from storage: ``inspect_artifacts --all`` or ``inspect_artifacts ID ...``."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from artifacts.models import ModelArtifact
from artifacts.services.reinspect import reinspect


class Command(BaseCommand):
    help = "Inspect artifacts again from their stored files and save the verdict (safe to repeat)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", help="Artifact ids to inspect.")
        parser.add_argument("--all", action="store_true", help="Every artifact that is not deleted.")

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[str] = options["ids"]
        if bool(ids) == bool(options["all"]):
            raise CommandError("Give artifact ids or --all (not both).")
        queryset = ModelArtifact.objects.alive().select_related("job").order_by("created_at", "id")
        if ids:
            try:
                wanted = [uuid.UUID(value) for value in ids]
            except ValueError as exc:
                raise CommandError(f"Not an artifact id: {exc}") from None
            queryset = queryset.filter(pk__in=wanted)
            missing = set(wanted) - set(queryset.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No such artifact: {', '.join(sorted(str(m) for m in missing))}")
        verdicts: Counter[str] = Counter()
        for artifact in queryset.iterator(chunk_size=100):
            try:
                verdict = reinspect(artifact)["verdict"]
            except Exception as exc:  # one unreadable artifact must not stop the others
                verdict = "error"
                self.stdout.write(f"{artifact.pk} error: {type(exc).__name__}: {exc}")
            else:
                self.stdout.write(f"{artifact.pk} {verdict}")
            verdicts[verdict] += 1
        summary = ", ".join(f"{count} {name}" for name, count in sorted(verdicts.items())) or "nothing to inspect"
        self.stdout.write(f"Inspected {sum(verdicts.values())} artifact(s): {summary}.")
        if verdicts["error"]:
            raise CommandError(f"{verdicts['error']} artifact(s) could not be read from storage.")
