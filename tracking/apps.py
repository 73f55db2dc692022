from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from tracking import checks, signals  # noqa: F401  (registers system checks and the dataset receivers)
