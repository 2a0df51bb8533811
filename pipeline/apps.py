from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Training records"

    def ready(self) -> None:
        from pipeline.celery import ensure_broker_folders

        ensure_broker_folders()
