import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")

app = Celery("meauxcloud")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Autodiscovery reads each app's top-level ``tasks`` module; packages inside an app are named here.
app.autodiscover_tasks(["tracking.rollups", "tracking.deletion", "tracking.projections"])
