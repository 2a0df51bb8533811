"""The Webhooks pages: create (secret shown once), edit, rotate, ping, delivery log with replay,
delete; someone else's endpoint is a 404."""

from __future__ import annotations

import pytest

from events.models import ARTIFACT_READY, Delivery, WebhookEndpoint
from events.services import delivery, endpoints
from events.services.publish import publish
from tests.page_text import text as page_text

pytestmark = pytest.mark.django_db


def test_nav_links_to_webhooks_and_the_empty_page_invites_a_first_endpoint(alice_client):
    page = alice_client.get("/webhooks")
    assert page.status_code == 200
    text = page_text(page)
    assert "Webhooks" in text and "No endpoints yet" in text
    assert 'href="/webhooks"' in alice_client.get("/models").content.decode()


def test_create_shows_the_secret_once(alice_client, receiver):
    page = alice_client.post(
        "/webhooks", {"url": receiver.url, "description": "CI", "events": ["artifact.ready", "artifact.failed"]}
    )
    assert page.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in page.content.decode()
    assert endpoint.events == ["artifact.ready", "artifact.failed"] and endpoint.description == "CI"
    again = alice_client.get("/webhooks").content.decode()
    assert endpoint.url in again and endpoint.secret not in again
    assert endpoint.secret not in alice_client.get(f"/webhooks/{endpoint.pk}").content.decode()


def test_refused_url_is_explained_on_the_form(alice_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    page = alice_client.post("/webhooks", {"url": "https://10.0.0.1/hook", "events": ["artifact.ready"]})
    assert page.status_code == 400
    assert "a private or reserved address" in page_text(page)
    assert not WebhookEndpoint.objects.exists()


def test_edit_disable_rotate_and_delete(alice, alice_client, receiver):
    endpoint = endpoints.create_endpoint(alice, url=receiver.url)
    old_secret = endpoint.secret
    response = alice_client.post(
        f"/webhooks/{endpoint.pk}", {"url": receiver.url, "description": "ops", "events": ["alias.moved"]}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["alias.moved"] and not endpoint.enabled  # the box was not ticked

    rotated = alice_client.post(f"/webhooks/{endpoint.pk}/rotate-secret")
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.secret in rotated.content.decode()
    assert endpoint.signing_secrets() == [endpoint.secret, old_secret]
    assert "previous secret still signs" in page_text(rotated)

    assert alice_client.get(f"/webhooks/{endpoint.pk}/delete").status_code == 200
    assert alice_client.post(f"/webhooks/{endpoint.pk}/delete").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_delivery_log_shows_attempts_and_replay_queues_again(alice, alice_client, receiver, queued):
    endpoint = endpoints.create_endpoint(alice, url=receiver.url)
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m"}))
    Delivery.objects.filter(pk=row.pk).update(retrying=False)
    receiver.answer(503, b"receiver is down")
    delivery.attempt(row.pk)

    page = alice_client.get(f"/webhooks/{endpoint.pk}")
    text = page_text(page)
    assert "artifact.ready" in text and "Failed" in text and "503" in text and "receiver is down" in text
    assert row.webhook_id in text

    replay = alice_client.post(f"/webhooks/{endpoint.pk}/deliveries/{row.pk}/replay", follow=True)
    assert "1 delivery queued again" in page_text(replay)
    assert Delivery.objects.get(pk=row.pk).state == "pending"


def test_the_log_says_how_long_it_is_kept_and_when_a_failing_endpoint_stops(alice, alice_client, receiver, settings):
    from django.utils import timezone

    settings.WEBHOOK_EVENT_RETENTION_DAYS = 14
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 12 * 3600
    endpoint = endpoints.create_endpoint(alice, url=receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())

    text = page_text(alice_client.get(f"/webhooks/{endpoint.pk}"))

    assert "Kept for 14 days; a delivery still being retried is kept until it ends." in text
    assert "After 12 hours of failures the endpoint is disabled." in text


def test_ping_from_the_page(alice, alice_client, receiver):
    endpoint = endpoints.create_endpoint(alice, url=receiver.url)
    page = alice_client.post(f"/webhooks/{endpoint.pk}/ping", follow=True)
    assert "Ping queued" in page_text(page)
    assert Delivery.objects.get().event.type == "ping"


def test_someone_elses_endpoint_is_not_found(alice, bob_client, receiver):
    endpoint = endpoints.create_endpoint(alice, url=receiver.url)
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m"}))
    for method, path in [
        ("get", ""),
        ("post", ""),
        ("post", "/rotate-secret"),
        ("post", "/ping"),
        ("get", "/delete"),
        ("post", "/delete"),
        ("post", "/replay"),
        ("post", f"/deliveries/{row.pk}/replay"),
    ]:
        assert getattr(bob_client, method)(f"/webhooks/{endpoint.pk}{path}").status_code == 404, (method, path)
    assert endpoint.url not in bob_client.get("/webhooks").content.decode()
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/webhooks")
    assert response.status_code == 302 and "/accounts/login" in response["Location"]
