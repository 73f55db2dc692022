"""docs/alerts.md's receiver works as written: it accepts our signed deliveries once per id and refuses bad ones."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import orjson

from tests.clients.toolchain import free_port
from tests.support.processes import ROOT
from tracking.alerts.delivery import webhook_send

PORT = free_port()


def test_the_documented_python_receiver_verifies_signatures_and_drops_repeats(tmp_path, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    doc = (ROOT / "docs" / "alerts.md").read_text()
    code = re.search(r"```python\n(import hashlib.*?)```", doc, re.S).group(1)
    script = tmp_path / "receiver.py"
    script.write_text(code.replace("b\"<the channel's secret>\"", 'b"s3cret"').replace('("", 8080)', f'("127.0.0.1", {PORT})'))
    receiver = subprocess.Popen([sys.executable, "-u", str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = f"http://127.0.0.1:{PORT}/"
        body = orjson.dumps({"type": "channel.test", "id": "d-1", "text": "hello from the docs test"})
        for _ in range(50):
            outcome = webhook_send(url=url, secret="s3cret", body=body, delivery_id="d-1")
            if outcome.status_code:
                break
            time.sleep(0.1)
        again = webhook_send(url=url, secret="s3cret", body=body, delivery_id="d-1")
        forged = webhook_send(url=url, secret="guess", body=body, delivery_id="d-1")
    finally:
        receiver.terminate()
        output, _ = receiver.communicate(timeout=10)

    assert (outcome.status_code, again.status_code, forged.status_code) == (200, 200, 401)
    assert output.splitlines() == ["hello from the docs test"]
