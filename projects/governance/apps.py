from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Quotas, the audit log and data deletion: the controls a tenant's compliance officer asks about."""

    name = "projects.governance"
    label = "governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from projects.governance import signals  # noqa: F401  (connects the audit receivers)
