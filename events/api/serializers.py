"""Webhook API shapes. The secret appears only in the answers to create and rotate."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from events.models import EVENT_TYPES, Delivery, DeliveryAttempt, WebhookEndpoint
from events.services import endpoints


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    url = serializers.CharField(max_length=2000)
    previous_secret_valid_until = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "enabled",
            "disabled_reason",
            "failing_since",
            "previous_secret_valid_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "disabled_reason", "failing_since", "created_at", "updated_at"]

    def validate_url(self, value: str) -> str:
        return endpoints.clean_url(value)

    def validate_events(self, value: list[str]) -> list[str]:
        return endpoints.clean_events(value)

    def get_previous_secret_valid_until(self, endpoint: WebhookEndpoint) -> str | None:
        until = endpoint.previous_secret_expires_at
        return until.isoformat() if until and until > timezone.now() and endpoint.previous_secret else None


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown only in this answer: store it now.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "status_code", "duration_ms", "response_excerpt", "error"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)
    event_id = serializers.UUIDField(source="event.id", read_only=True)
    payload = serializers.JSONField(source="event.payload", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event_id",
            "event_type",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status",
            "last_error",
            "created_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields


class DeliveryQuerySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Delivery.State.choices, required=False)
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)


class ReplaySinceSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Replay every failed delivery created at or after this time.")


def event_type_choices() -> list[dict[str, Any]]:
    return [{"type": t} for t in EVENT_TYPES]
