"""``/api/webhook-endpoints…`` (DESIGN §16): the signed-in user's own endpoints and deliveries only.

Someone else's endpoint or delivery answers 404, like a missing one. Views stay thin: the rules
live in ``events.services``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.serializers import (
    DeliveryQuerySerializer,
    DeliverySerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    ReplaySinceSerializer,
)
from events.models import Delivery, WebhookEndpoint
from events.services import endpoints, publish
from pipeline.lib.api.envelope import envelope, envelope_of, error_responses
from pipeline.lib.api.exceptions import ApiError
from pipeline.lib.api.pagination import EnvelopePagination, validated_query

NOT_FOUND = "Webhook endpoint not found"
DELIVERY_NOT_FOUND = "Delivery not found"
DISABLED = "The endpoint is disabled: enable it first"


def _uuid(value: str, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise exceptions.NotFound(message) from None


def endpoint_of(request: Request, pk: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.visible_to(request.user).filter(pk=_uuid(pk, NOT_FOUND)).first()
    if endpoint is None:
        raise exceptions.NotFound(NOT_FOUND)
    return endpoint


# Every error these operations can answer, hostile bodies included (the envelope's statuses).
READ_ERRORS = error_responses(400, 401, 404, 429)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 415, 429)
ENDPOINT_ENVELOPE = envelope_of(EndpointSerializer(), "WebhookEndpointEnvelope")
ENDPOINT_LIST = envelope_of(
    inline_serializer("WebhookEndpoints", {"endpoints": EndpointSerializer(many=True)}), "WebhookEndpointList"
)


def _service_errors(exc: DjangoValidationError) -> ApiError:
    return ApiError(" ".join(exc.messages), {"non_field_errors": exc.messages})


class EndpointListView(APIView):
    @extend_schema(
        summary="Your webhook endpoints",
        operation_id="webhook_endpoints_list",
        responses={200: ENDPOINT_LIST, **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = WebhookEndpoint.objects.visible_to(request.user)
        return envelope({"endpoints": EndpointSerializer(rows, many=True).data})

    @extend_schema(
        summary="Create a webhook endpoint (the answer holds its secret, shown only this once)",
        request=EndpointSerializer,
        responses={
            201: envelope_of(EndpointWithSecretSerializer(), "WebhookEndpointCreated"),
            **WRITE_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = EndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = endpoints.create_endpoint(request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return envelope(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    @extend_schema(
        summary="One of your webhook endpoints",
        responses={200: ENDPOINT_ENVELOPE, **READ_ERRORS},
    )
    def get(self, request: Request, pk: str) -> Response:
        return envelope(EndpointSerializer(endpoint_of(request, pk)).data)

    @extend_schema(
        summary="Change url, events, description or enabled",
        request=EndpointSerializer,
        responses={
            200: ENDPOINT_ENVELOPE,
            **WRITE_ERRORS,
        },
    )
    def patch(self, request: Request, pk: str) -> Response:
        endpoint = endpoint_of(request, pk)
        serializer = EndpointSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoints.update_endpoint(endpoint, **serializer.validated_data)
        return envelope(EndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Delete a webhook endpoint and its delivery log",
        responses={204: None, **WRITE_ERRORS},
    )
    def delete(self, request: Request, pk: str) -> Response:
        endpoint_of(request, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(APIView):
    @extend_schema(
        summary="New secret; the old one keeps signing beside it for 24 hours",
        request=None,
        responses={
            200: envelope_of(EndpointWithSecretSerializer(), "WebhookEndpointRotated"),
            **WRITE_ERRORS,
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        endpoint = endpoints.rotate_secret(endpoint_of(request, pk))
        return envelope(EndpointWithSecretSerializer(endpoint).data)


class PingView(APIView):
    @extend_schema(
        summary="Send a ping event to this endpoint now",
        request=None,
        responses={202: envelope_of(DeliverySerializer(), "WebhookPing"), **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: str) -> Response:
        endpoint = endpoint_of(request, pk)
        if not endpoint.enabled:
            raise ApiError(DISABLED)
        delivery = publish.ping(endpoint)
        shown = _deliveries(request.user).get(pk=delivery.pk)
        return envelope(DeliverySerializer(shown).data, status=status.HTTP_202_ACCEPTED)


def _deliveries(user: Any) -> QuerySet[Delivery]:
    return Delivery.objects.visible_to(user).select_related("event").prefetch_related("attempt_log")


class DeliveryPagination(EnvelopePagination):
    results_key = "deliveries"


@extend_schema(
    summary="The delivery log of one endpoint, newest first, with every attempt",
    parameters=[DeliveryQuerySerializer],
    responses={200: DeliverySerializer(many=True), **READ_ERRORS},
)
class DeliveryListView(generics.ListAPIView):
    serializer_class = DeliverySerializer
    pagination_class = DeliveryPagination

    def get_queryset(self) -> QuerySet[Delivery]:
        endpoint = endpoint_of(self.request, self.kwargs["pk"])
        params = validated_query(DeliveryQuerySerializer, self.request)
        rows = _deliveries(self.request.user).filter(endpoint=endpoint)
        return rows.filter(state=params["state"]) if params.get("state") else rows


class ReplayDeliveryView(APIView):
    @extend_schema(
        summary="Send one delivery again now, with the same webhook-id",
        request=None,
        responses={202: envelope_of(DeliverySerializer(), "WebhookReplay"), **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: str, delivery_pk: str) -> Response:
        endpoint = endpoint_of(request, pk)
        rows = Delivery.objects.visible_to(request.user).filter(pk=_uuid(delivery_pk, DELIVERY_NOT_FOUND))
        if not rows.filter(endpoint=endpoint).exists():
            raise exceptions.NotFound(DELIVERY_NOT_FOUND)
        _replay(endpoint, rows)
        shown = _deliveries(request.user).filter(pk__in=rows.values("pk")).first()
        if shown is None:  # deleted meanwhile (the endpoint, or the retention's prune)
            raise exceptions.NotFound(DELIVERY_NOT_FOUND)
        return envelope(DeliverySerializer(shown).data, status=status.HTTP_202_ACCEPTED)


class ReplayFailedView(APIView):
    @extend_schema(
        summary="Send every failed delivery since a time again now",
        request=ReplaySinceSerializer,
        responses={
            202: envelope_of(
                inline_serializer(
                    "WebhookReplayed",
                    {
                        "replayed": serializers.IntegerField(),
                        "delivery_ids": serializers.ListField(child=serializers.UUIDField()),
                    },
                ),
                "WebhookReplayFailed",
            ),
            **WRITE_ERRORS,
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        endpoint = endpoint_of(request, pk)
        serializer = ReplaySinceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = _replay(endpoint, endpoints.failed_since(endpoint, serializer.validated_data["since"]))
        return envelope({"replayed": len(ids), "delivery_ids": ids}, status=status.HTTP_202_ACCEPTED)


def _replay(endpoint: WebhookEndpoint, deliveries: Any) -> list[str]:
    from events import tasks  # views queue work; services never do

    try:
        ids = endpoints.replay(endpoint, deliveries)
    except endpoints.EndpointDisabled:
        raise ApiError(DISABLED) from None
    tasks.queue_after_commit(ids)
    return ids
