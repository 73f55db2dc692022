"""Seed "Main Worker with Analytics Middleware", in Python: a Starlette (or FastAPI) app
with every request tracked. Serve it, then request a page:

    .venv/bin/python examples/python/app_starlette.py      # PORT=8788 by default
    curl localhost:8788/

Points are flushed every second and when the server stops.
"""

import os

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from meauxcloud_client import ASGIMiddleware, Dataset

from settings import DATASET, URL, WRITE_KEY


async def home(request):
    return PlainTextResponse("MeauxCLOUD")


app = Starlette(routes=[Route("/", home)])
app.add_middleware(ASGIMiddleware, dataset=Dataset(URL, WRITE_KEY, DATASET), environment=os.environ.get("ENVIRONMENT", "production"))

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8788")), log_level="warning")
