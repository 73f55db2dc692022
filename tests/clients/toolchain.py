"""Node, npm and workerd for the tests that run JavaScript for real.

workerd, esbuild and hono come from npm at the versions pinned in
``examples/workers/package-lock.json``; ``npm ci`` runs once when they are missing.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKERS_EXAMPLE = ROOT / "examples" / "workers"
NODE_BIN = WORKERS_EXAMPLE / "node_modules" / ".bin"


def node_missing() -> str | None:
    """Why JavaScript tests cannot run here, or None when node and npm are installed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; the JavaScript and workerd tests need Node.js 18+ and npm"
    return None


def npm_toolchain() -> Path:
    """The directory holding the workerd and esbuild executables, installing them if needed."""
    if not (NODE_BIN / "workerd").exists() or not (NODE_BIN / "esbuild").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=WORKERS_EXAMPLE, check=True, capture_output=True, timeout=600
        )
    return NODE_BIN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def workerd_serving(config: Path, *, port: int, log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """``workerd serve --experimental`` on 127.0.0.1:port until the block ends."""
    command = [str(npm_toolchain() / "workerd"), "serve", "--experimental", str(config), f"--socket-addr=http=127.0.0.1:{port}"]
    process = subprocess.Popen(
        command,
        cwd=config.parent,
        env={**os.environ, **(env or {})},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"workerd did not start: {log.read_text()}")
            time.sleep(0.1)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
