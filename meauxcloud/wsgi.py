"""The WSGI application gunicorn serves, with the garbage collector tuned for ingest.

A 250-point batch allocates about a thousand container objects (decoded points, their
lists) that live until the response, so with CPython's default gen-0 threshold of 700
nearly every ingest request started a collection, and the older generations it cascaded
into held every object Django and the apps created at startup: about a third of the web's
CPU under ``python -m bench.ingest`` load (timed with ``gc.callbacks``). Startup objects,
the URLconf and the views it imports included, are frozen out of collection, and a
collection waits for 20,000 net new container objects.
Nothing leaks by this: objects are freed by reference counting, and the collector, which
only finds reference cycles, still runs, less often.
"""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

GC_THRESHOLDS = (20_000, 20, 20)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")
application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # every view now, not in the first request, and before the freeze
gc.freeze()
gc.set_threshold(*GC_THRESHOLDS)
