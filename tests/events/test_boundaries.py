"""The events app knows nothing of artifacts (DESIGN §2), and the README's receiver works."""

from __future__ import annotations

import ast
import re
import threading
from http.server import HTTPServer
from pathlib import Path

import pytest
import requests
from django.conf import settings

from events.models import ARTIFACT_READY, Delivery
from events.services import delivery, endpoints
from events.services.publish import publish

EVENTS = Path(settings.BASE_DIR) / "events"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_events_imports_nothing_from_artifacts_or_hub():
    offenders = [
        f"{path.relative_to(EVENTS)}: {name}"
        for path in sorted(EVENTS.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in {"artifacts", "hub"}
    ]
    assert offenders == []


def test_only_the_demo_receiver_uses_the_test_only_library():
    users = sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.py") if "standardwebhooks" in _imports(p))
    assert users == ["management/commands/run_webhook_receiver.py"]


def _readme_receiver() -> str:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    match = re.search(r"```python\n(from http\.server.*?)```", readme, re.S)
    assert match, "the README's Webhooks section has the receiver"
    return match.group(1)


def test_readme_receiver_stays_short():
    lines = [line for line in _readme_receiver().splitlines() if line.strip()]
    assert len(lines) <= 15


@pytest.mark.django_db
def test_readme_receiver_verifies_a_real_delivery_and_rejects_a_forged_one(alice, capsys):
    port_holder = HTTPServer(("127.0.0.1", 0), None)  # a free port for the README's server
    port = port_holder.server_address[1]
    port_holder.server_close()
    code = _readme_receiver()
    endpoint = endpoints.create_endpoint(alice, url=f"http://127.0.0.1:{port}/")
    code = code.replace('"whsec_..."', repr(endpoint.secret))
    serve = 'HTTPServer(("", 8080), Receiver).serve_forever()'
    assert serve in code
    code = code.replace(serve, f'server = HTTPServer(("127.0.0.1", {port}), Receiver)')  # served in a thread below
    namespace: dict = {}
    exec(compile(code, "README receiver", "exec"), namespace)  # noqa: S102 (the README's own snippet)
    server = next(v for v in namespace.values() if isinstance(v, HTTPServer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m-1", "name": "r16"}))
        assert delivery.attempt(row.pk).result == "succeeded"
        assert row.webhook_id in capsys.readouterr().out
        forged = requests.post(
            f"http://127.0.0.1:{port}/",
            data=b"{}",
            timeout=5,
            headers={"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
        )
        assert forged.status_code == 401
    finally:
        server.shutdown()
        server.server_close()
