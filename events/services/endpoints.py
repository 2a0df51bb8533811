"""Endpoint management (DESIGN §16): create (secret shown once), edit, rotate, replay.

The API and the pages both call these; each validates what it is given and raises Django's
``ValidationError`` (field-keyed), which both forms and DRF serializers report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.models import CLAIM_SECONDS, EVENT_TYPES, Delivery, WebhookEndpoint
from events.services.network import UnsafeUrl, check_url
from events.services.signing import new_secret

ROTATION_GRACE = timedelta(hours=24)
MAX_ENDPOINTS_PER_OWNER = 50


def clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ValidationError("The URL is longer than 2000 characters.")
    try:
        return check_url(url)
    except UnsafeUrl as exc:
        raise ValidationError(str(exc)) from None


def clean_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError(f"Choose at least one of: {', '.join(EVENT_TYPES)}.")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError(f"Unknown event type(s): {', '.join(map(str, unknown))}.")
    return [e for e in EVENT_TYPES if e in events]


def create_endpoint(
    owner: Any, *, url: str, events: Any = None, description: str = "", enabled: bool = True
) -> WebhookEndpoint:
    """A new endpoint; its ``secret`` is the one time the caller can show it."""
    if WebhookEndpoint.objects.filter(owner=owner).count() >= MAX_ENDPOINTS_PER_OWNER:
        raise ValidationError(f"You can have at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints.")
    return WebhookEndpoint.objects.create(
        owner=owner,
        url=clean_url(url),
        events=clean_events(list(EVENT_TYPES) if events is None else events),
        description=(description or "").strip(),
        enabled=enabled,
        secret=new_secret(),
    )


def update_endpoint(endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change ``url``, ``events``, ``description`` and/or ``enabled``; enabling starts afresh."""
    if "url" in changes:
        endpoint.url = clean_url(changes["url"])
    if "events" in changes:
        endpoint.events = clean_events(changes["events"])
    if "description" in changes:
        endpoint.description = (changes["description"] or "").strip()
    if "enabled" in changes:
        enabled = bool(changes["enabled"])
        if enabled and not endpoint.enabled:
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
        elif not enabled and endpoint.enabled:
            endpoint.disabled_reason = "Disabled by its owner"
        endpoint.enabled = enabled
    endpoint.save()
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (beside the new) for ``ROTATION_GRACE``."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


class EndpointDisabled(Exception):
    """Nothing is sent to a disabled endpoint: enable it first."""


def replay(endpoint: WebhookEndpoint, deliveries: Any) -> list[str]:
    """Send these deliveries of ``endpoint`` again now (same ``webhook-id``); their ids.

    A finished delivery gets one more attempt; one waiting for its next retry is sent now, keeping
    its schedule (one in flight just now is left to finish).
    """
    if not endpoint.enabled:
        raise EndpointDisabled(str(endpoint.pk))
    now = timezone.now()
    mine = deliveries.filter(endpoint=endpoint)
    with transaction.atomic():
        # Locked, so the retention's prune (which locks them too) cannot delete one under the replay.
        finished = list(mine.exclude(state=Delivery.State.PENDING).select_for_update().values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=finished).replay()
        waiting = list(
            mine.filter(
                state=Delivery.State.PENDING, next_attempt_at__gt=now + timedelta(seconds=CLAIM_SECONDS)
            ).values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=waiting, state=Delivery.State.PENDING).update(next_attempt_at=now)
    return [str(pk) for pk in finished + waiting]


def failed_since(endpoint: WebhookEndpoint, since: datetime) -> Any:
    return endpoint.deliveries.filter(state=Delivery.State.FAILED, created_at__gte=since)
