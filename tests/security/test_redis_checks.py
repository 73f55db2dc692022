"""Start-up checks refuse an ingest Redis that could evict or forget accepted points.

Each case runs its own redis-server on a free port with the configuration under test;
the machine's shared Redis is never reconfigured.
"""

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from meauxcloud.redis import redis_client
from tests.faults.stack import free_port, wait_until
from tracking.checks import check_buffer_redis
from tracking.ingest import buffer

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs Debian's redis-server")


@pytest.fixture
def private_redis(settings, tmp_path) -> Iterator:
    processes: list[subprocess.Popen] = []
    shared_url = settings.REDIS_URL

    def start(*options: str) -> None:
        port = free_port()
        processes.append(
            subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), *options],
                stdout=subprocess.DEVNULL,
            )
        )
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        settings.TRACKING_CHECK_REDIS = True
        _forget_clients()
        assert wait_until(lambda: redis_client().ping(), timeout=10)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
    settings.REDIS_URL = shared_url  # the suite's stream cleanup runs after this fixture
    _forget_clients()


def _forget_clients() -> None:
    redis_client.cache_clear()
    buffer.waitaof_supported.cache_clear()
    buffer._append_script.cache_clear()


def _ids() -> list[str]:
    return [message.id for message in check_buffer_redis()]


def test_persistent_noeviction_redis_passes(private_redis):
    private_redis("--appendonly", "yes", "--maxmemory-policy", "noeviction")

    assert _ids() == []


def test_evicting_redis_is_an_error(private_redis):
    private_redis("--appendonly", "yes", "--maxmemory-policy", "allkeys-lru")

    assert _ids() == ["tracking.E001"]


def test_redis_that_persists_nothing_is_an_error(private_redis):
    private_redis("--appendonly", "no", "--save", "", "--maxmemory-policy", "noeviction")

    assert _ids() == ["tracking.E002"]


def test_rdb_snapshots_alone_count_as_persistence(private_redis):
    private_redis("--appendonly", "no", "--save", "60 1", "--maxmemory-policy", "noeviction")

    assert _ids() == []


def test_strict_durability_without_waitaof_needs_appendfsync_always(private_redis, settings):
    settings.TRACKING_STRICT_DURABILITY = True
    private_redis("--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")

    assert buffer.waitaof_supported() is False  # Debian 12 ships Redis 7.0
    assert _ids() == ["tracking.E003"]


def test_strict_durability_with_appendfsync_always_passes_and_ingest_works(private_redis, settings, client, write_key):
    from tests.tracking.helpers import post_points

    settings.TRACKING_STRICT_DURABILITY = True
    private_redis("--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction")

    response = post_points(client, write_key, "events", [{"blobs": ["a"]}])

    assert _ids() == []
    assert response.status_code == 202


def test_unreachable_redis_is_a_warning_not_a_crash(settings):
    shared_url = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.TRACKING_CHECK_REDIS = True
    _forget_clients()
    try:
        assert _ids() == ["tracking.W001"]
    finally:
        settings.REDIS_URL = shared_url
        _forget_clients()
