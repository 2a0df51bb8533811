"""Run the whole product on one machine: cluster simulator, Celery worker with beat, web server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from pipeline.demo_data import DEMO_PASSWORD, DEMO_USERNAME


class Command(BaseCommand):
    help = "Start the GPU-cluster simulator, a Celery worker with embedded beat and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8765)

    def handle(self, *args, **options):
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        simulator_url = f"http://127.0.0.1:{options['simulator_port']}"
        env = {
            **os.environ,
            "GPU_CLUSTER_API_URL": os.environ.get("GPU_CLUSTER_API_URL", simulator_url),
            "SITE_URL": os.environ.get("SITE_URL", f"http://127.0.0.1:{options['port']}"),
            "PYTHONUNBUFFERED": "1",
        }
        beat_schedule = str(Path(settings.VAR_DIR) / "celerybeat-schedule")
        commands = {
            "simulator": [python, manage, "run_cluster_simulator", "--port", str(options["simulator_port"])],
            "worker": [
                python, "-m", "celery", "-A", "pipeline", "worker", "--beat", "--schedule", beat_schedule,
                "--loglevel", "INFO", "--concurrency", "2",
            ],
            "web": [python, manage, "runserver", f"127.0.0.1:{options['port']}", "--noreload"],
        }
        processes: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_args: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, env=env)  # noqa: S603 (our own commands)
            time.sleep(3)
            from artifacts.tasks import sweep_completed_jobs

            sweep_completed_jobs.delay()  # first sweep now, not at the next cron tick
            self.stdout.write(
                "\n"
                f"  PIPELINE is running at http://127.0.0.1:{options['port']}/models\n"
                f"  Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}   (admin: make a superuser with "
                "`.venv/bin/python manage.py createsuperuser`)\n"
                f"  GPU cluster simulator: {simulator_url}   Press Ctrl-C to stop everything.\n"
            )
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the demo.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Demo stopped.")
