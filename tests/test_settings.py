"""The settings module refuses to start half-configured outside DEBUG."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _start(env_overrides: dict[str, str], drop: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_overrides)
    code = "import django; django.setup(); print('started')"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "meauxcloud.settings", "ENV_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_start_fails_fast_naming_the_missing_variable(missing):
    env = {"DEBUG": "0", "SECRET_KEY": "s" * 50, "DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h/0"}
    del env[missing]
    result = _start(env, drop=(missing,))

    assert result.returncode == 1
    assert f"ImproperlyConfigured: {missing} is not set." in result.stderr


def test_debug_start_defaults_the_secret_key_only():
    result = _start(
        {"DEBUG": "1", "DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h/0"}, drop=("SECRET_KEY",)
    )

    assert result.stdout.strip() == "started"
