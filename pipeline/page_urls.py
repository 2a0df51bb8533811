"""Pages of the pipeline app: training jobs and the notification inbox."""

from django.urls import path

from pipeline import views

app_name = "pages"

urlpatterns = [
    path("training/jobs", views.job_list, name="job-list"),
    path("training/jobs/<uuid:pk>", views.job_detail, name="job-detail"),
    path("training/jobs/<uuid:pk>/retry", views.job_retry_ingest, name="job-retry"),
    path("notifications", views.notification_list, name="notifications"),
    path("notifications/read-all", views.notification_read_all, name="notifications-read-all"),
    path("notifications/<uuid:pk>/read", views.notification_read, name="notification-read"),
    path("notifications/<uuid:pk>/open", views.notification_open, name="notification-open"),
]
