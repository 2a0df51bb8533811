"""``POST /api/webhooks/training-complete``: the cluster says a job finished; ingest starts at once.

The body is JSON ``{"external_job_id": "...", "status": "completed" | "failed" | "cancelled",
"completed_at"?: ISO-8601, "final_cost"?: number, "current_epoch"?: int, "current_step"?: int}``
signed with HMAC-SHA256 of the raw body under ``GPU_CLUSTER_WEBHOOK_SECRET``, sent as
``X-Signature-256: sha256=<hex>``. Repeats are harmless: a finished job (completed, failed or
cancelled) keeps its state — the same report again changes nothing, a contradicting one is refused
with 409 — and a job already ingested is not ingested twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature-256"
FINAL_STATES = {TrainingJob.Status.COMPLETED, TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED}
MAX_COST = Decimal("9999999999.99")  # what the cost columns (12 digits, 2 decimals) can hold


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(status: int, message: str, details: Any = None) -> JsonResponse:
    payload: dict[str, Any] = {"error": message}
    if details is not None:
        payload["details"] = details
    return JsonResponse(payload, status=status)


@csrf_exempt
@require_POST
def training_complete(request: HttpRequest) -> JsonResponse:
    secret = settings.GPU_CLUSTER_WEBHOOK_SECRET
    if not secret:
        return _error(503, "Webhook is not configured")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), sign(request.body, secret).encode()):
        return _error(401, "Invalid or missing signature")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "Body is not JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("external_job_id"), str):
        return _error(400, "Invalid payload", {"external_job_id": "required string"})
    status = payload.get("status", TrainingJob.Status.COMPLETED)
    if status not in FINAL_STATES:
        return _error(400, "Invalid payload", {"status": f"must be one of {sorted(FINAL_STATES)}"})
    completed_at = timezone.now()
    if payload.get("completed_at") is not None:
        parsed = parse_datetime(str(payload["completed_at"]))
        if parsed is None:
            return _error(400, "Invalid payload", {"completed_at": "must be an ISO-8601 timestamp"})
        completed_at = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
    final_cost = None
    if payload.get("final_cost") is not None:
        try:
            final_cost = Decimal(str(payload["final_cost"]))
        except InvalidOperation:
            final_cost = None
        if final_cost is None or not final_cost.is_finite() or not 0 <= final_cost <= MAX_COST:
            return _error(400, "Invalid payload", {"final_cost": f"must be a number from 0 to {MAX_COST}"})
        final_cost = final_cost.quantize(Decimal("0.01"))

    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(external_job_id=payload["external_job_id"]).first()
        if job is None:
            return _error(404, "Unknown job")
        if job.status in FINAL_STATES and job.status != status:
            return _error(409, f"Job is already {job.status}", {"status": job.status})
        changed = job.status != status
        if changed:
            job.status = status
            job.completed_at = job.completed_at or completed_at
            if final_cost is not None:
                job.final_cost = final_cost
            for field in ("current_epoch", "current_step"):
                value = payload.get(field)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    setattr(job, field, value)
            job.save()  # the post_save signal queues the ingest once this transaction commits
    logger.info("webhook job=%s status=%s changed=%s", job.pk, status, changed)
    return JsonResponse({"success": True, "data": {"job_id": str(job.pk), "status": job.status, "changed": changed}})
