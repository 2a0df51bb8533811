from django.core.management.base import BaseCommand

from artifacts.services.usage import recount_storage
from pipeline.lib.commands import user_named
from pipeline.lib.numbers import binary_size

BYTES = {"file_bytes", "bundle_bytes"}


class Command(BaseCommand):
    help = (
        "Recompute the per-user storage counters (models, files, bytes of files and of ready zip bundles) "
        "from the rows, and say which users were off and by how much."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="USERNAME", help="Only this user's counters")

    def handle(self, *args, **options):
        user = user_named(options["user"]) if options["user"] else None
        drifts = recount_storage(user)
        for drift in drifts:
            parts = []
            for name, off in drift.differences.items():
                counted, actual = drift.counted[name], drift.actual[name]
                if name in BYTES:
                    sign = "+" if off > 0 else "-"
                    parts.append(f"{name} {counted} → {actual} ({sign}{binary_size(abs(off))} off)")
                else:
                    parts.append(f"{name} {counted} → {actual} ({off:+d})")
            self.stdout.write(f"{drift.username}: {', '.join(parts)}")
        who = f"{options['user']}'s counters" if user is not None else "every user's counters"
        if drifts:
            self.stdout.write(f"Fixed the counters of {len(drifts)} user(s).")
        else:
            self.stdout.write(f"Recounted {who}: all were right.")
