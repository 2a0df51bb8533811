"""A hand probe of every documented operation with the hostile inputs of the bug report: each answer
is below 500, documented for that operation, and (when an error) JSON in the envelope."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from accounts.models import ApiToken
from pipeline.lib.webhook_signature import SIGNATURE_HEADER, sign
from tests.factories import add_file, make_artifact, make_job, make_notification

pytestmark = pytest.mark.django_db
SECRET = "probe-secret"
MULTIPART = "multipart/form-data; boundary=probe"

BODIES = {
    "deep list": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "deep files": (b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
    "3 MB JSON": (json.dumps({"external_job_id": "ext-probe", "pad": "x" * 3_000_000}).encode(), "application/json"),
    "1,100 parts": (
        b"".join(b'--probe\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(1100))
        + b"--probe--\r\n",
        MULTIPART,
    ),
    "malformed multipart": (b"--other\r\nnot really multipart", MULTIPART),
    "text": (b"files=all", "text/plain"),
    "status list": (json.dumps({"external_job_id": "ext-probe", "status": ["completed"]}).encode(), "application/json"),
    "bad date": (
        json.dumps({"external_job_id": "ext-probe", "completed_at": "2026-02-30T10:00:00Z"}).encode(),
        "application/json",
    ),
    "huge step": (json.dumps({"external_job_id": "ext-probe", "current_step": 10**30}).encode(), "application/json"),
    "epoch 2**31": (json.dumps({"external_job_id": "ext-probe", "current_epoch": 2**31}).encode(), "application/json"),
    "NUL id": (json.dumps({"external_job_id": "ext\u0000probe"}).encode(), "application/json"),
    "empty": (b"", "application/json"),
}


def operations() -> dict[tuple[str, str], set[int]]:
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return {
        (method.upper(), path): {int(code) for code in op["responses"]}
        for path, item in paths.items()
        for method, op in item.items()
    }


OPERATIONS = operations()


@pytest.fixture
def world(alice, settings):
    settings.GPU_CLUSTER_WEBHOOK_SECRET = SECRET
    model = make_artifact(alice)
    add_file(model, "adapter_config.json", b"{}")
    make_job(alice, status="running", external_job_id="ext-probe", completed_at=None, final_cost=None)
    notification = make_notification(alice)
    return {"token": ApiToken.objects.issue(alice)[1], "id": {"models": model.id, "notifications": notification.id}}


@pytest.mark.parametrize("body_name", list(BODIES))
@pytest.mark.parametrize("operation", list(OPERATIONS), ids=lambda op: f"{op[0]} {op[1]}")
def test_every_operation_meets_hostile_bodies_with_a_documented_4xx(world, operation, body_name):
    method, path = operation
    url = path.replace("{id}", str(world["id"].get(path.split("/")[2])))
    body, content_type = BODIES[body_name]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world['token']}"}
    if "webhooks" in path:
        headers = {f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}": sign(body, SECRET)}
    response = Client().generic(method, url, data=body, content_type=content_type, **headers)
    assert response.status_code < 500
    assert response.status_code in OPERATIONS[operation], (response.status_code, response.content[:200])
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]


@pytest.mark.parametrize("operation", list(OPERATIONS), ids=lambda op: f"{op[0]} {op[1]}")
def test_every_operation_without_credentials_is_a_documented_json_401(world, operation):
    method, path = operation
    url = path.replace("{id}", str(world["id"].get(path.split("/")[2])))
    response = Client().generic(method, url, data=b"{}", content_type="application/json")
    assert response.status_code == 401 and 401 in OPERATIONS[operation]
    assert response.json()["error"]
