"""Notifications API: the signed-in user's own notifications only (``Notification.objects.for_user``).

Someone else's notification answers 404, like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pipeline.api.serializers import NotificationSerializer
from pipeline.lib.api.envelope import envelope, envelope_of, error_responses
from pipeline.lib.api.pagination import EnvelopePagination
from pipeline.models import Notification

NOT_FOUND = "Notification not found"


def mark_read(user: Any, pk: str) -> Notification:
    try:
        notification_id = uuid.UUID(str(pk))
    except ValueError:
        raise exceptions.NotFound(NOT_FOUND) from None
    notification = Notification.objects.for_user(user).filter(pk=notification_id).first()
    if notification is None:
        raise exceptions.NotFound(NOT_FOUND)
    if Notification.objects.filter(pk=notification.pk).mark_read():
        notification.refresh_from_db(fields=["read_at"])
    return notification


class NotificationPagination(EnvelopePagination):
    results_key = "notifications"


@extend_schema(
    summary="Your notifications, unread first",
    responses={200: NotificationSerializer(many=True), **error_responses(400, 401, 429)},
)
class NotificationListView(generics.ListAPIView):
    """Unread first, then newest; paginated like the models list."""

    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination

    def get_queryset(self) -> QuerySet[Notification]:
        return Notification.objects.for_user(self.request.user).inbox()


@extend_schema(
    summary="How many of your notifications are unread",
    responses={
        200: envelope_of(
            inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}), "UnreadCountEnvelope"
        ),
        **error_responses(401, 429),
    },
)
class UnreadCountView(APIView):
    """The number behind the bell."""

    def get(self, request: Request) -> Response:
        return envelope({"unread": Notification.objects.for_user(request.user).unread().count()})


@extend_schema(
    summary="Mark one of your notifications read",
    request=None,
    parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    responses={
        200: envelope_of(NotificationSerializer(), "NotificationEnvelope"),
        **error_responses(401, 403, 404, 429),
    },
)
class MarkReadView(APIView):
    """Idempotent: marking a read notification again keeps its first `read_at`."""

    def post(self, request: Request, pk: str) -> Response:
        return envelope(NotificationSerializer(mark_read(request.user, pk)).data)


@extend_schema(
    summary="Mark all your notifications read",
    request=None,
    responses={
        200: envelope_of(
            inline_serializer("MarkAllRead", {"marked_read": serializers.IntegerField()}), "MarkAllReadEnvelope"
        ),
        **error_responses(401, 403, 429),
    },
)
class MarkAllReadView(APIView):
    """Returns how many were unread."""

    def post(self, request: Request) -> Response:
        updated = Notification.objects.for_user(request.user).mark_read()
        return envelope({"marked_read": updated})
