"""Deliveries over real HTTP to a loopback receiver: signatures the reference library verifies,
retries with the same webhook-id, no redirects, the attempt log, disablement after the window."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook

from events import tasks
from events.models import ARTIFACT_READY, Delivery, DeliveryAttempt, WebhookEndpoint
from events.services import delivery, endpoints
from events.services.publish import publish
from pipeline.models import Notification

pytestmark = pytest.mark.django_db


def make_endpoint(user, url, **extra) -> WebhookEndpoint:
    return endpoints.create_endpoint(user, url=url, **extra)


def publish_ready(user, name="Support chats r16") -> Delivery:
    event = publish(user.pk, ARTIFACT_READY, {"id": "m-1", "name": name, "verdict": "ok", "score": 5})
    return Delivery.objects.get(event=event)


def test_delivery_is_signed_so_the_reference_library_verifies_it(alice, receiver):
    endpoint = make_endpoint(alice, receiver.url)
    row = publish_ready(alice)

    assert delivery.attempt(row.pk).result == "succeeded"

    [got] = receiver.received
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "artifact.ready"
    assert payload["data"]["name"] == "Support chats r16"
    assert got.headers["webhook-id"] == row.webhook_id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoints.new_secret()).verify(got.body, got.headers)  # another secret does not verify
    row.refresh_from_db()
    assert row.state == "succeeded" and row.attempts == 1


def test_retries_after_500_and_timeout_keep_the_same_webhook_id(alice, receiver, settings):
    endpoint = make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    receiver.answer(500, b"boom")
    receiver.answer(200, b"late", delay=2.0)  # past the 1 s timeout of the tests
    receiver.answer(204)

    start = timezone.now()
    first = delivery.attempt(row.pk)
    assert (first.result, first.retry_in) == ("retry", 1)
    assert delivery.attempt(row.pk).result == "skipped"  # not due yet: nothing sent
    with time_machine.travel(start + timedelta(seconds=2)):
        second = delivery.attempt(row.pk)
    assert (second.result, second.retry_in) == ("retry", 2)
    with time_machine.travel(start + timedelta(seconds=10)):
        assert delivery.attempt(row.pk).result == "succeeded"

    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {row.webhook_id} and len(receiver.received) == 3
    for got in receiver.received:  # every attempt verifies (each signed with its own timestamp)
        assert Webhook(endpoint.secret).verify(got.body, got.headers)["type"] == "artifact.ready"
    log = list(DeliveryAttempt.objects.filter(delivery=row).order_by("at"))
    assert [a.status_code for a in log] == [500, None, 204]
    assert log[0].response_excerpt == "boom"
    assert "No answer within 1 s" in log[1].error
    assert all(a.duration_ms >= 0 for a in log) and log[1].duration_ms >= 900


def test_gives_up_after_the_schedule_and_marks_the_delivery_failed(alice, receiver):
    make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    for _ in range(4):
        receiver.answer(503, b"down")
    start = timezone.now()
    outcomes = []
    for step in range(4):
        with time_machine.travel(start + timedelta(seconds=10 * step)):
            outcomes.append(delivery.attempt(row.pk).result)
    assert outcomes == ["retry", "retry", "retry", "failed"]
    row.refresh_from_db()
    assert row.state == "failed" and row.attempts == 4 and row.last_status == 503


def test_redirects_are_not_followed(alice, receiver):
    make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    receiver.answer(302, b"", Location=receiver.at("/elsewhere"))

    assert delivery.attempt(row.pk).result == "retry"

    assert [r.path for r in receiver.received] == ["/hook"]  # /elsewhere never asked
    attempt = DeliveryAttempt.objects.get(delivery=row)
    assert attempt.status_code == 302 and "redirects are not followed" in attempt.error


def test_response_excerpt_is_the_first_kib(alice, receiver):
    make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    receiver.answer(400, b"x" * 5000)
    delivery.attempt(row.pk)
    assert DeliveryAttempt.objects.get(delivery=row).response_excerpt == "x" * 1024


@pytest.mark.django_db(transaction=True)
def test_a_slow_endpoint_does_not_hold_up_another(alice, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0
    make_endpoint(alice, receiver.at("/slow"))
    make_endpoint(alice, receiver.at("/fast"))
    event = publish(alice.pk, ARTIFACT_READY, {"id": "m-1"})
    slow = Delivery.objects.get(event=event, endpoint__url__endswith="/slow")
    fast = Delivery.objects.get(event=event, endpoint__url__endswith="/fast")
    receiver.answer(200, b"slow", delay=2.0)  # the first request to arrive (the slow one, started first)
    finished: dict[str, float] = {}
    started = time.monotonic()

    def run(pk, name):
        from django.db import connection

        try:
            tasks.deliver(str(pk))  # one task per delivery, as the workers run them
            finished[name] = time.monotonic() - started
        finally:
            connection.close()

    slow_thread = threading.Thread(target=run, args=(slow.pk, "slow"))
    slow_thread.start()
    while not receiver.received:
        time.sleep(0.01)
    run(fast.pk, "fast")
    slow_thread.join(10)
    assert finished["fast"] < 1.5 <= finished["slow"]


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owner_notified(alice, receiver):
    endpoint = make_endpoint(alice, receiver.url)
    start = timezone.now()
    for _ in range(10):
        receiver.answer(500)
    first = publish_ready(alice)
    delivery.attempt(first.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None

    with time_machine.travel(start + timedelta(days=2, hours=23)):
        later = publish_ready(alice, "second")
        delivery.attempt(later.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled  # not yet three days
    assert not Notification.objects.filter(user=alice, type="webhook_disabled").exists()

    with time_machine.travel(start + timedelta(days=3, minutes=1)):
        last = publish_ready(alice, "third")
        delivery.attempt(last.pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "failed" in endpoint.disabled_reason
    note = Notification.objects.get(user=alice, type="webhook_disabled")
    assert note.action_url == f"/webhooks/{endpoint.pk}" and endpoint.url in note.message
    # Nothing more is sent to a disabled endpoint, and new events do not queue for it.
    sent = len(receiver.received)
    with time_machine.travel(start + timedelta(days=4)):
        assert delivery.attempt(first.pk).result == "failed"
        assert not publish(alice.pk, ARTIFACT_READY, {"id": "m-2"}).deliveries.exists()
    assert len(receiver.received) == sent


def test_a_success_ends_the_failure_window(alice, receiver):
    endpoint = make_endpoint(alice, receiver.url)
    receiver.answer(500)
    delivery.attempt(publish_ready(alice).pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    delivery.attempt(publish_ready(alice, "next").pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_sweep_queues_due_deliveries_only(alice, receiver, queued):
    make_endpoint(alice, receiver.url)
    due = publish_ready(alice)
    later = publish_ready(alice, "later")
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert tasks.sweep_due_deliveries() == 1
    assert queued[-1]["args"] == [str(due.pk)]


def test_publish_queues_one_task_per_delivery_after_commit(alice, receiver, queued, django_capture_on_commit_callbacks):
    make_endpoint(alice, receiver.at("/a"))
    make_endpoint(alice, receiver.at("/b"), events=["artifact.failed"])  # not subscribed to ready
    with django_capture_on_commit_callbacks(execute=True):
        event = publish(alice.pk, ARTIFACT_READY, {"id": "m-1"})
    [only] = event.deliveries.all()
    assert queued == [{"args": [str(only.pk)], "options": {}}]
    assert only.endpoint.url.endswith("/a")


def test_task_follows_a_short_retry_with_a_countdown(alice, receiver, queued):
    make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    receiver.answer(500)
    assert tasks.deliver(str(row.pk)) == "retry"
    assert queued == [{"args": [str(row.pk)], "options": {"countdown": 1}}]


def test_body_is_the_same_bytes_on_every_attempt(alice, receiver):
    make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    receiver.answer(500)
    start = timezone.now()
    delivery.attempt(row.pk)
    with time_machine.travel(start + timedelta(seconds=5)):
        delivery.attempt(row.pk)
    first, second = receiver.received
    assert first.body == second.body
    assert json.loads(first.body)["data"]["id"] == "m-1"


def test_a_receiver_that_is_down_is_logged_as_such_and_retried(alice, listener_port):
    make_endpoint(alice, f"http://127.0.0.1:{listener_port}/hook")
    row = publish_ready(alice)
    assert delivery.attempt(row.pk).result == "retry"
    attempt = DeliveryAttempt.objects.get(delivery=row)
    assert attempt.status_code is None
    assert attempt.error.startswith("Could not connect to 127.0.0.1") and "refused" in attempt.error


@pytest.fixture
def listener_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
