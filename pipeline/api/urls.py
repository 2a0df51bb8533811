"""``/api/notifications…`` routes (no trailing slash needed; one is accepted too, and
``(?:/)?`` keeps it out of the OpenAPI paths)."""

from django.urls import re_path

from pipeline.api import views

urlpatterns = [
    re_path(r"^notifications(?:/)?$", views.NotificationListView.as_view(), name="api-notification-list"),
    re_path(
        r"^notifications/unread-count(?:/)?$", views.UnreadCountView.as_view(), name="api-notification-unread-count"
    ),
    re_path(r"^notifications/read-all(?:/)?$", views.MarkAllReadView.as_view(), name="api-notification-read-all"),
    re_path(r"^notifications/(?P<pk>[^/]+)/read(?:/)?$", views.MarkReadView.as_view(), name="api-notification-read"),
]
