"""The one reader of environment variables, which remembers every name it was asked for.

settings.py and ``make run`` (meauxcloud.devstack) read the environment only through
``env``, so the set of names it recorded is the product's configuration surface; a test
compares it with README's configuration table, and a setting cannot go undocumented.
"""

from pathlib import Path
from typing import Any

import environ

ROOT = Path(__file__).resolve().parent.parent


class RecordingEnv(environ.Env):
    """django-environ's reader; each variable it reads is added to ``names``."""

    def __init__(self, **scheme: Any) -> None:
        super().__init__(**scheme)
        self.names: set[str] = set()

    def get_value(self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False) -> Any:
        self.names.add(var)
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


env = RecordingEnv()


def read_env_file() -> None:
    """Load ``ENV_FILE`` (default: .env at the root) into os.environ; variables already set win."""
    environ.Env.read_env(env.str("ENV_FILE", default=str(ROOT / ".env")), overwrite=False)
