from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "tracking.alerts"
    label = "alerts"
    verbose_name = "Budgets and alerts"

    def ready(self) -> None:
        from tracking.alerts import checks  # noqa: F401  (registers system checks)
