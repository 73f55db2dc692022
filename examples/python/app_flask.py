"""The same as app_starlette.py for Flask (any WSGI app):

    .venv/bin/python examples/python/app_flask.py          # PORT=8789 by default
    curl localhost:8789/

For Django, add "meauxcloud_client.django.AnalyticsMiddleware" first in MIDDLEWARE and set
MEAUXCLOUD_ANALYTICS = {"URL": ..., "KEY": ..., "DATASET": "meauxcloud_analytics"}.
"""

import os

from flask import Flask

from meauxcloud_client import Dataset, WSGIMiddleware

from settings import DATASET, URL, WRITE_KEY

app = Flask(__name__)


@app.get("/")
def home() -> str:
    return "MeauxCLOUD"


app.wsgi_app = WSGIMiddleware(app.wsgi_app, Dataset(URL, WRITE_KEY, DATASET), environment=os.environ.get("ENVIRONMENT", "production"))

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8789")))
