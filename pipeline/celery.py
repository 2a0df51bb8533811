"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipeline.settings")

app = Celery("pipeline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders before the first message is written or read."""
    from django.conf import settings

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = options.get(key)
        if folder:
            Path(str(folder)).mkdir(parents=True, exist_ok=True)
    backend = settings.CELERY_RESULT_BACKEND
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


@worker_init.connect
def _prepare_worker(**_kwargs: object) -> None:
    ensure_broker_folders()


@app.task(name="pipeline.ping", ignore_result=False)
def ping() -> str:
    """Round-trip probe used by tests and ``/status``."""
    return "pong"
