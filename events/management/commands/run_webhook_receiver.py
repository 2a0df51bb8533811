"""A local webhook receiver for the demo: verifies every request with the Standard Webhooks
reference library (``standardwebhooks``), prints it and appends it to ``var/webhook-receiver.jsonl``.

A real receiver keeps its endpoint's secret in its own configuration (``--secret``). For the demo's
convenience, without ``--secret`` it looks up the secrets of the endpoints that point at it in this
project's database, so an endpoint created on the Webhooks page verifies at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from events.models import WebhookEndpoint


class Command(BaseCommand):
    help = "Run a local webhook receiver that verifies signatures with the standardwebhooks library."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8766)
        parser.add_argument("--secret", action="append", default=[], help="whsec_... (repeatable)")
        parser.add_argument("--log", default=str(Path(settings.VAR_DIR) / "webhook-receiver.jsonl"))

    def handle(self, *args, **options):
        try:
            from standardwebhooks import Webhook
        except ImportError as exc:  # a dev dependency (pyproject's "dev" extra)
            raise CommandError("The demo receiver needs the standardwebhooks package: pip install -e '.[dev]'") from exc
        port = options["port"]
        log_path = Path(options["log"])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fixed = options["secret"]
        out = self.stdout

        def secrets() -> list[str]:
            if fixed:
                return fixed
            mine = Q(url__startswith=f"http://127.0.0.1:{port}/") | Q(url__startswith=f"http://localhost:{port}/")
            return [s for endpoint in WebhookEndpoint.objects.filter(mine) for s in endpoint.signing_secrets()]

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                payload, error = None, "no endpoint secret verifies this request"
                for secret in secrets():
                    try:
                        payload = Webhook(secret).verify(body, headers)
                        break
                    except Exception as exc:  # the library's WebhookVerificationError, or a bad secret
                        error = str(exc)
                record = {
                    "received_at": datetime.now(UTC).isoformat(),
                    "path": self.path,
                    "webhook_id": self.headers.get("webhook-id"),
                    "verified": payload is not None,
                    "error": None if payload is not None else error,
                    "payload": payload,
                }
                with log_path.open("a") as log:
                    log.write(json.dumps(record) + "\n")
                if payload is not None:
                    data = payload.get("data") or {}
                    label = data.get("name") or data.get("alias") or data.get("job_id") or ""
                    out.write(f"  Webhook receiver: verified {payload.get('type')} {record['webhook_id']} {label}")
                    self._answer(200, b'{"ok": true}')
                else:
                    out.write(f"  Webhook receiver: REJECTED {record['webhook_id']}: {error}")
                    self._answer(401, json.dumps({"error": error}).encode())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        out.write(f"Webhook receiver listening on http://127.0.0.1:{port}/ (log: {log_path})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
