"""``/api/webhook-endpoints`` (DESIGN §16): create with the secret shown once, list, edit, enable and
disable, rotate, ping, delete, delivery log and replay; each user sees only their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from events.models import ARTIFACT_READY, Delivery, WebhookEndpoint
from events.services import delivery
from events.services.publish import publish

pytestmark = pytest.mark.django_db
BASE = "/api/webhook-endpoints"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def create(client, url, **body):
    response = client.post(BASE, {"url": url, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def test_create_shows_the_secret_once_and_lists_without_it(alice, receiver):
    client = api(alice)
    made = create(client, receiver.url, description="CI", events=["artifact.ready", "alias.moved"])
    assert made["secret"].startswith("whsec_") and len(made["secret"]) >= 6 + 32
    assert made["events"] == ["artifact.ready", "alias.moved"] and made["enabled"] is True

    listed = client.get(BASE).json()["data"]["endpoints"]
    assert [e["id"] for e in listed] == [made["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"{BASE}/{made['id']}").json()["data"]


def test_default_subscription_is_every_event(alice, receiver):
    made = create(api(alice), receiver.url)
    assert made["events"] == [
        "artifact.ready",
        "artifact.failed",
        "artifact.deleted",
        "artifact.restored",
        "alias.moved",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["artifact.exploded"]}, "events"),
        ({"events": "artifact.ready"}, "events"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_input_is_a_400_envelope_naming_the_field(alice, receiver, body, field):
    response = api(alice).post(BASE, {"url": receiver.url, **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"] and response.json()["error"]


def test_ssrf_refusal_through_the_api(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = api(alice).post(BASE, {"url": "https://169.254.169.254/"}, format="json")
    assert response.status_code == 400
    assert "metadata" in response.json()["details"]["url"][0]


def test_edit_events_disable_and_enable(alice, receiver):
    client = api(alice)
    made = create(client, receiver.url)
    url = f"{BASE}/{made['id']}"
    changed = client.patch(url, {"events": ["artifact.failed"], "description": "ops"}, format="json").json()["data"]
    assert changed["events"] == ["artifact.failed"] and changed["description"] == "ops"
    assert not publish(alice.pk, ARTIFACT_READY, {"id": "m"}).deliveries.exists()  # no longer subscribed

    off = client.patch(url, {"enabled": False}, format="json").json()["data"]
    assert off["enabled"] is False and off["disabled_reason"] == "Disabled by its owner"
    assert client.post(f"{url}/ping").status_code == 400
    on = client.patch(url, {"enabled": True}, format="json").json()["data"]
    assert on["enabled"] is True and on["disabled_reason"] == ""


def test_rotation_signs_with_both_secrets_for_24_hours(alice, receiver):
    client = api(alice)
    made = create(client, receiver.url)
    rotated = client.post(f"{BASE}/{made['id']}/rotate-secret").json()["data"]
    new, old = rotated["secret"], made["secret"]
    assert new != old and rotated["previous_secret_valid_until"]

    client.post(f"{BASE}/{made['id']}/ping")
    delivery.attempt(Delivery.objects.get().pk)
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)  # receivers not yet updated still verify
    Webhook(new).verify(got.body, got.headers)

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        client.post(f"{BASE}/{made['id']}/ping")
        row = Delivery.objects.order_by("-created_at").first()
        delivery.attempt(row.pk)
        got = receiver.received[-1]
        assert len(got.headers["webhook-signature"].split(" ")) == 1
        with pytest.raises(Exception, match="signature"):
            Webhook(old).verify(got.body, got.headers)
        Webhook(new).verify(got.body, got.headers)


def test_ping_delivers_a_verified_ping(alice, receiver):
    client = api(alice)
    made = create(client, receiver.url, events=["artifact.failed"])  # ping goes whatever it subscribes to
    response = client.post(f"{BASE}/{made['id']}/ping")
    assert response.status_code == 202
    assert response.json()["data"]["event_type"] == "ping"
    delivery.attempt(response.json()["data"]["id"])
    payload = Webhook(made["secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
    assert payload["type"] == "ping" and payload["data"]["endpoint_id"] == made["id"]


def test_delivery_log_shows_every_attempt_and_replay_resends_with_the_same_id(alice, receiver, queued):
    client = api(alice)
    made = create(client, receiver.url)
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m-1"}))
    Delivery.objects.filter(pk=row.pk).update(retrying=False)  # one attempt only, then failed
    receiver.answer(500, b"down for maintenance")
    delivery.attempt(row.pk)

    log = client.get(f"{BASE}/{made['id']}/deliveries").json()["data"]
    [shown] = log["deliveries"]
    assert shown["state"] == "failed" and shown["webhook_id"] == row.webhook_id
    [attempt] = shown["attempt_log"]
    assert attempt["status_code"] == 500 and attempt["response_excerpt"] == "down for maintenance"
    assert attempt["duration_ms"] >= 0 and attempt["at"]
    assert log["pagination"]["total"] == 1

    replayed = client.post(f"{BASE}/{made['id']}/deliveries/{row.pk}/replay")
    assert replayed.status_code == 202 and replayed.json()["data"]["state"] == "pending"
    delivery.attempt(row.pk)
    assert [r.headers["webhook-id"] for r in receiver.received] == [row.webhook_id, row.webhook_id]
    assert client.get(f"{BASE}/{made['id']}/deliveries?state=succeeded").json()["data"]["pagination"]["total"] == 1


def test_replay_all_failed_since_a_time(alice, receiver, queued, django_capture_on_commit_callbacks):
    client = api(alice)
    made = create(client, receiver.url)
    old = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "old"}))
    Delivery.objects.filter(pk=old.pk).update(
        state="failed", next_attempt_at=None, created_at=timezone.now() - timedelta(days=2)
    )
    recent = [Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": f"m-{i}"})) for i in range(2)]
    Delivery.objects.filter(pk__in=[r.pk for r in recent]).update(state="failed", next_attempt_at=None)
    since = (timezone.now() - timedelta(hours=1)).isoformat()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}/{made['id']}/replay", {"since": since}, format="json")
    assert response.status_code == 202
    assert sorted(response.json()["data"]["delivery_ids"]) == sorted(str(r.pk) for r in recent)
    assert sorted(q["args"][0] for q in queued) == sorted(str(r.pk) for r in recent)
    assert Delivery.objects.get(pk=old.pk).state == "failed"
    assert client.post(f"{BASE}/{made['id']}/replay", {"since": "yesterday"}, format="json").status_code == 400


def test_delete_removes_the_endpoint_and_its_log(alice, receiver):
    client = api(alice)
    made = create(client, receiver.url)
    publish(alice.pk, ARTIFACT_READY, {"id": "m"})
    assert client.delete(f"{BASE}/{made['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()
    assert client.get(f"{BASE}/{made['id']}").status_code == 404


def test_someone_elses_endpoint_and_deliveries_are_not_found(alice, bob, receiver):
    made = create(api(alice), receiver.url)
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m"}))
    other = api(bob)
    assert other.get(BASE).json()["data"]["endpoints"] == []
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/rotate-secret"),
        ("post", "/ping"),
        ("get", "/deliveries"),
        ("post", f"/deliveries/{row.pk}/replay"),
        ("post", "/replay"),
    ]:
        response = getattr(other, method)(
            f"{BASE}/{made['id']}{path}", {"since": timezone.now().isoformat()}, format="json"
        )
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error": "Webhook endpoint not found"}
    assert WebhookEndpoint.objects.get().secret == made["secret"]  # bob's rotate did nothing
    # Bob's own endpoint cannot reach Alice's delivery either.
    bobs = create(other, receiver.url)
    response = other.post(f"{BASE}/{bobs['id']}/deliveries/{row.pk}/replay")
    assert response.status_code == 404 and response.json() == {"error": "Delivery not found"}
    # Alice's event is not delivered to Bob's endpoint.
    assert not Delivery.objects.filter(endpoint_id=bobs["id"]).exists()


def test_malformed_ids_are_404_and_anonymous_is_401(alice):
    assert api(alice).get(f"{BASE}/not-a-uuid").status_code == 404
    assert api(alice).post(f"{BASE}/not-a-uuid/deliveries/xyz/replay").status_code == 404
    response = APIClient().get(BASE)
    assert response.status_code == 401 and "error" in response.json()


def test_endpoint_list_costs_a_constant_number_of_queries(alice, receiver, django_assert_max_num_queries):
    client = api(alice)
    made = create(client, receiver.url)
    for i in range(5):
        publish(alice.pk, ARTIFACT_READY, {"id": f"m-{i}"})
    with django_assert_max_num_queries(8):
        assert len(client.get(f"{BASE}/{made['id']}/deliveries").json()["data"]["deliveries"]) == 5
