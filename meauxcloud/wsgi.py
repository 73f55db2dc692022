"""The WSGI application gunicorn serves, with the garbage collector tuned for ingest (meauxcloud/collector.py)."""

import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from meauxcloud.collector import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")
application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # every view now, not in the first request, and before the freeze
collector_tune()
