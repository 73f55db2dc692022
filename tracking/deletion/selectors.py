from projects.governance.models import DeletionJob
from projects.models import Project


def deletion_job_get(*, project: Project, job_id: int) -> DeletionJob | None:
    """Only the project's own jobs; a job of a deleted project belongs to nobody's API."""
    return DeletionJob.objects.filter(project=project, pk=job_id).first()
