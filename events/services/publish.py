"""Writing events to the outbox (DESIGN §16): :func:`publish` is the one call the rest of the product makes.

The caller publishes inside the transaction that makes the change, so the change and its event
commit together or not at all. Each enabled endpoint of the owner that subscribes to the type gets
a :class:`~events.models.Delivery` row in the same transaction; the sends are queued once it
commits, and beat's sweep sends anything whose message was lost.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from events.models import EVENT_TYPES, PING, Delivery, Event, WebhookEndpoint
from events.services.signing import new_webhook_id


def publish(owner_id: Any, event_type: str, data: dict[str, Any]) -> Event:
    """Record ``event_type`` for ``owner_id``'s endpoints; call it inside the change's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    with transaction.atomic():
        event = _write_event(owner_id, event_type, data)
        endpoints = WebhookEndpoint.objects.filter(owner_id=owner_id, enabled=True)
        _deliver_to(event, [e for e in endpoints if e.subscribes_to(event_type)])
    return event


def ping(endpoint: WebhookEndpoint) -> Delivery:
    """A ``ping`` event to this one endpoint (sent on demand, whatever it subscribes to)."""
    with transaction.atomic():
        event = _write_event(
            endpoint.owner_id, PING, {"endpoint_id": str(endpoint.pk), "message": "Hello from PIPELINE"}
        )
        return _deliver_to(event, [endpoint])[0]


def _write_event(owner_id: Any, event_type: str, data: dict[str, Any]) -> Event:
    now = timezone.now()
    payload = {"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
    return Event.objects.create(owner_id=owner_id, type=event_type, payload=payload, created_at=now)


def _deliver_to(event: Event, endpoints: list[WebhookEndpoint]) -> list[Delivery]:
    deliveries = Delivery.objects.bulk_create(
        Delivery(event=event, endpoint=e, webhook_id=new_webhook_id(), next_attempt_at=event.created_at)
        for e in endpoints
    )
    if deliveries:
        ids = [str(d.pk) for d in deliveries]
        transaction.on_commit(lambda: _queue(ids))
    return deliveries


def _queue(delivery_ids: list[str]) -> None:
    # Celery lives in tasks.py; this hand-over after commit is the one place a service reaches it.
    from events import tasks

    tasks.queue_deliveries(delivery_ids)
