from django.apps import AppConfig


class ArtifactsConfig(AppConfig):
    name = "artifacts"
    verbose_name = "Model artifacts"

    def ready(self) -> None:
        from artifacts import signals  # noqa: F401  (connects the completion trigger and, via tasks, the queue)
