from django.core.management.base import BaseCommand

from pipeline.demo_data import DEMO_PASSWORD, DEMO_USERNAME, load_demo_data


class Command(BaseCommand):
    help = "Load the demo user, datasets and training jobs (safe to run again: creates only what is missing)."

    def handle(self, *args, **options):
        created = load_demo_data()
        summary = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in created.items())
        self.stdout.write(f"Created {summary}.")
        self.stdout.write(f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}")
