"""Models API (FR-5.3): list, detail and download grants, in the seed's envelopes.

Every queryset starts from ``ModelArtifact.objects.visible_to(request.user)``: someone else's, a
deleted or a missing model all answer the same 404, staff included.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from artifacts.api import schema  # noqa: F401 -- registers the bearer token scheme
from artifacts.api.exceptions import MODEL_NOT_FOUND, EnvelopeMixin, envelope
from artifacts.api.pagination import EnvelopePagination, validated_query
from artifacts.api.serializers import (
    DownloadGrantSerializer,
    DownloadRequestSerializer,
    ModelArtifactDetailSerializer,
    ModelArtifactSerializer,
    ModelListQuerySerializer,
)
from artifacts.models import ModelArtifact
from artifacts.services.grants import NoFilesAvailable, SigningFailed, UnknownFiles, grant_download

ERROR_RESPONSE = inline_serializer(
    "Error",
    {"error": serializers.CharField(), "details": serializers.JSONField(required=False)},
)


def envelope_of(serializer: Any, name: str) -> Any:
    return inline_serializer(name, {"success": serializers.BooleanField(), "data": serializer})


def visible_model_or_404(request: Request, pk: str, queryset: QuerySet[ModelArtifact] | None = None) -> ModelArtifact:
    """The user's own live model, or the one 404 that does not tell whether it exists."""
    try:
        model_id = uuid.UUID(str(pk))
    except ValueError:
        raise exceptions.NotFound(MODEL_NOT_FOUND) from None
    if queryset is None:
        queryset = ModelArtifact.objects.visible_to(request.user)
    model = queryset.filter(pk=model_id).first()
    if model is None:
        raise exceptions.NotFound(MODEL_NOT_FOUND)
    return model


class ModelPagination(EnvelopePagination):
    results_key = "models"


@extend_schema(
    summary="List your models",
    parameters=[ModelListQuerySerializer],
    responses={200: ModelArtifactSerializer(many=True), 400: ERROR_RESPONSE, 401: ERROR_RESPONSE},
)
class ModelListView(EnvelopeMixin, generics.ListAPIView):
    """Newest first (or `sort=quality`: best score first), 12 per page by default."""

    serializer_class = ModelArtifactSerializer
    pagination_class = ModelPagination

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.query = validated_query(ModelListQuerySerializer, request)
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ModelArtifact]:
        query = self.query
        return (
            ModelArtifact.objects.visible_to(self.request.user)
            .browse(
                sort=query["sort"],
                dataset=query.get("dataset"),
                min_score=query.get("min_score"),
                convergence=query.get("convergence"),
                q=query.get("q"),
            )
            .select_related("dataset", "job")
        )


@extend_schema(
    summary="One of your models, with its dataset, job and files",
    parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    responses={
        200: envelope_of(ModelArtifactDetailSerializer(), "ModelDetailEnvelope"),
        401: ERROR_RESPONSE,
        404: ERROR_RESPONSE,
    },
)
class ModelDetailView(EnvelopeMixin, APIView):
    """Someone else's, a deleted or a missing model all answer 404."""

    def get(self, request: Request, pk: str) -> Response:
        queryset = (
            ModelArtifact.objects.visible_to(request.user).select_related("dataset", "job").prefetch_related("files")
        )
        model = visible_model_or_404(request, pk, queryset)
        return envelope(ModelArtifactDetailSerializer(model, context={"request": request}).data)


@extend_schema(
    summary="Signed, expiring download URLs for a model's files",
    parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    request=DownloadRequestSerializer,
    responses={
        200: envelope_of(DownloadGrantSerializer(), "DownloadGrantEnvelope"),
        400: OpenApiResponse(ERROR_RESPONSE, description="Bad body or unknown file names"),
        401: ERROR_RESPONSE,
        404: ERROR_RESPONSE,
        429: ERROR_RESPONSE,
        500: OpenApiResponse(ERROR_RESPONSE, description="The storage backend could not sign the URLs"),
    },
)
class ModelDownloadView(EnvelopeMixin, APIView):
    """Body `{"files": [...]}` picks files; without it every file is signed. URLs need no other
    credentials and expire after `SIGNED_URL_TTL` seconds. Each grant is recorded."""

    serializer_class = DownloadRequestSerializer  # the browsable API's form
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "download_grant"

    def post(self, request: Request, pk: str) -> Response:
        model = visible_model_or_404(request, pk)
        body = DownloadRequestSerializer(data=request.data if request.data is not None else {})
        body.is_valid(raise_exception=True)
        try:
            grant = grant_download(model, request.user, body.validated_data.get("files"))
        except NoFilesAvailable:
            raise exceptions.NotFound("No artifact files available") from None
        except UnknownFiles as exc:
            return Response(
                {"error": str(exc), "details": {"unknown": exc.unknown, "available": exc.available}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except SigningFailed as exc:
            return Response(
                {
                    "error": "Failed to generate download URLs",
                    "details": f"Storage could not sign {exc.filename}. Please try again in a moment.",
                },
                status=status.HTTP_500_INTERNAL_SERVER_ERROR,
            )
        return envelope(DownloadGrantSerializer(grant).data)
