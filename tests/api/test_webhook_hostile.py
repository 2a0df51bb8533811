"""The webhook under hostile bodies: signed but malformed input is a 400 naming the field, never a
5xx; oversized bodies are a 413 before any signature is computed; everything answers JSON."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from pipeline.lib.webhook_signature import SIGNATURE_HEADER, sign
from pipeline.models import TrainingJob
from tests.conftest import on_postgres
from tests.factories import make_job

SECRET = "webhook-hostile-secret"
URL = "/api/webhooks/training-complete"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def secret(settings):
    settings.GPU_CLUSTER_WEBHOOK_SECRET = SECRET


@pytest.fixture
def running(alice):
    return make_job(alice, status="running", external_job_id="ext-hostile", completed_at=None, final_cost=None)


def post_raw(body: bytes, *, signed: bool = True):
    headers = {f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}": sign(body, SECRET)} if signed else {}
    return Client().post(URL, data=body, content_type="application/json", **headers)


def post(payload) -> object:
    return post_raw(json.dumps(payload).encode())


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


BAD_FIELDS = [
    ({"status": ["completed"]}, "status"),
    ({"status": {"a": 1}}, "status"),
    ({"status": 1}, "status"),
    ({"completed_at": "2026-02-30T10:00:00Z"}, "completed_at"),
    ({"completed_at": "2026-02-10T25:00:00Z"}, "completed_at"),
    ({"completed_at": ["2026-02-10T10:00:00Z"]}, "completed_at"),
    ({"completed_at": "9999-12-31T23:59:59-14:00"}, "completed_at"),
    ({"current_step": 10**30}, "current_step"),
    ({"current_epoch": 2**31}, "current_epoch"),
    ({"current_epoch": -1}, "current_epoch"),
    ({"current_epoch": "many"}, "current_epoch"),
    ({"current_epoch": True}, "current_epoch"),
    ({"final_cost": [1]}, "final_cost"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_FIELDS)
def test_signed_but_malformed_fields_are_400_naming_the_field(running, fields, field):
    body = assert_envelope(post({"external_job_id": "ext-hostile", **fields}), 400)
    assert field in body["details"]
    running.refresh_from_db()
    assert running.status == "running"


@pytest.mark.parametrize("job_id", ["ext\u0000hostile", "ext\nhostile", "ext\u202ehostile", "", 12, None, ["x"]])
def test_job_ids_must_be_printable_strings(running, job_id):
    body = assert_envelope(post({"external_job_id": job_id}), 400)
    assert "external_job_id" in body["details"]


@pytest.mark.parametrize("payload", [[], "text", 1, None])
def test_a_body_that_is_not_an_object_is_400(running, payload):
    assert_envelope(post(payload), 400)


def test_deeply_nested_body_is_400(running):
    assert_envelope(post_raw(b"[" * 100_000 + b"]" * 100_000), 400)
    nested = b'{"external_job_id": "ext-hostile", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_envelope(post_raw(nested), 400)


def test_a_3_mb_body_is_413_before_the_signature_is_checked(running):
    body = json.dumps({"external_job_id": "ext-hostile", "pad": "x" * (3 * 1024 * 1024)}).encode()
    assert_envelope(post_raw(body), 413)
    assert_envelope(post_raw(body, signed=False), 413)


def test_get_is_405_json():
    response = Client().get(URL)
    body = assert_envelope(response, 405)
    assert "POST" in response["Allow"]
    assert body["error"]


def test_column_limits_are_accepted(running):
    response = post({"external_job_id": "ext-hostile", "current_epoch": 2**31 - 1, "current_step": 0})
    assert response.status_code == 200
    running.refresh_from_db()
    assert (running.current_epoch, running.current_step) == (2**31 - 1, 0)


def test_long_job_id_is_400_not_a_database_error(running):
    assert "external_job_id" in assert_envelope(post({"external_job_id": "x" * 5000}), 400)["details"]


@pytest.mark.integration
@pytest.mark.parametrize(
    "payload",
    [
        {"external_job_id": "ext-hostile", "current_epoch": 2**31},
        {"external_job_id": "ext\u0000hostile"},
        {"external_job_id": "ext-hostile", "current_step": 10**30},
    ],
)
def test_postgres_column_limits_are_400_not_a_data_error(running, payload):
    if not on_postgres():
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    assert_envelope(post(payload), 400)
    assert TrainingJob.objects.get(pk=running.pk).status == "running"
