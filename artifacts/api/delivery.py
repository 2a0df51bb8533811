"""``/api/models/{id}/sha256sums``, ``/bundle``, ``/restore``, ``DELETE /api/models/{id}`` and
``GET /api/models?deleted=true`` (DESIGN §12), mixed into ``ModelArtifactViewSet``.

The viewset's ``get_object`` (``visible_to``) scopes every action but ``restore`` and the deleted
list, which look only at the caller's own deleted models; anything else answers the one 404.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from artifacts import tasks
from artifacts.models import ModelArtifact
from artifacts.services import bundles, lifecycle
from pipeline.lib.api.envelope import envelope, envelope_of, error_responses
from pipeline.lib.api.exceptions import ApiError

MODEL_NOT_FOUND = "Model not found or access denied"
MODEL_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class PlainTextRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``text/plain`` (``Accept: text/plain``); errors still go out as JSON."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return data.encode() if isinstance(data, str) else json.dumps(data).encode()


class BundleStatusSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`preparing` (202) or `ready` (200)")
    progress = serializers.FloatField(min_value=0, max_value=1)
    download_url = serializers.URLField(required=False)
    expires_at = serializers.DateTimeField(default_timezone=UTC, required=False)
    size = serializers.IntegerField(required=False)
    sha256 = serializers.CharField(required=False)


def bundle_payload(state: bundles.BundleStatus) -> dict[str, Any]:
    if not state.ready:
        return {"status": "preparing", "progress": state.progress}
    return BundleStatusSerializer(
        {
            "status": "ready",
            "progress": 1.0,
            "download_url": state.download_url,
            "expires_at": state.expires_at,
            "size": state.size,
            "sha256": state.sha256,
        }
    ).data


class DeliveryActionsMixin:
    """Checksums, the zip bundle and the model lifecycle for ``ModelArtifactViewSet``."""

    kwargs: Any

    def get_object(self) -> ModelArtifact:  # provided by the viewset
        raise NotImplementedError

    # --- GET /api/models/{id}/sha256sums ----------------------------------------------------------
    @extend_schema(
        summary="The model's checksums in `sha256sum -c` format",
        description="One line per file: `<sha256>  <filename>`, sorted by name.",
        parameters=[MODEL_ID],
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
            **error_responses(401, 404, 429),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="sha256sums",
        renderer_classes=[renderers.JSONRenderer, PlainTextRenderer],
    )
    def sha256sums(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        model = self.get_object()
        response = HttpResponse(bundles.sha256sums(model.files.all()), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="SHA256SUMS"'
        return response

    # --- POST /api/models/{id}/bundle -------------------------------------------------------------
    @extend_schema(
        summary="One zip of the whole model (built in the background)",
        description=(
            "Every file (stored, not recompressed), `SHA256SUMS`, the model card and `inspection.json`.\n"
            "202 with `progress` (0..1) while it is built: call again to poll. 200 with a signed,\n"
            "resumable `download_url` once ready. Unused bundles are removed after `BUNDLE_TTL_DAYS`.\n"
            "Starting a build over your limits answers 429 with `Retry-After` (more than\n"
            "`BUNDLE_MAX_CONCURRENT_PER_USER` builds at once) or 409 (zips would pass\n"
            "`BUNDLE_STORAGE_LIMIT_BYTES`; `details` gives `used_bytes`, `needed_bytes`, `allowed_bytes`)."
        ),
        parameters=[MODEL_ID],
        request=None,
        responses={
            200: envelope_of(BundleStatusSerializer(), "BundleReadyEnvelope"),
            202: envelope_of(BundleStatusSerializer(), "BundlePreparingEnvelope"),
            **error_responses(401, 404, 409, 429),
        },
    )
    @action(detail=True, methods=["post"], url_path="bundle")
    def bundle(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        model = self.get_object()
        if not model.files.exists():
            raise exceptions.NotFound("No artifact files available")
        try:
            state = tasks.request_bundle(model)
        except bundles.TooManyBuilds as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=exc.message) from None
        except bundles.BundleLimitReached as exc:
            raise ApiError(exc.message, exc.details, status_code=exc.status_code) from None
        except Exception as exc:  # signing the ready bundle failed (storage down)
            raise ApiError(
                "Failed to generate the bundle's download URL",
                "Storage did not answer; please try again in a moment.",
                status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            ) from exc
        return envelope(bundle_payload(state), status=200 if state.ready else 202)

    # --- DELETE /api/models/{id} ------------------------------------------------------------------
    @extend_schema(
        summary="Delete a model (restorable for ARTIFACT_RETENTION_DAYS)",
        parameters=[MODEL_ID],
        responses={204: None, **error_responses(401, 404, 429)},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lifecycle.soft_delete(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- POST /api/models/{id}/restore ------------------------------------------------------------
    @extend_schema(
        summary="Restore a model you deleted",
        description="Within `ARTIFACT_RETENTION_DAYS` of its deletion; later it answers 410.",
        parameters=[MODEL_ID],
        request=None,
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 404, 410, 429)},
    )
    @action(detail=True, methods=["post"], url_path="restore")
    def restore(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            model_id = uuid.UUID(str(self.kwargs["pk"]))
        except ValueError:
            raise exceptions.NotFound(MODEL_NOT_FOUND) from None
        model = ModelArtifact.objects.owned_by(request.user).filter(pk=model_id).first()
        if model is None:
            raise exceptions.NotFound(MODEL_NOT_FOUND)
        try:
            lifecycle.restore(model)
        except lifecycle.RetentionOver:
            raise ApiError(
                "This model can no longer be restored",
                "It was deleted more than ARTIFACT_RETENTION_DAYS days ago and is being removed for good.",
                status_code=status.HTTP_410_GONE,
            ) from None
        return envelope({"id": str(model.pk), "restored": True})
