"""Sending one delivery, one attempt at a time (DESIGN §16).

:func:`attempt` claims a due delivery (a conditional UPDATE: two workers never send the same
attempt), signs the event's body afresh (same ``webhook-id``, the attempt's own timestamp), POSTs it
through :class:`~events.services.network.PublicOnlyAdapter` with ``WEBHOOK_TIMEOUT_SECONDS`` and no
redirects, logs the attempt and decides what comes next: done, another attempt after the next step
of ``WEBHOOK_RETRY_SCHEDULE``, or failed. An endpoint failing for ``WEBHOOK_DISABLE_AFTER_SECONDS``
is disabled and its owner notified. It returns an :class:`Outcome`; ``events.tasks`` schedules.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from urllib3.exceptions import NewConnectionError

from events.models import RESPONSE_EXCERPT_BYTES, Delivery, DeliveryAttempt, Event, WebhookEndpoint
from events.services import signing
from events.services.network import PublicOnlyAdapter, RefusedConnection, scheme_refusal
from pipeline.models import Notification

logger = logging.getLogger(__name__)

USER_AGENT = "PIPELINE-Webhooks/1.0"
DISABLED_ERROR = "The endpoint is disabled"


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    result: str  # "succeeded" | "retry" | "failed" | "skipped"
    retry_in: float | None = None


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_schedule() -> list[int]:
    return list(settings.WEBHOOK_RETRY_SCHEDULE)


def attempt(delivery_id: Any) -> Outcome:
    """One attempt of a due delivery; ``skipped`` when it is not due or someone else has it."""
    now = timezone.now()
    if not Delivery.objects.claim(delivery_id, now):
        return Outcome(str(delivery_id), "skipped")
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.FAILED, next_attempt_at=None, last_error=DISABLED_ERROR
        )
        return Outcome(str(delivery.pk), "failed")
    result = send(endpoint, delivery.webhook_id, delivery.event.body())
    return _record(delivery, endpoint, result)


def send(endpoint: WebhookEndpoint, webhook_id: str, body: bytes) -> AttemptResult:
    """POST the signed body once; never raises for what the network or the receiver does."""
    headers = {
        **signing.headers(endpoint.signing_secrets(), webhook_id, int(time.time()), body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    refusal = scheme_refusal(endpoint.url)
    if refusal:
        return AttemptResult(None, 0, "", f"Refused: {refusal}")
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: it would connect for us, unchecked
        session.mount("http://", PublicOnlyAdapter())
        session.mount("https://", PublicOnlyAdapter())
        try:
            with session.post(
                endpoint.url, data=body, headers=headers, timeout=(timeout, timeout), allow_redirects=False, stream=True
            ) as response:
                status_code = response.status_code
                excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True).decode("utf-8", "replace")
        except requests.Timeout:
            error = f"No answer within {timeout:g} s"
        except requests.RequestException as exc:
            error = _describe(exc)
        except Exception as exc:  # a body that cannot be decoded, a broken connection mid-read
            error = f"{type(exc).__name__}: {exc}"
    if status_code is not None and not error and not 200 <= status_code < 300:
        error = f"HTTP {status_code}" + (" (redirects are not followed)" if 300 <= status_code < 400 else "")
    duration_ms = int((time.monotonic() - started) * 1000)
    return AttemptResult(status_code, duration_ms, excerpt, error[:500])


def _describe(exc: requests.RequestException) -> str:
    """The refusal of :class:`PublicOnlyAdapter` in its own words, else what requests says."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, RefusedConnection):
        return f"Refused: {reason.refusal}"
    if isinstance(reason, NewConnectionError):  # "<connection repr>: <what happened>"
        detail = str(reason).split(": ", 1)[-1]
        return detail[:1].upper() + detail[1:]
    return str(exc) or type(exc).__name__


def _record(delivery: Delivery, endpoint: WebhookEndpoint, result: AttemptResult) -> Outcome:
    now = timezone.now()
    schedule = retry_schedule()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response_excerpt=result.excerpt,
            error=result.error,
        )
        fields: dict[str, Any] = {"attempts": F("attempts") + 1, "last_status": result.status_code}
        if result.succeeded:
            fields.update(state=Delivery.State.SUCCEEDED, next_attempt_at=None, last_error="")
            outcome = Outcome(str(delivery.pk), "succeeded")
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        elif delivery.retrying and delivery.attempts < len(schedule):
            delay = schedule[delivery.attempts]
            fields.update(next_attempt_at=now + timedelta(seconds=delay), last_error=result.error)
            outcome = Outcome(str(delivery.pk), "retry", retry_in=delay)
        else:
            fields.update(state=Delivery.State.FAILED, next_attempt_at=None, last_error=result.error)
            outcome = Outcome(str(delivery.pk), "failed")
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        if not result.succeeded:
            _note_failure(endpoint, now)
    logger.info(
        "webhook delivery %s to %s: %s (%s)", delivery.webhook_id, endpoint.pk, outcome.result, result.error or "2xx"
    )
    return outcome


def _note_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Start the endpoint's failure window, or disable it when the window is over."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    cutoff = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True, failing_since__lte=cutoff).update(
        enabled=False, disabled_reason=f"Every delivery failed since {endpoint.failing_since or now:%Y-%m-%d %H:%M} UTC"
    )
    if disabled:
        days = settings.WEBHOOK_DISABLE_AFTER_SECONDS / 86400
        Notification.objects.create(
            user_id=endpoint.owner_id,
            type="webhook_disabled",
            title="Webhook Endpoint Disabled",
            message=(
                f"Deliveries to {endpoint.url} failed for {days:g} days, so it was disabled. "
                "Fix the receiver, enable the endpoint again and replay the failed deliveries."
            ),
            priority=Notification.Priority.HIGH,
            action_url=f"/webhooks/{endpoint.pk}",
            metadata={"endpoint_id": str(endpoint.pk), "url": endpoint.url},
        )
        logger.warning("webhook endpoint %s disabled after failing since %s", endpoint.pk, endpoint.failing_since)


def due_delivery_ids(limit: int = 1000) -> list[str]:
    """Beat's sweep: deliveries whose next attempt is due (a lost message, a long retry wait)."""
    return [str(pk) for pk in Delivery.objects.due().order_by("next_attempt_at").values_list("pk", flat=True)[:limit]]


def prune_old_events(now: datetime | None = None, batch: int = 500) -> int:
    """Delete the events older than ``WEBHOOK_EVENT_RETENTION_DAYS`` with their deliveries and
    attempt log, ``batch`` events per transaction so no lock is held long. An event with a delivery
    still pending (retrying, or replayed) is kept until it ends. Returns how many events went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    pending = Delivery.State.PENDING
    old = Event.objects.filter(created_at__lt=cutoff).exclude(deliveries__state=pending).order_by()
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            # A replay may have made one pending since: its delivery rows are locked and read again.
            locked = Delivery.objects.select_for_update().filter(event_id__in=ids).values_list("event_id", "state")
            kept = {event_id for event_id, state in locked if state == pending}
            gone = [pk for pk in ids if pk not in kept]
            _, by_model = Event.objects.filter(pk__in=gone).delete()
        removed = by_model.get(Event._meta.label, 0)  # not what another prune took meanwhile
        deleted += removed
        if not removed:
            break
    if deleted:
        logger.info("webhook retention deleted %d events older than %s", deleted, cutoff.isoformat())
    return deleted
