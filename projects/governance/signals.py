"""Audit receivers for changes that have no single service to hook.

Memberships are edited through services and also directly in admin inlines, and dataset
retention only in admin forms; model signals see every path, so nothing goes unrecorded.
"""

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from projects.governance.audit import audit_record
from projects.governance.models import AuditAction
from projects.models import Membership
from tracking.models import Dataset


@receiver(post_save, sender=Membership, dispatch_uid="audit_membership_saved")
def _membership_saved(sender: type, instance: Membership, created: bool, **kwargs: Any) -> None:
    audit_record(
        project=instance.project,
        action=AuditAction.MEMBER_SET,
        target=instance.user.get_username(),
        details={"role": instance.role, "created": created},
    )


@receiver(post_delete, sender=Membership, dispatch_uid="audit_membership_deleted")
def _membership_deleted(sender: type, instance: Membership, **kwargs: Any) -> None:
    audit_record(
        project=instance.project,
        action=AuditAction.MEMBER_REMOVE,
        target=instance.user.get_username(),
        details={"role": instance.role},
    )


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
