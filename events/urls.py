"""``/webhooks`` pages."""

from django.urls import path

from events import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks", views.endpoint_list, name="list"),
    path("webhooks/<uuid:pk>", views.endpoint_detail, name="detail"),
    path("webhooks/<uuid:pk>/rotate-secret", views.rotate_secret, name="rotate"),
    path("webhooks/<uuid:pk>/ping", views.ping, name="ping"),
    path("webhooks/<uuid:pk>/delete", views.delete, name="delete"),
    path("webhooks/<uuid:pk>/replay", views.replay_failed, name="replay-failed"),
    path("webhooks/<uuid:pk>/deliveries/<uuid:delivery_pk>/replay", views.replay_delivery, name="replay"),
]
