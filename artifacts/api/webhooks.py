"""``POST /api/webhooks/training-complete``: the cluster says a job finished; ingest starts at once.

The body is JSON ``{"external_job_id": "...", "status": "completed" | "failed" | "cancelled",
"completed_at"?: ISO-8601, "final_cost"?: number, "current_epoch"?: int, "current_step"?: int}``
signed with HMAC-SHA256 of the raw body under ``GPU_CLUSTER_WEBHOOK_SECRET``, sent as
``X-Signature-256: sha256=<hex>``. Repeats are harmless: a finished job (completed, failed or
cancelled) keeps its state — the same report again changes nothing, a contradicting one is refused
with 409 — and a job already ingested is not ingested twice.

Order of checks: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 before anything else (the
signature covers the whole body, so checking it first would mean reading any amount of it); then
the signature (401); then the JSON (depth-limited, 400) and :class:`WebhookSerializer` (400 naming
each bad field: types, choices, real dates, integers that fit their columns, printable ids).
"""

from __future__ import annotations

import logging
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from artifacts.tasks import enqueue_ingest
from pipeline.lib.api import parsers
from pipeline.lib.api.envelope import ERROR_RESPONSE, envelope, envelope_of
from pipeline.lib.api.exceptions import ApiError
from pipeline.lib.text import first_unprintable
from pipeline.lib.webhook_signature import SIGNATURE_HEADER, verify
from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)

FINAL_STATES = {TrainingJob.Status.COMPLETED, TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED}
FINAL_STATUS_CHOICES = [(state.value, state.label) for state in sorted(FINAL_STATES)]
MAX_COST = Decimal("9999999999.99")  # what the cost columns (12 digits, 2 decimals) can hold
MAX_COUNTER = 2_147_483_647  # PositiveIntegerField: the largest value every supported database holds


def printable(value: str) -> None:
    """No NUL, control, format (e.g. U+202E) or other character the display rule refuses (``pipeline.lib.text``)."""
    char = first_unprintable(value)
    if char is not None:
        raise serializers.ValidationError(f"must not contain the control character U+{ord(char):04X}")


class StrictCharField(serializers.CharField):
    """A JSON string, not a number turned into one."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CostField(serializers.DecimalField):
    """Rounded to cents (``18.456`` → ``18.46``) rather than refused for its third decimal."""

    def validate_precision(self, value: Decimal) -> Decimal:
        if abs(value) <= MAX_COST:
            value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return super().validate_precision(value)


class WebhookSerializer(serializers.Serializer):
    external_job_id = StrictCharField(
        max_length=TrainingJob._meta.get_field("external_job_id").max_length,  # type: ignore[arg-type]
        validators=[printable],
        help_text="The cluster's job id.",
    )
    status = serializers.ChoiceField(
        choices=FINAL_STATUS_CHOICES, default=TrainingJob.Status.COMPLETED, help_text="The job's final state."
    )
    completed_at = serializers.DateTimeField(
        required=False, allow_null=True, default_timezone=UTC, help_text="ISO-8601; without a zone, UTC."
    )
    final_cost = CostField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_COST,
        rounding=ROUND_HALF_UP,
        required=False,
        allow_null=True,
        coerce_to_string=False,
    )
    current_epoch = serializers.IntegerField(min_value=0, max_value=MAX_COUNTER, required=False, allow_null=True)
    current_step = serializers.IntegerField(min_value=0, max_value=MAX_COUNTER, required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        # Booleans are ints in Python (and "True" is no number either): refuse them outright.
        if isinstance(data, dict):
            errors = {
                name: ["A valid integer is required."]
                for name in ("current_epoch", "current_step")
                if isinstance(data.get(name), bool)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


RESULT = inline_serializer(
    "WebhookResult",
    {"job_id": serializers.UUIDField(), "status": serializers.CharField(), "changed": serializers.BooleanField()},
)


@extend_schema(
    summary="The GPU cluster reports a finished training job",
    description=(
        "Signed with HMAC-SHA256 of the raw body under the shared webhook secret, sent as\n"
        "`X-Signature-256: sha256=<hex>`. A body over the upload limit is refused with 413 before the\n"
        "signature is checked. Repeats are harmless; a contradicting final state is a 409."
    ),
    auth=[],
    request=WebhookSerializer,
    parameters=[
        OpenApiParameter(
            SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="sha256=<hex>"
        )
    ],
    responses={
        200: envelope_of(RESULT, "WebhookResultEnvelope"),
        400: OpenApiResponse(ERROR_RESPONSE, description="Not JSON, nested too deep, or a bad field"),
        401: OpenApiResponse(ERROR_RESPONSE, description="Missing or wrong signature"),
        404: OpenApiResponse(ERROR_RESPONSE, description="No job with this external id"),
        405: ERROR_RESPONSE,
        409: OpenApiResponse(ERROR_RESPONSE, description="The job already finished in another state"),
        413: OpenApiResponse(ERROR_RESPONSE, description="Body over the upload limit"),
        503: OpenApiResponse(ERROR_RESPONSE, description="The webhook secret is not configured"),
    },
)
class TrainingCompleteView(APIView):
    authentication_classes: list[Any] = []  # the HMAC signature is the authentication
    permission_classes = [permissions.AllowAny]
    # Documents the JSON body; the raw bytes are signed and parsed here (``request.data`` is never read).
    parser_classes = [parsers.JSONParser]

    def post(self, request: Request) -> Response:
        secret = settings.GPU_CLUSTER_WEBHOOK_SECRET
        if not secret:
            raise ApiError("Webhook is not configured", status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        body = request.body  # over DATA_UPLOAD_MAX_MEMORY_SIZE: RequestDataTooBig, answered 413
        if not verify(body, secret, request.headers.get(SIGNATURE_HEADER, "")):
            raise ApiError("Invalid or missing signature", status_code=status.HTTP_401_UNAUTHORIZED)
        try:
            payload = parsers.loads(body)
        except parsers.TooDeeplyNested as exc:
            raise ApiError("Body is not acceptable JSON", str(exc)) from None
        except ValueError:
            raise ApiError("Body is not JSON") from None
        serializer = WebhookSerializer(data=payload)
        if not serializer.is_valid():
            raise ApiError("Invalid payload", serializer.errors)
        return envelope(self.apply(serializer.validated_data))

    @staticmethod
    def apply(data: dict[str, Any]) -> dict[str, Any]:
        new_status = data["status"]
        with transaction.atomic():
            job = TrainingJob.objects.select_for_update().filter(external_job_id=data["external_job_id"]).first()
            if job is None:
                raise ApiError("Unknown job", status_code=status.HTTP_404_NOT_FOUND)
            if job.status in FINAL_STATES and job.status != new_status:
                raise ApiError(
                    f"Job is already {job.status}", {"status": job.status}, status_code=status.HTTP_409_CONFLICT
                )
            changed = job.status != new_status
            if changed:
                from django.utils import timezone

                job.status = new_status
                job.completed_at = job.completed_at or data.get("completed_at") or timezone.now()
                if data.get("final_cost") is not None:
                    job.final_cost = data["final_cost"]
                for field in ("current_epoch", "current_step"):
                    if data.get(field) is not None:
                        setattr(job, field, data[field])
                job.save()
                if job.status == TrainingJob.Status.COMPLETED and job.artifact_id is None:
                    enqueue_ingest(job.pk)  # sent once this transaction commits
        logger.info("webhook job=%s status=%s changed=%s", job.pk, new_status, changed)
        return {"job_id": str(job.pk), "status": job.status, "changed": changed}


training_complete = TrainingCompleteView.as_view()
