from django.apps import AppConfig


class ArtifactsConfig(AppConfig):
    name = "artifacts"
    verbose_name = "Model artifacts"

    def ready(self) -> None:
        from artifacts import signals  # noqa: F401  (removes stored files when the admin cascades a delete)
