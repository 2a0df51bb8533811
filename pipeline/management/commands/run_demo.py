"""Run the whole product on one machine: cluster simulator, Celery worker with beat, web server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pipeline.demo_data import DEMO_PASSWORD, DEMO_USERNAME


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Start the GPU-cluster simulator, a Celery worker with embedded beat and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8765)
        parser.add_argument("--receiver-port", type=int, default=8766, help="The demo's local webhook receiver.")
        parser.add_argument(
            "--finish-running-after",
            type=float,
            default=60,
            help="Seconds until the simulated cluster reports the running demo jobs finished (0: never).",
        )

    def handle(self, *args, **options):
        ports = (("--port", options["port"]), ("--simulator-port", options["simulator_port"]))
        for flag, port in (*ports, ("--receiver-port", options["receiver_port"])):
            if not _port_free(port):
                raise CommandError(f"Port {port} is already in use: stop whatever holds it, or pass {flag} N.")
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        simulator_url = f"http://127.0.0.1:{options['simulator_port']}"
        env = {
            **os.environ,
            "GPU_CLUSTER_API_URL": os.environ.get("GPU_CLUSTER_API_URL", simulator_url),
            "SITE_URL": os.environ.get("SITE_URL", f"http://127.0.0.1:{options['port']}"),
            "PYTHONUNBUFFERED": "1",
            # A dev server, but visitors of the demo see the product's 404 page (pipeline.lib.not_found).
            "PRODUCT_404_IN_DEBUG": os.environ.get("PRODUCT_404_IN_DEBUG", "true"),
            # The demo's webhook receiver listens on loopback over http (never in production).
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": os.environ.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        }
        receiver_url = self._demo_webhook_endpoint(options["receiver_port"])
        beat_schedule = str(Path(settings.VAR_DIR) / "celerybeat-schedule")
        commands = {
            "simulator": [python, manage, "run_cluster_simulator", "--port", str(options["simulator_port"])],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "pipeline",
                "worker",
                "--beat",
                "--schedule",
                beat_schedule,
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
            ],
            "web": [python, manage, "runserver", f"127.0.0.1:{options['port']}", "--noreload"],
            "receiver": [python, manage, "run_webhook_receiver", "--port", str(options["receiver_port"])],
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
            from pipeline.celery import app

            app.send_task("artifacts.tasks.sweep_completed_jobs")  # first sweep now, not at the next cron tick
            self.stdout.write(
                "\n"
                f"  PIPELINE is running at http://127.0.0.1:{options['port']}/models\n"
                f"  Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}   (admin: make a superuser with "
                "`.venv/bin/python manage.py createsuperuser`)\n"
                f"  GPU cluster simulator: {simulator_url}   Press Ctrl-C to stop everything.\n"
                f"  Webhook receiver: {receiver_url} (its log: var/webhook-receiver.jsonl)\n"
            )
            finish_at = time.monotonic() + options["finish_running_after"] if options["finish_running_after"] else None
            while not stopping:
                if finish_at is not None and time.monotonic() >= finish_at:
                    finish_at = None
                    self._finish_running_jobs(options["port"])
                for name, process in processes.items():
                    if process.poll() is not None and name != "receiver":  # stopping the receiver shows retries
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

    def _demo_webhook_endpoint(self, port: int) -> str:
        """The demo user's webhook endpoint at the local receiver (created once, every event)."""
        from django.contrib.auth import get_user_model

        from events.models import WebhookEndpoint
        from events.services.signing import new_secret

        url = f"http://127.0.0.1:{port}/webhooks/demo"
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is not None:
            WebhookEndpoint.objects.get_or_create(
                owner=user, url=url, defaults={"secret": new_secret(), "description": "make demo's local receiver"}
            )
        return url

    def _finish_running_jobs(self, port: int) -> None:
        """Play the cluster: send the signed training-complete webhook for each running demo job."""
        import json
        import urllib.request

        from pipeline.lib.webhook_signature import SIGNATURE_HEADER, sign
        from pipeline.models import TrainingJob

        secret = settings.GPU_CLUSTER_WEBHOOK_SECRET
        if not secret:
            return
        running = TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING, external_job_id__startswith="sim-demo-")
        for external_id in running.values_list("external_job_id", flat=True):
            body = json.dumps({"external_job_id": external_id, "status": "completed", "final_cost": 21.4}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/webhooks/training-complete",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)},
            )
            try:
                with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (our own local server)
                    self.stdout.write(f"  Simulated cluster: {external_id} finished (webhook sent)")
            except OSError as exc:
                self.stderr.write(f"  Simulated cluster: webhook for {external_id} failed: {exc}")
