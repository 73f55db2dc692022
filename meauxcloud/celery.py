import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from meauxcloud.collector import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")

app = Celery("meauxcloud")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Autodiscovery reads each app's top-level ``tasks`` module; packages inside an app are named here.
app.autodiscover_tasks(["tracking.rollups", "tracking.deletion", "tracking.projections"])


@worker_process_init.connect
def _collector_tune(**kwargs: Any) -> None:
    """Each pool process, once the tasks are imported: the drain's groups are thousands of objects."""
    collector_tune()
