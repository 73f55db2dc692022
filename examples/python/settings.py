"""Where the examples write and read: environment variables, else what `make run` printed.

MEAUXCLOUD_URL (default http://127.0.0.1:8000), MEAUXCLOUD_PROJECT, MEAUXCLOUD_WRITE_KEY and
MEAUXCLOUD_READ_KEY; without them, the demo project of `make run` (var/credentials.json).
"""

import json
import os
from pathlib import Path

CREDENTIALS = Path(__file__).resolve().parents[2] / "var" / "credentials.json"
DATASET = "meauxcloud_analytics"


def _saved() -> dict[str, str]:
    return json.loads(CREDENTIALS.read_text()) if CREDENTIALS.exists() else {}


URL = os.environ.get("MEAUXCLOUD_URL", "http://127.0.0.1:8000")
PROJECT = os.environ.get("MEAUXCLOUD_PROJECT") or _saved().get("project", "demo")
WRITE_KEY = os.environ.get("MEAUXCLOUD_WRITE_KEY") or _saved().get("write_key", "")
READ_KEY = os.environ.get("MEAUXCLOUD_READ_KEY") or _saved().get("read_key", "")
