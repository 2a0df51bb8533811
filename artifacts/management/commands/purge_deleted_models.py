from django.core.management.base import BaseCommand

from artifacts.services.bundles import expire_bundles
from artifacts.services.lifecycle import purge_deleted


class Command(BaseCommand):
    help = (
        "Remove, now, models deleted longer than ARTIFACT_RETENTION_DAYS ago (stored objects, then rows) "
        "and zip bundles unused for BUNDLE_TTL_DAYS: what beat runs on ARTIFACT_PURGE_CRON and BUNDLE_EXPIRY_CRON."
    )

    def handle(self, *args, **options):
        purged = purge_deleted()
        expired = expire_bundles()
        self.stdout.write(f"Purged {purged} deleted model(s); removed {expired} unused bundle(s).")
