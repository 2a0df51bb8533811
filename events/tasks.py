"""Celery wrappers for webhook deliveries: one task per delivery, so a slow receiver holds up only
its own delivery (at most ``WEBHOOK_TIMEOUT_SECONDS`` of one worker slot), never the others'.

The services decide (:func:`events.services.delivery.attempt` returns an ``Outcome``); this module
turns outcomes into messages. Beat's sweep re-queues whatever is due, so a lost message or a retry
wait longer than a message should be held only delays a delivery, never drops it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from events.services import delivery as delivery_service

logger = logging.getLogger(__name__)

# Retries further away than this are left to the sweep: a broker holding a message for hours
# would redeliver it after its visibility timeout.
LONGEST_COUNTDOWN_SECONDS = 600


def queue_deliveries(delivery_ids: list[str], *, countdown: float | None = None) -> None:
    for delivery_id in delivery_ids:
        if countdown:
            deliver.apply_async(args=[delivery_id], countdown=countdown)
        else:
            deliver.delay(delivery_id)


def follow_up(outcome: delivery_service.Outcome) -> None:
    if outcome.result == "retry" and outcome.retry_in is not None and outcome.retry_in <= LONGEST_COUNTDOWN_SECONDS:
        queue_deliveries([outcome.delivery_id], countdown=outcome.retry_in)


@shared_task(name="events.tasks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> str:
    """One attempt of one delivery (quietly skipped when it is not due or already taken)."""
    outcome = delivery_service.attempt(delivery_id)
    follow_up(outcome)
    return outcome.result


@shared_task(name="events.tasks.sweep_due_deliveries", ignore_result=True)
def sweep_due_deliveries() -> int:
    """Beat's safety net: queue every delivery whose attempt is due."""
    ids = delivery_service.due_delivery_ids()
    queue_deliveries(ids)
    if ids:
        logger.info("webhook sweep queued %d deliveries", len(ids))
    return len(ids)


@shared_task(name="events.tasks.prune_old_events", ignore_result=True)
def prune_old_events() -> int:
    """Beat, daily: events, deliveries and attempts past ``WEBHOOK_EVENT_RETENTION_DAYS`` go."""
    return delivery_service.prune_old_events()


def queue_after_commit(delivery_ids: list[str]) -> None:
    """Queue sends once the current transaction commits (replays from the API and the pages)."""
    if delivery_ids:
        transaction.on_commit(lambda: queue_deliveries(delivery_ids))
