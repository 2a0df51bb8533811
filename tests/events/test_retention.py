"""Beat deletes events past ``WEBHOOK_EVENT_RETENTION_DAYS`` with their deliveries and attempt log,
and never one whose delivery is still pending."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from events import tasks
from events.models import Delivery, DeliveryAttempt, Event
from events.services import delivery
from tests.events.test_delivery import make_endpoint, publish_ready

pytestmark = pytest.mark.django_db


def aged(row: Delivery, days: float) -> Delivery:
    Event.objects.filter(pk=row.event_id).update(created_at=timezone.now() - timedelta(days=days))
    return row


def test_old_events_go_with_their_deliveries_and_attempts_and_recent_or_pending_ones_stay(alice, bob, receiver):
    make_endpoint(alice, receiver.url)
    make_endpoint(bob, receiver.url)
    receiver.answer(500, b"down")
    old_failed = publish_ready(alice, "old, failed once then delivered")
    assert delivery.attempt(old_failed.pk).result == "retry"
    Delivery.objects.filter(pk=old_failed.pk).update(next_attempt_at=timezone.now())
    assert delivery.attempt(old_failed.pk).result == "succeeded"
    old_done = publish_ready(bob, "old, delivered")
    assert delivery.attempt(old_done.pk).result == "succeeded"
    old_pending = publish_ready(alice, "old, still retrying")  # never attempted: pending
    recent = publish_ready(alice, "recent")
    assert delivery.attempt(recent.pk).result == "succeeded"
    days = settings.WEBHOOK_EVENT_RETENTION_DAYS
    for row in (old_failed, old_done, old_pending):
        aged(row, days + 1)
    aged(recent, days - 1)
    assert DeliveryAttempt.objects.filter(delivery=old_failed).count() == 2

    assert tasks.prune_old_events() == 2

    assert set(Event.objects.values_list("pk", flat=True)) == {old_pending.event_id, recent.event_id}
    assert set(Delivery.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk}
    assert not DeliveryAttempt.objects.filter(delivery_id__in=[old_failed.pk, old_done.pk]).exists()
    assert DeliveryAttempt.objects.filter(delivery=recent).count() == 1

    Delivery.objects.filter(pk=old_pending.pk).update(state=Delivery.State.FAILED)  # its schedule ended
    assert tasks.prune_old_events() == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.event_id]


def test_the_prune_goes_batch_by_batch_and_a_longer_retention_keeps_more(alice, receiver, settings):
    make_endpoint(alice, receiver.url)
    rows = [publish_ready(alice, f"run {i}") for i in range(7)]
    Delivery.objects.update(state=Delivery.State.SUCCEEDED)
    for i, row in enumerate(rows):
        aged(row, 10 + i)  # 10 to 16 days old

    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    assert delivery.prune_old_events(batch=2) == 0
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 12
    assert delivery.prune_old_events(batch=2) == 5  # three batches
    assert Event.objects.count() == 2


def test_beat_runs_the_prune_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["webhook-prune"]
    assert entry["task"] == tasks.prune_old_events.name
    assert entry["schedule"].hour == {4} and entry["schedule"].minute == {15}


def test_a_replay_of_a_delivery_the_prune_took_meanwhile_is_a_404_not_an_error(alice, receiver, monkeypatch):
    from rest_framework.test import APIClient

    from events.services import endpoints

    endpoint = make_endpoint(alice, receiver.url)
    row = publish_ready(alice)
    Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.FAILED)
    aged(row, settings.WEBHOOK_EVENT_RETENTION_DAYS + 1)
    replay = endpoints.replay

    def pruned_first(endpoint, deliveries):  # the prune commits between the check and the replay
        assert delivery.prune_old_events() == 1
        return replay(endpoint, deliveries)

    monkeypatch.setattr(endpoints, "replay", pruned_first)
    client = APIClient()
    client.force_authenticate(alice)
    answer = client.post(f"/api/webhook-endpoints/{endpoint.pk}/deliveries/{row.pk}/replay")

    assert answer.status_code == 404
    assert answer.json()["error"] == "Delivery not found"
    assert not Delivery.objects.filter(pk=row.pk).exists()
