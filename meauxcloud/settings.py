"""One settings module for every environment, driven by environment variables.

Secrets are never defaulted outside DEBUG: a production process without SECRET_KEY,
DATABASE_URL or REDIS_URL refuses to start instead of running half-configured.
"""

import os
from pathlib import Path
from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured

from meauxcloud.environment import env, read_env_file

BASE_DIR = Path(__file__).resolve().parent.parent

read_env_file()

DEBUG = env.bool("DEBUG", default=False)


def _required(name: str, *, debug_default: str | None = None) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG and debug_default is not None:
        return debug_default
    raise ImproperlyConfigured(
        f"{name} is not set. Use `make run` (it starts embedded services) or export {name}."
    )


SECRET_KEY = _required("SECRET_KEY", debug_default="dev-insecure-secret-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "projects",
    "tracking",
    "tracking.alerts",
    "projects.governance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "projects.governance.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "meauxcloud.urls"
WSGI_APPLICATION = "meauxcloud.wsgi.application"
ASGI_APPLICATION = "meauxcloud.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url_config(_required("DATABASE_URL"))}
# A Unix-socket directory comes percent-encoded in the URL's host (postgres://u@%2Fvar%2Frun/db).
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ENGINE"] = "meauxcloud.postgres"
DATABASES["default"]["HEALTH_CHECK_IDLE_SECONDS"] = env.float("DB_HEALTH_CHECK_IDLE_SECONDS", default=1.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = _required("REDIS_URL")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "meauxcloud:cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/projects/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "meauxcloud.api.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MeauxCLOUD Analytics API",
    "DESCRIPTION": "Analytics Engine compatible ingest, SQL and reports on your own PostgreSQL.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # index1 and blob1..blob20: what a deletion filters on and what a projection groups by; one name for both.
    "ENUM_NAME_OVERRIDES": {"BlobOrIndexColumnEnum": "tracking.models.PROJECTION_DIMENSIONS"},
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

TRACKING_STREAM_KEY = env.str("TRACKING_STREAM_KEY", default="meauxcloud:ingest")
TRACKING_CONSUMER_GROUP = env.str("TRACKING_CONSUMER_GROUP", default="writers")
# Drain kicks go to this Celery queue; empty means the default queue.
TRACKING_DRAIN_QUEUE = env.str("TRACKING_DRAIN_QUEUE", default="") or None
TRACKING_DRAIN_TIME_BUDGET_SECONDS = env.float("TRACKING_DRAIN_TIME_BUDGET_SECONDS", default=20.0)
TRACKING_DRAIN_STATISTICS_SECONDS = env.float("TRACKING_DRAIN_STATISTICS_SECONDS", default=5.0)
TRACKING_DRAIN_ANALYZE_FRACTION = env.float("TRACKING_DRAIN_ANALYZE_FRACTION", default=1.0)
TRACKING_FUTURE_TOLERANCE_SECONDS = env.int("TRACKING_FUTURE_TOLERANCE_SECONDS", default=86_400)
TRACKING_RETENTION_DELETE_BATCH = env.int("TRACKING_RETENTION_DELETE_BATCH", default=10_000)
TRACKING_BUFFER_HIGH_WATER = env.int("TRACKING_BUFFER_HIGH_WATER", default=50_000)
TRACKING_MAX_POINTS_PER_REQUEST = env.int("TRACKING_MAX_POINTS_PER_REQUEST", default=10_000)
TRACKING_MAX_BODY_BYTES = env.int("TRACKING_MAX_BODY_BYTES", default=5 * 1024 * 1024)
TRACKING_DEDUP_WINDOW_SECONDS = env.int("TRACKING_DEDUP_WINDOW_SECONDS", default=86_400)
TRACKING_DRAIN_BATCH_POINTS = env.int("TRACKING_DRAIN_BATCH_POINTS", default=20_000)
# Tomorrow's partition for points stamped up to TRACKING_FUTURE_TOLERANCE_SECONDS ahead, and a day of slack for beat's
# hourly run (tracking.checks.check_partitions_ahead). No more: a raw scan of a NOW() window has no upper bound,
# so PostgreSQL plans every partition from its time floor on, and the empty ones ahead cost it about as much as
# the query's own work (docs/benchmarks.md, "Partitions ahead").
TRACKING_PARTITION_DAYS_AHEAD = env.int("TRACKING_PARTITION_DAYS_AHEAD", default=2)
TRACKING_ANALYZE_MIN_CHANGES = env.int("TRACKING_ANALYZE_MIN_CHANGES", default=1_000)
TRACKING_ANALYZE_FRACTION = env.float("TRACKING_ANALYZE_FRACTION", default=0.1)
TRACKING_PARENT_ANALYZE_FRACTION = env.float("TRACKING_PARENT_ANALYZE_FRACTION", default=1.0)
TRACKING_ANALYZE_MAX_TABLES = env.int("TRACKING_ANALYZE_MAX_TABLES", default=4)

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Behind a reverse proxy (meauxcloud/proxy.py): only then are X-Forwarded-Proto and -For believed.
TRUSTED_PROXY = env.bool("TRUSTED_PROXY", default=False)
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Production hardening (docs/security.md). HSTS is only ever sent on HTTPS responses. The
# redirect is opt-in because TLS usually ends at a proxy that redirects by itself.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
AUTHENTICATION_BACKENDS = ["projects.governance.auth.RateLimitedModelBackend"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

CELERY_BEAT_SCHEDULE = {
    "drain-buffer": {"task": "tracking.drain_buffer", "schedule": 1.0, "options": {"expires": 5}},
    "worker-heartbeat": {"task": "tracking.heartbeat", "schedule": 10.0, "options": {"expires": 10}},
    "maintain-partitions": {"task": "tracking.maintain_partitions", "schedule": 3600.0},
    "apply-retention": {"task": "tracking.apply_retention", "schedule": 3600.0},
    # Hourly, next to retention: minute rollups past 3 days, hour/day rollups past retention.
    "prune-rollups": {"task": "tracking.prune_rollups", "schedule": 3600.0},
    # The hour, day and week rollup tiers get the finished minutes of the minute tier (docs/reports.md).
    "advance-rollups": {"task": "tracking.advance_rollups", "schedule": 30.0, "options": {"expires": 30}},
    "backfill-projections": {"task": "tracking.projections_backfill", "schedule": 60.0, "options": {"expires": 60}},
    "compact-projections": {"task": "tracking.projections_compact", "schedule": 600.0, "options": {"expires": 600}},
    # After a burst, once no drain has committed for 20 s: everything noted, however recent (minutes, not hours).
    "compact-projections-idle": {"task": "tracking.projections_compact_idle", "schedule": 60.0, "options": {"expires": 60}},
    # Each ready projection's rows per bucket, about hourly (``MEASURE_EVERY``): the SQL planner's cut sizes.
    "measure-projections": {"task": "tracking.projections_measure", "schedule": 600.0, "options": {"expires": 600}},
    "refresh-storage": {"task": "tracking.refresh_storage", "schedule": 600.0, "options": {"expires": 600}},
    "refresh-statistics": {"task": "tracking.refresh_statistics", "schedule": 60.0, "options": {"expires": 60}},
    "resume-deletions": {"task": "tracking.deletion_resume", "schedule": 60.0, "options": {"expires": 60}},
}

# ---- BUDGETS AND ALERTS (docs/alerts.md) ----
ALERTS_EVALUATION_SECONDS = env.float("ALERTS_EVALUATION_SECONDS", default=60.0)
ALERTS_DELIVERY_TIMEOUT_SECONDS = env.float("ALERTS_DELIVERY_TIMEOUT_SECONDS", default=10.0)
ALERTS_DELIVERY_RETRY_SECONDS = env.float("ALERTS_DELIVERY_RETRY_SECONDS", default=30.0)
ALERTS_DELIVERY_GIVE_UP_SECONDS = env.int("ALERTS_DELIVERY_GIVE_UP_SECONDS", default=86_400)
ALERTS_ALLOW_PRIVATE_URLS = env.bool("ALERTS_ALLOW_PRIVATE_URLS", default=False)
# Django's mail backend in django-environ's URL form (smtp://user:pw@host:587, smtp+tls://…,
# consolemail://); the console backend prints mails when unset.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="alerts@meauxcloud.localhost")
EMAIL_TIMEOUT = ALERTS_DELIVERY_TIMEOUT_SECONDS
CELERY_BEAT_SCHEDULE |= {
    "alerts-evaluate": {"task": "alerts.evaluate", "schedule": ALERTS_EVALUATION_SECONDS, "options": {"expires": ALERTS_EVALUATION_SECONDS}},
    "alerts-deliver": {"task": "alerts.deliver", "schedule": 10.0, "options": {"expires": 10}},
}
TRACKING_CHECK_REDIS = env.bool("TRACKING_CHECK_REDIS", default=True)
TRACKING_CLAIM_IDLE_MS = env.int("TRACKING_CLAIM_IDLE_MS", default=30_000)
SQL_STATEMENT_TIMEOUT_MS = env.int("SQL_STATEMENT_TIMEOUT_MS", default=10_000)
SQL_WORK_MEM = env.str("SQL_WORK_MEM", default="32MB")
SQL_MAX_ROWS = env.int("SQL_MAX_ROWS", default=100_000)
SQL_MAX_RESULT_BYTES = env.int("SQL_MAX_RESULT_BYTES", default=64 * 1024 * 1024)
SQL_MAX_AGGREGATE_BYTES = env.int("SQL_MAX_AGGREGATE_BYTES", default=64 * 1024 * 1024)
# One heavy statement per core, one core always left to ingest, drains and /healthz: four
# self-joins on this 2-core machine made /healthz wait 136 ms (docs/reliability.md). Each
# statement runs on one core (no parallel workers, tracking.sql.db). The web host's cores
# stand in for the database's, as in make run; set it when PostgreSQL has a machine of its own.
SQL_MAX_CONCURRENT = env.int("SQL_MAX_CONCURRENT", default=max(1, (os.cpu_count() or 2) - 1))
SQL_PROCESS_CONCURRENCY = env.int("SQL_PROCESS_CONCURRENCY", default=2)
TRACKING_STRICT_DURABILITY = env.bool("TRACKING_STRICT_DURABILITY", default=False)
TRACKING_STRICT_DURABILITY_TIMEOUT_MS = env.int("TRACKING_STRICT_DURABILITY_TIMEOUT_MS", default=1_000)
GOVERNANCE_QUOTA_CACHE_SECONDS = env.float("GOVERNANCE_QUOTA_CACHE_SECONDS", default=5.0)
GOVERNANCE_LOGIN_MAX_FAILURES = env.int("GOVERNANCE_LOGIN_MAX_FAILURES", default=5)
GOVERNANCE_LOGIN_WINDOW_SECONDS = env.int("GOVERNANCE_LOGIN_WINDOW_SECONDS", default=900)
GOVERNANCE_AUDIT_SQL_MAX_CHARS = env.int("GOVERNANCE_AUDIT_SQL_MAX_CHARS", default=10_000)
GOVERNANCE_DEFAULT_CONCURRENT_QUERIES = env.int("GOVERNANCE_DEFAULT_CONCURRENT_QUERIES", default=2)
GOVERNANCE_DELETION_BATCH_ROWS = env.int("GOVERNANCE_DELETION_BATCH_ROWS", default=5_000)
GOVERNANCE_DELETION_BATCHES_PER_RUN = env.int("GOVERNANCE_DELETION_BATCHES_PER_RUN", default=40)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")

# ---- REPORTS ----
# Swagger UI and Redoc for /api/docs/ are served from our own static files, not a CDN
# (https://drf-spectacular.readthedocs.io/en/latest/settings.html#self-contained-ui-installation).
INSTALLED_APPS += ["drf_spectacular_sidecar"]
SPECTACULAR_SETTINGS |= {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}

# Dogfooding (docs/clients.md): with a URL and a write key, the platform's own requests are
# tracked by its Python client's Django middleware into a project of its own.
MEAUXCLOUD_DOGFOOD_URL = env.str("MEAUXCLOUD_DOGFOOD_URL", default="")
MEAUXCLOUD_DOGFOOD_KEY = env.str("MEAUXCLOUD_DOGFOOD_KEY", default="")
MEAUXCLOUD_DOGFOOD_DATASET = env.str("MEAUXCLOUD_DOGFOOD_DATASET", default="meauxcloud_requests")
MEAUXCLOUD_DOGFOOD_ENVIRONMENT = env.str("MEAUXCLOUD_DOGFOOD_ENVIRONMENT", default="development" if DEBUG else "production")
if MEAUXCLOUD_DOGFOOD_URL and MEAUXCLOUD_DOGFOOD_KEY:
    MIDDLEWARE = ["tracking.middleware.DogfoodMiddleware", *MIDDLEWARE]
