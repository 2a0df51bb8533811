"""Webhook tests: a real local receiver over loopback, the queued delivery tasks recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP receiver. ``answers`` is a queue of (status, body, delay seconds, extra headers);
    when it is empty every request gets 200 ``ok``."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, bytes, float, dict[str, str]]] = field(default_factory=list)

    def answer(self, status: int, body: bytes = b"", delay: float = 0.0, **headers: str) -> None:
        self.answers.append((status, body, delay, headers))

    def at(self, path: str) -> str:
        return self.url.rstrip("/") + path


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, answer, delay, headers = receiver.answers.pop(0) if receiver.answers else (200, b"ok", 0.0, {})
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the client gave up waiting
                pass

        do_POST = _serve
        do_GET = _serve

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver("")))
    rec = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    server.RequestHandlerClass = _handler(rec)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> None:
    """Tests reach the loopback receiver (each SSRF test turns this off), retry on a short schedule."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_RETRY_SCHEDULE = [1, 2, 4]
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 3 * 86400


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list[dict]:
    """Delivery tasks queued by the code under test are recorded here instead of going to a broker."""
    from events import tasks

    sent: list[dict] = []

    def record(args=None, kwargs=None, **options):
        sent.append({"args": list(args or []), "options": options})

    monkeypatch.setattr(tasks.deliver, "apply_async", record)
    monkeypatch.setattr(tasks.deliver, "delay", lambda *args: record(args))
    return sent
