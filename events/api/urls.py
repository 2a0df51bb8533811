"""``/api/webhook-endpoints…`` routes (a trailing slash is accepted too)."""

from django.urls import re_path

from events.api import views

urlpatterns = [
    re_path(r"^webhook-endpoints(?:/)?$", views.EndpointListView.as_view(), name="api-webhook-endpoint-list"),
    re_path(
        r"^webhook-endpoints/(?P<pk>[^/]+)(?:/)?$", views.EndpointDetailView.as_view(), name="api-webhook-endpoint"
    ),
    re_path(
        r"^webhook-endpoints/(?P<pk>[^/]+)/rotate-secret(?:/)?$",
        views.RotateSecretView.as_view(),
        name="api-webhook-endpoint-rotate",
    ),
    re_path(
        r"^webhook-endpoints/(?P<pk>[^/]+)/ping(?:/)?$", views.PingView.as_view(), name="api-webhook-endpoint-ping"
    ),
    re_path(
        r"^webhook-endpoints/(?P<pk>[^/]+)/deliveries(?:/)?$",
        views.DeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    re_path(
        r"^webhook-endpoints/(?P<pk>[^/]+)/deliveries/(?P<delivery_pk>[^/]+)/replay(?:/)?$",
        views.ReplayDeliveryView.as_view(),
        name="api-webhook-delivery-replay",
    ),
    re_path(
        r"^webhook-endpoints/(?P<pk>[^/]+)/replay(?:/)?$", views.ReplayFailedView.as_view(), name="api-webhook-replay"
    ),
]
