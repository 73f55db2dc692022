"""Receivers for changes to datasets and projects that have no single service to hook.

Dataset retention is edited in admin forms, and a dataset or a project can be deleted from
an admin page, an admin bulk action, a queryset, a cascade or the shell: model signals see
every path, so each change is audited and each deletion runs the deletion job
(tracking/deletion/services.py), leaving no point or rollup row behind.
"""

from typing import Any

from django.core.signals import request_finished
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from projects.governance.audit import audit_record
from projects.governance.models import AuditAction
from projects.models import Project
from tracking.deletion.services import dataset_deletion_ensure, deletion_jobs_detach
from tracking.ingest import outage
from tracking.models import Dataset, Projection
from tracking.projections.db import projection_rows_delete
from tracking.sql.db import sql_sandbox_finish


@receiver(pre_save, sender=Dataset, dispatch_uid="audit_dataset_retention")
def _dataset_retention(sender: type, instance: Dataset, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    before = Dataset.objects.filter(pk=instance.pk).values_list("retention_days", flat=True).first()
    if before is not None and before != instance.retention_days:
        audit_record(
            project=instance.project,
            action=AuditAction.DATASET_RETENTION,
            target=instance.name,
            details={"from_days": before, "to_days": instance.retention_days},
        )


@receiver(post_save, sender=Dataset, dispatch_uid="ingest_dataset_saved")
def _dataset_saved(sender: type, instance: Dataset, created: bool, **kwargs: Any) -> None:
    """A changed retention or OTLP mapping applies at once in this process (others follow within LOCAL_TTL_SECONDS)."""
    if not created:
        outage.dataset_forget(dataset=instance)


@receiver(pre_delete, sender=Dataset, dispatch_uid="deletion_dataset_deleted")
def _dataset_deleted(sender: type, instance: Dataset, **kwargs: Any) -> None:
    dataset_deletion_ensure(dataset=instance)


@receiver(pre_delete, sender=Project, dispatch_uid="deletion_project_deleted")
def _project_deleted(sender: type, instance: Project, **kwargs: Any) -> None:
    """Runs after its datasets' receivers (Django deletes dependants first), so their new jobs are detached too."""
    deletion_jobs_detach(project=instance)


@receiver(post_delete, sender=Projection, dispatch_uid="projection_rows_deleted")
def _projection_deleted(sender: type, instance: Projection, **kwargs: Any) -> None:
    """A projection's rows go with it, whether it was dropped or its dataset was deleted."""
    projection_rows_delete(projection_id=instance.id)


@receiver(request_finished, dispatch_uid="sql_sandbox_finish")
def _sql_sandbox_finish(sender: type, **kwargs: Any) -> None:
    """Whatever response a request ended with, the statement a query of it left for later is sent
    (``sql_sandbox_run``'s ``then_later``); ``SqlHttpResponse`` sends it before this, and before Django's
    connection check."""
    sql_sandbox_finish()
