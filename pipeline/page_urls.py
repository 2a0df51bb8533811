"""Pages of the project app: the notification inbox (job pages are routed from ``artifacts.urls``)."""

from django.urls import path

from pipeline import views

app_name = "pages"

urlpatterns = [
    path("notifications", views.notification_list, name="notifications"),
    path("notifications/read-all", views.notification_read_all, name="notifications-read-all"),
    path("notifications/<uuid:pk>/read", views.notification_read, name="notification-read"),
    path("notifications/<uuid:pk>/open", views.notification_open, name="notification-open"),
]
