"""Outbound webhooks (DESIGN §16): endpoints, the outbox of events, deliveries and their attempts.

The app knows nothing of what its events are about: callers hand :func:`events.services.publish.publish`
an owner, a type and a JSON-ready ``data`` dict. State changes of a delivery are conditional
UPDATEs on :class:`DeliveryQuerySet`, so two workers can never send the same attempt.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

# The event types an endpoint can subscribe to (``ping`` is sent on demand, to one endpoint).
ARTIFACT_READY = "artifact.ready"
ARTIFACT_FAILED = "artifact.failed"
ARTIFACT_DELETED = "artifact.deleted"
ARTIFACT_RESTORED = "artifact.restored"
ALIAS_MOVED = "alias.moved"
PING = "ping"
EVENT_TYPES = (ARTIFACT_READY, ARTIFACT_FAILED, ARTIFACT_DELETED, ARTIFACT_RESTORED, ALIAS_MOVED)

RESPONSE_EXCERPT_BYTES = 1024
# How long a worker holds a claimed delivery before another may take it (a killed worker's send).
CLAIM_SECONDS = 120


def default_events() -> list[str]:
    return list(EVENT_TYPES)


class WebhookEndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def visible_to(self, user: Any) -> WebhookEndpointQuerySet:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True, default="")
    events = models.JSONField(default=default_events)
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="webhook_endpoint_owner_idx")]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return event_type == PING or (isinstance(self.events, list) and event_type in self.events)

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The current secret, and the previous one while its grace period lasts (both sign)."""
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(self.previous_secret)
        return secrets


class Event(models.Model):
    """The outbox: one row per change, written in the transaction that made the change."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "type", "-created_at"], name="webhook_event_owner_idx"),
            models.Index(fields=["created_at"], name="webhook_event_created_idx"),  # the retention's prune
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    def body(self) -> bytes:
        """The request body of every attempt of every delivery of this event: the same bytes each time."""
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":")).encode()


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def visible_to(self, user: Any) -> DeliveryQuerySet:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(endpoint__owner=user)

    def due(self, now: datetime | None = None) -> DeliveryQuerySet:
        return self.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now or timezone.now())

    def claim(self, pk: Any, now: datetime | None = None) -> bool:
        """Take a due delivery for one attempt: hide it from others for ``CLAIM_SECONDS``."""
        now = now or timezone.now()
        return bool(self.due(now).filter(pk=pk).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))

    def replay(self) -> int:
        """Send these again now, once (a failed replay does not restart the retry schedule)."""
        return self.update(state=Delivery.State.PENDING, next_attempt_at=timezone.now(), retrying=False)


class Delivery(models.Model):
    """One event to one endpoint; ``webhook_id`` is the ``webhook-id`` header of every attempt."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # True while the automatic retry schedule applies; a replay is one manual attempt.
    retrying = models.BooleanField(default=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")]

    def __str__(self) -> str:
        return self.webhook_id


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["delivery", "-at"], name="webhook_attempt_log_idx")]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
