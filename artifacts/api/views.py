"""Models API (FR-5.3): list, detail and download grants, in the seed's envelopes.

One read-only viewset. Its queryset, ``ModelArtifact.objects.visible_to(request.user)``, is the
only scope: someone else's, a deleted or a missing model all answer the same 404, staff included.
Errors are raised and shaped by the project's one exception handler (``pipeline.lib.api``).
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import ScopedRateThrottle

from artifacts.api import schema  # noqa: F401 -- registers the bearer token scheme
from artifacts.api.compare import ComparisonSerializer, comparison_data
from artifacts.api.delivery import DeliveryActionsMixin
from artifacts.api.serializers import (
    DownloadGrantSerializer,
    DownloadRequestSerializer,
    ModelArtifactDetailSerializer,
    ModelArtifactSerializer,
    ModelListRequestSerializer,
    ModelUpdateSerializer,
)
from artifacts.filters import ModelFilters
from artifacts.health.verdict import health_of
from artifacts.models import ModelArtifact, ModelArtifactQuerySet, with_owner
from artifacts.services import comparison
from artifacts.services.editing import update_display
from artifacts.services.grants import NoFilesAvailable, SigningFailed, UnknownFiles, grant_download
from artifacts.services.model_card import CARD_CONTENT_TYPE, artifact_card, card_filename
from pipeline.lib.api.envelope import ERROR_RESPONSE, envelope, envelope_of, error_responses
from pipeline.lib.api.exceptions import ApiError
from pipeline.lib.api.pagination import PAGE_SIZE, EnvelopePagination, validated_query
from pipeline.lib.api.parsers import JSONParser, MultiPartParser
from pipeline.models import TrainingJob

MODEL_NOT_FOUND = "Model not found or access denied"
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
MODEL_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


# One component for the detail envelope (retrieve and partial_update answer the same shape).
DETAIL_ENVELOPE = envelope_of(ModelArtifactDetailSerializer(), "ModelDetailEnvelope")


class MarkdownRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: text/markdown``; errors still answer in the JSON envelope."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return JSONRenderer().render(data) if not isinstance(data, str) else data.encode()


class ModelPagination(EnvelopePagination):
    results_key = "models"

    def count(self, queryset: Any, request: Request, view: Any = None) -> int:
        filters = getattr(view, "list_filters", None)
        if filters is not None:  # the live list: its filters know its length
            return filters.count(request.user, queryset)
        return super().count(queryset, request, view)


_deferred_by_serializer: dict[type[Any], tuple[str, ...]] = {}


def list_deferred_fields(serializer_class: type[BaseSerializer[Any]]) -> tuple[str, ...]:
    """The artifact's and its job's columns the list serializer does not show (for ``defer``);
    worked out once per serializer class."""
    if serializer_class in _deferred_by_serializer:
        return _deferred_by_serializer[serializer_class]
    shown = set(getattr(getattr(serializer_class, "Meta", None), "fields", ()))
    deferred = [
        field.name
        for field in ModelArtifact._meta.concrete_fields
        if not (field.primary_key or field.is_relation or field.name in shown or field.attname in shown)
    ]
    job = getattr(serializer_class(), "fields", {}).get("job")
    job_shown = getattr(getattr(job, "Meta", None), "fields", None)
    if job_shown is not None:
        deferred += [
            f"job__{field.name}"
            for field in TrainingJob._meta.concrete_fields
            if not (field.primary_key or field.is_relation or field.name in job_shown)
        ]
    _deferred_by_serializer[serializer_class] = tuple(deferred)
    return _deferred_by_serializer[serializer_class]


@extend_schema_view(
    list=extend_schema(
        summary="List your models",
        description=f"Newest first (or `sort=quality`: best score first), {PAGE_SIZE} per page by default.",
        parameters=[ModelListRequestSerializer],
        responses={200: ModelArtifactSerializer(many=True), **error_responses(400, 401, 429)},
    ),
    retrieve=extend_schema(
        summary="One of your models, with its dataset, job and files",
        description="Someone else's, a deleted or a missing model all answer 404.",
        parameters=[MODEL_ID],
        responses={
            200: DETAIL_ENVELOPE,
            **error_responses(401, 404, 429),
        },
    ),
    partial_update=extend_schema(
        summary="Rename or describe one of your models",
        description="Partial update: send `name`, `description` or both. Only the owner can; others get 404.",
        parameters=[MODEL_ID],
        request=ModelUpdateSerializer,
        responses={
            200: DETAIL_ENVELOPE,
            **error_responses(400, 401, 404, 413, 415, 429),
        },
    ),
)
class ModelArtifactViewSet(DeliveryActionsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ModelArtifactSerializer
    pagination_class = ModelPagination
    lookup_value_regex = "[^/]+"  # any id reaches get_object, which answers the one 404
    throttle_scope: str | None = None  # set per action
    list_filters: ModelFilters | None = None  # the list's, once validated

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The user's models; with ``?deleted=true`` the ones deleted within the retention, newest first.

        The whole query is validated first, so a bad ``sort`` (or page, or filter) is a 400 on
        either list, as the schema says."""
        query = validated_query(ModelListRequestSerializer, request)
        if not query["deleted"]:
            self.list_filters = ModelFilters.from_validated(query)
            return super().list(request, *args, **kwargs)
        queryset = self.list_columns(
            ModelArtifact.objects.deleted_for(request.user).with_registry().select_related("dataset", "job")
        )
        page = self.paginate_queryset(queryset.order_by("-deleted_at", "-id"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def list_columns(self, queryset: ModelArtifactQuerySet) -> ModelArtifactQuerySet:
        """Leave out the big columns the list does not show (inspection, training health, ...)."""
        queryset = queryset.defer(*list_deferred_fields(self.get_serializer_class()))
        return queryset.annotate(health_summary_text=KT("training_health__summary"))

    def get_queryset(self) -> ModelArtifactQuerySet:
        queryset = ModelArtifact.objects.visible_to(self.request.user).with_registry().select_related("dataset", "job")
        if self.action == "list":
            queryset = self.list_columns(queryset)
        return queryset

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        return None if page is None else with_owner(page, self.request.user)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The list's query parameters, validated here (a bad one is a 400 naming it); a single
        model ignores them."""
        if self.action != "list":
            return queryset
        if self.list_filters is None:  # not reached through list()
            self.list_filters = ModelFilters.from_validated(validated_query(ModelListRequestSerializer, self.request))
        return self.list_filters.apply(cast(ModelArtifactQuerySet, queryset))

    def get_object(self) -> ModelArtifact:
        try:
            model_id = uuid.UUID(str(self.kwargs[self.lookup_field]))
        except ValueError:
            raise exceptions.NotFound(MODEL_NOT_FOUND) from None
        queryset = self.filter_queryset(self.get_queryset())
        if self.action in ("retrieve", "partial_update"):
            queryset = queryset.prefetch_related("files")
        model = queryset.filter(pk=model_id).first()
        if model is None:
            raise exceptions.NotFound(MODEL_NOT_FOUND)
        with_owner([model], self.request.user)
        self.check_object_permissions(self.request, model)
        return model

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action in ("retrieve", "partial_update"):
            return ModelArtifactDetailSerializer
        return super().get_serializer_class()

    def _detail(self, model: ModelArtifact) -> Response:
        if model.training_health is None:  # stored before health existed: computed, not saved
            model.training_health = dict(health_of(model))
        return envelope(ModelArtifactDetailSerializer(model, context=self.get_serializer_context()).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(self.get_object())

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        model = self.get_object()
        body = ModelUpdateSerializer(data=request.data if isinstance(request.data, dict) else None)
        body.is_valid(raise_exception=True)
        update_display(model, dict(body.validated_data))
        return self._detail(model)

    @extend_schema(
        summary="Compare 2 to 4 of your models side by side",
        description=(
            "`ids=a,b[,c,d]` (or `ids` repeated). Configuration and health check rows carry one value per\n"
            "model and a `differs` flag; each model has its training health, inspection and loss history."
        ),
        parameters=[
            OpenApiParameter(
                "ids",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=True,
                description="2 to 4 distinct model ids, separated by commas",
                pattern=f"^{UUID_PATTERN}(,{UUID_PATTERN}){{1,3}}$",
            )
        ],
        responses={
            200: envelope_of(ComparisonSerializer(), "ModelComparisonEnvelope"),
            400: OpenApiResponse(ERROR_RESPONSE, description="Fewer than 2, more than 4, repeated or malformed ids"),
            **error_responses(401, 404, 429),
        },
    )
    @action(detail=False, methods=["get"], url_path="compare")
    def compare(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        values = request.query_params.getlist("ids")
        try:
            ids = comparison.parse_ids(values)
        except comparison.InvalidSelection as exc:
            # A repeated id that is not even one of the user's models is first of all unknown.
            if isinstance(exc, comparison.RepeatedModel) and comparison.names_unknown_model(request.user, values):
                raise exceptions.NotFound(MODEL_NOT_FOUND) from None
            raise exceptions.ValidationError({"ids": [str(exc)]}) from None
        models = comparison.load_models(request.user, ids)
        if models is None:
            raise exceptions.NotFound(MODEL_NOT_FOUND)
        return envelope(comparison_data(comparison.compare(models)))

    @extend_schema(
        summary="Signed, expiring download URLs for a model's files",
        description=(
            'Body `{"files": [...]}` picks files; without it every file is signed. URLs need no other\n'
            "credentials and expire after `SIGNED_URL_TTL` seconds. Each grant is recorded."
        ),
        parameters=[MODEL_ID],
        request=DownloadRequestSerializer,
        responses={
            200: envelope_of(DownloadGrantSerializer(), "DownloadGrantEnvelope"),
            **error_responses(401, 403, 404, 413, 415, 429),
            400: OpenApiResponse(ERROR_RESPONSE, description="Bad body, nested too deep, or unknown file names"),
            500: OpenApiResponse(ERROR_RESPONSE, description="The storage backend could not sign the URLs"),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        serializer_class=DownloadRequestSerializer,  # the browsable API's form
        # A malformed multipart body is a 400, never "no file list" (which signs every file).
        parser_classes=[JSONParser, FormParser, MultiPartParser],
        throttle_classes=[ScopedRateThrottle],
        throttle_scope="download_grant",
    )
    def download(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        model = self.get_object()
        body = DownloadRequestSerializer(data=request.data if request.data is not None else {})
        body.is_valid(raise_exception=True)
        try:
            grant = grant_download(model, request.user, body.validated_data.get("files"))
        except NoFilesAvailable:
            raise exceptions.NotFound("No artifact files available") from None
        except UnknownFiles as exc:
            raise ApiError(str(exc), {"unknown": exc.unknown, "available": exc.available}) from None
        except SigningFailed as exc:
            raise ApiError(
                "Failed to generate download URLs",
                f"Storage could not sign {exc.filename}. Please try again in a moment.",
                status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            ) from None
        return envelope(DownloadGrantSerializer(grant).data)

    @extend_schema(
        summary="The model card (Hugging Face README) of a model",
        description=(
            "YAML front matter (base_model, library_name: peft, tags, datasets, metrics), then the training\n"
            "summary, configuration, training health, inspection and how to load. The same text is `README.md`\n"
            "in downloads (`MODEL_CARD.md` when the cluster sent a README)."
        ),
        parameters=[MODEL_ID],
        responses={
            (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description="The card, as Markdown"),
            **error_responses(401, 404, 429),
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, MarkdownRenderer])
    def card(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        model = self.get_object()
        response = HttpResponse(artifact_card(model), content_type=CARD_CONTENT_TYPE)
        response["Content-Disposition"] = f'inline; filename="{card_filename(model.artifacts or {})}"'
        return response
