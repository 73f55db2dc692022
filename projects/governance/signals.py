"""Audit receivers for changes that have no single service to hook.

Memberships are edited through services and also directly in admin inlines; model signals
see every path, so nothing goes unrecorded. (Dataset changes are audited by tracking/signals.py.)
"""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from projects.governance.audit import audit_record
from projects.governance.models import AuditAction
from projects.models import Membership


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

