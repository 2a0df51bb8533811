import json

import pytest
from django.test import Client

from pipeline.lib.webhook_signature import SIGNATURE_HEADER, sign
from pipeline.models import TrainingJob
from tests.factories import make_job

SECRET = "webhook-test-secret"
URL = "/api/webhooks/training-complete"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.GPU_CLUSTER_WEBHOOK_SECRET = SECRET


@pytest.fixture
def running(alice):
    return make_job(alice, status="running", external_job_id="ext-hook", completed_at=None, final_cost=None)


def post(payload, signature=None, secret=SECRET):
    body = json.dumps(payload).encode()
    headers = {}
    if signature is not False:
        headers[f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}"] = (
            sign(body, secret) if signature is None else signature
        )
    return Client().post(URL, data=body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_signed_completion_marks_job_completed_and_queues_ingest_at_once(
    running, enqueued, django_capture_on_commit_callbacks
):
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            {
                "external_job_id": "ext-hook",
                "status": "completed",
                "final_cost": 18.456,
                "completed_at": "2026-11-20T10:00:00Z",
                "current_step": 1200,
            }
        )
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {"job_id": str(running.id), "status": "completed", "changed": True},
    }
    running.refresh_from_db()
    assert running.status == "completed"
    assert str(running.final_cost) == "18.46"
    assert running.completed_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert running.current_step == 1200
    assert [e["args"] for e in enqueued] == [[str(running.id)]]


@pytest.mark.django_db
@pytest.mark.parametrize("signature", [False, "sha256=" + "0" * 64, "", "not-a-signature"])
def test_bad_or_missing_signature_is_401_and_changes_nothing(running, enqueued, signature):
    response = post({"external_job_id": "ext-hook"}, signature=signature)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid or missing signature"}
    running.refresh_from_db()
    assert running.status == "running"


@pytest.mark.django_db
def test_signature_with_another_secret_is_rejected(running):
    assert post({"external_job_id": "ext-hook"}, secret="someone-elses").status_code == 401


@pytest.mark.django_db
def test_replayed_webhook_is_harmless(running, enqueued, django_capture_on_commit_callbacks):
    enqueued.clear()
    payload = {"external_job_id": "ext-hook", "status": "completed"}
    with django_capture_on_commit_callbacks(execute=True):
        first = post(payload)
        second = post(payload)
    assert first.status_code == second.status_code == 200
    assert second.json()["data"]["changed"] is False
    assert len(enqueued) == 1
    assert TrainingJob.objects.filter(status="completed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"external_job_id": "nope"}, 404, None),
        ({"status": "completed"}, 400, "external_job_id"),
        ({"external_job_id": "ext-hook", "status": "exploded"}, 400, "status"),
        ({"external_job_id": "ext-hook", "completed_at": "yesterday"}, 400, "completed_at"),
        ({"external_job_id": "ext-hook", "final_cost": "lots"}, 400, "final_cost"),
    ],
)
def test_bad_payloads_are_explained(running, payload, status, field):
    response = post(payload)
    assert response.status_code == status
    if field:
        assert field in response.json()["details"]


@pytest.mark.django_db
def test_non_json_body_is_400(running):
    body = b"not json"
    response = Client().post(URL, data=body, content_type="application/json", HTTP_X_SIGNATURE_256=sign(body, SECRET))
    assert response.status_code == 400


@pytest.mark.django_db
def test_unconfigured_secret_refuses_everything(settings, running):
    settings.GPU_CLUSTER_WEBHOOK_SECRET = ""
    assert post({"external_job_id": "ext-hook"}, secret="").status_code == 503


@pytest.mark.django_db
def test_get_is_not_allowed():
    assert Client().get(URL).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("later", ["failed", "cancelled"])
def test_a_finished_job_cannot_be_moved_to_another_final_state(alice, later):
    job = make_job(alice, external_job_id="ext-done")  # completed, as the factory makes it
    response = post({"external_job_id": "ext-done", "status": later})
    assert response.status_code == 409
    assert response.json()["error"] == "Job is already completed"
    job.refresh_from_db()
    assert job.status == "completed"


@pytest.mark.django_db
def test_non_ascii_signature_header_is_401_not_a_crash(running):
    body = json.dumps({"external_job_id": "ext-hook"}).encode()
    response = Client().post(URL, data=body, content_type="application/json", HTTP_X_SIGNATURE_256="sha256=é")
    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("cost", ["NaN", "Infinity", -1, 1e11, "1e400"])
def test_costs_must_be_finite_non_negative_and_fit_the_column(running, cost):
    response = post({"external_job_id": "ext-hook", "final_cost": cost})
    assert response.status_code == 400
    assert "final_cost" in response.json()["details"]
    running.refresh_from_db()
    assert running.status == "running"


@pytest.mark.django_db
def test_timestamp_without_timezone_is_taken_as_utc(running):
    assert post({"external_job_id": "ext-hook", "completed_at": "2026-11-20T10:00:00"}).status_code == 200
    running.refresh_from_db()
    assert running.completed_at.isoformat() == "2026-11-20T10:00:00+00:00"
