from django.core.management.base import BaseCommand

from artifacts.services.storage_audit import audit, fix
from pipeline.lib.commands import user_named


class Command(BaseCommand):
    help = (
        "Compare artifact storage with the database. Lists orphan objects (no file or ready-bundle row "
        "accounts for them: old zips, .part leftovers of interrupted writes, objects of models or users "
        "that are gone) and missing objects (file rows and ready bundles whose object is not in storage), "
        "then a summary line. Objects of ingests and bundle builds still under way are left alone. "
        "Exits 1 when problems are found without --fix. With --fix: orphans are deleted; a ready bundle "
        "whose zip is missing goes back to 'not built', so the next request builds it again; a missing "
        "model file is reported and left as it is, because only the training cluster had its bytes "
        "(its row keeps the name, size and sha256 to restore it from a backup, and its download link "
        "answers 404 'no longer available' meanwhile)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="USERNAME", help="Audit this user's objects only.")
        parser.add_argument("--fix", action="store_true", help="Delete orphans, reset bundles whose zip is gone.")

    def handle(self, *args, **options):
        user = user_named(options["user"]) if options["user"] else None
        report = audit(user)
        for orphan in report.orphans:
            self.stdout.write(f"orphan  {orphan.key}  ({orphan.reason})")
        for missing in report.missing:
            self.stdout.write(
                f"missing {missing.key}  ({missing.what} {missing.name!r} of model {missing.artifact_id})"
            )
        if options["fix"]:
            fix(report)
            for error in report.errors:
                self.stderr.write(f"could not fix {error}")
        self.stdout.write(report.summary())
        if report.errors or (report.problems and not options["fix"]):
            raise SystemExit(1)
