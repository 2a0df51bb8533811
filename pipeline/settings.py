"""Settings for the PIPELINE artifacts service.

Everything comes from the environment (see README's configuration table). Defaults run the whole
product on one machine with no services: SQLite, Celery's filesystem broker and artifact storage
on the local disk, all under ``var/``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pipeline.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from pipeline.schedule import parse_cron, shortest_interval_seconds

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Core -----------------------------------------------------------------------------------------
_DEFAULT_SECRET_KEY = "insecure-local-development-key-change-me"  # noqa: S105 (refused when DEBUG is off)
DEBUG = env_bool("DEBUG", True)
# With DEBUG on, show browsers the product's 404 page instead of Django's technical one (make demo).
PRODUCT_404_IN_DEBUG = env_bool("PRODUCT_404_IN_DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", _DEFAULT_SECRET_KEY)
if not DEBUG and (SECRET_KEY == _DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "pipeline",
    "artifacts",
    "hub",
    "events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "pipeline.lib.api.middleware.ApiErrorMiddleware",  # JSON errors on /api/, whoever answers
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "pipeline.lib.not_found.ProductNotFoundMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the 429 page
]

ROOT_URLCONF = "pipeline.urls"
WSGI_APPLICATION = "pipeline.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/models"
LOGOUT_REDIRECT_URL = "accounts:login"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "pipeline.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django can use: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs a web server and a worker against one file: wait for locks instead of
    # failing, take write locks up front and let readers proceed during writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The list indexes' INCLUDE columns serve PostgreSQL's index-only scans; SQLite builds the
    # same indexes without them, which is all the warning says.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Auth, sessions, security ---------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials before checking them
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the download script reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Artifact storage -----------------------------------------------------------------------------
ARTIFACT_STORAGE = env_choice("ARTIFACT_STORAGE", "local", ("local", "s3", "supabase"))
ARTIFACT_STORAGE_ROOT = Path(env_str("ARTIFACT_STORAGE_ROOT", str(VAR_DIR / "storage")))
ARTIFACT_BUCKET = env_str("ARTIFACT_BUCKET", "lora-models")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None
# Where clients reach the bucket, when that differs from where the servers do (e.g. MinIO in
# docker-compose: http://minio:9000 inside, http://localhost:9000 for browsers).
AWS_S3_PUBLIC_ENDPOINT_URL = env_str("AWS_S3_PUBLIC_ENDPOINT_URL", "") or None
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
SUPABASE_URL = env_str("SUPABASE_URL", "")
SUPABASE_SERVICE_ROLE_KEY = env_str("SUPABASE_SERVICE_ROLE_KEY", "")
SIGNED_URL_TTL = env_int("SIGNED_URL_TTL", 3600, minimum=60)

_ARTIFACT_BACKENDS = {
    "local": {
        "BACKEND": "artifacts.storage.local.LocalArtifactStorage",
        "OPTIONS": {"location": str(ARTIFACT_STORAGE_ROOT)},
    },
    "s3": {
        "BACKEND": "artifacts.storage.s3.S3ArtifactStorage",
        "OPTIONS": {
            "bucket_name": ARTIFACT_BUCKET,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "region_name": AWS_S3_REGION_NAME,
            "querystring_expire": SIGNED_URL_TTL,
            "public_endpoint_url": AWS_S3_PUBLIC_ENDPOINT_URL,
        },
    },
    "supabase": {
        "BACKEND": "artifacts.storage.supabase.SupabaseArtifactStorage",
        "OPTIONS": {
            "url": SUPABASE_URL,
            "key": SUPABASE_SERVICE_ROLE_KEY,
            "bucket": ARTIFACT_BUCKET,
        },
    },
}
if ARTIFACT_STORAGE == "s3" and not (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY):
    raise ImproperlyConfigured("ARTIFACT_STORAGE=s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
if ARTIFACT_STORAGE == "supabase" and not (SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY):
    raise ImproperlyConfigured("ARTIFACT_STORAGE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY.")

if not SITE_URL:  # every backend: download links are ours, checked per request, then served or redirected
    raise ImproperlyConfigured("SITE_URL must be set when DEBUG is off: signed download links are built from it.")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
    "artifacts": _ARTIFACT_BACKENDS[ARTIFACT_STORAGE],
}
MEDIA_ROOT = VAR_DIR / "media"

# --- GPU cluster ----------------------------------------------------------------------------------
GPU_CLUSTER_API_URL = env_str("GPU_CLUSTER_API_URL", "http://127.0.0.1:8765").rstrip("/")
GPU_CLUSTER_API_KEY = env_str("GPU_CLUSTER_API_KEY", "")
GPU_CLUSTER_TIMEOUT = env_float("GPU_CLUSTER_TIMEOUT", 30.0, minimum=0.1)

# --- The Hub protocol under /hub (DESIGN §15) -------------------------------------------------------
# Repositories the product does not hold (a base model) are asked at HUB_UPSTREAM_URL (e.g.
# https://huggingface.co) when set; the client's token never goes there, HUB_UPSTREAM_TOKEN does.
HUB_UPSTREAM_URL = env_str("HUB_UPSTREAM_URL", "").rstrip("/")
HUB_UPSTREAM_TOKEN = env_str("HUB_UPSTREAM_TOKEN", "")
HUB_UPSTREAM_TIMEOUT = env_float("HUB_UPSTREAM_TIMEOUT", 30.0, minimum=0.1)
# Entries per page of a tree listing (the Hub's own is 1000); further pages are linked with ``Link``.
HUB_TREE_PAGE_SIZE = env_int("HUB_TREE_PAGE_SIZE", 1000, minimum=1)
GPU_CLUSTER_CONNECT_TIMEOUT = env_float("GPU_CLUSTER_CONNECT_TIMEOUT", 5.0, minimum=0.1)
# Connections per large file (parallel Range requests, in order; 1 streams each file as one body).
GPU_CLUSTER_STREAMS = min(env_int("GPU_CLUSTER_STREAMS", 1, minimum=1), 16)
GPU_CLUSTER_WEBHOOK_SECRET = env_str("GPU_CLUSTER_WEBHOOK_SECRET", "")

# --- Ingest ---------------------------------------------------------------------------------------
ARTIFACT_MAX_ATTEMPTS = env_int("ARTIFACT_MAX_ATTEMPTS", 5, minimum=1)
ARTIFACT_LEASE_SECONDS = env_int("ARTIFACT_LEASE_SECONDS", 900, minimum=30)
ARTIFACT_RETRY_BASE_SECONDS = env_int("ARTIFACT_RETRY_BASE_SECONDS", 60, minimum=1)
ARTIFACT_SWEEP_CRON = env_str("ARTIFACT_SWEEP_CRON", "*/2 * * * *")

# --- Delivery and lifecycle -----------------------------------------------------------------------
# A zip bundle nobody asked for in BUNDLE_TTL_DAYS is removed (BUNDLE_EXPIRY_CRON); a model deleted
# longer than ARTIFACT_RETENTION_DAYS ago can no longer be restored and is purged (ARTIFACT_PURGE_CRON).
BUNDLE_TTL_DAYS = env_int("BUNDLE_TTL_DAYS", 7, minimum=1)
BUNDLE_EXPIRY_CRON = env_str("BUNDLE_EXPIRY_CRON", "15 * * * *")
ARTIFACT_RETENTION_DAYS = env_int("ARTIFACT_RETENTION_DAYS", 30, minimum=1)
ARTIFACT_PURGE_CRON = env_str("ARTIFACT_PURGE_CRON", "45 * * * *")
# Per-user limits on zip bundles (0: no limit): builds under way at once (more answer 429), and
# bytes of zips stored, ready or being built (more answer 409).
BUNDLE_MAX_CONCURRENT_PER_USER = env_int("BUNDLE_MAX_CONCURRENT_PER_USER", 2, minimum=0)
BUNDLE_STORAGE_LIMIT_BYTES = env_int("BUNDLE_STORAGE_LIMIT_BYTES", 50 * 1024**3, minimum=0)

# --- Webhooks out (DESIGN §16) --------------------------------------------------------------------
# Seconds between a failed attempt and the next one; one attempt more than there are steps. The
# default spreads ten attempts over about three days (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 20 h, 24 h).
_retry_steps = env_list(
    "WEBHOOK_RETRY_SCHEDULE", ["5", "300", "1800", "7200", "18000", "36000", "36000", "72000", "86400"]
)
if not all(step.isdigit() for step in _retry_steps):
    raise ImproperlyConfigured(f"WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds, got {_retry_steps!r}")
WEBHOOK_RETRY_SCHEDULE = [int(step) for step in _retry_steps]
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5)
# An endpoint whose every delivery failed for this long is disabled and its owner notified.
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 3 * 86400, minimum=60)
# Development, tests and `make demo` only: lets webhook URLs reach loopback/private addresses and use http.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
WEBHOOK_SWEEP_SECONDS = env_int("WEBHOOK_SWEEP_SECONDS", 30, minimum=5)
# Events, their deliveries and the attempt log are kept this many days, then deleted by beat
# (WEBHOOK_PRUNE_CRON); an event with a delivery still pending is kept until it ends.
WEBHOOK_EVENT_RETENTION_DAYS = env_int("WEBHOOK_EVENT_RETENTION_DAYS", 30, minimum=1)
WEBHOOK_PRUNE_CRON = env_str("WEBHOOK_PRUNE_CRON", "15 4 * * *")

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "broker"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3300, minimum=10)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be larger than CELERY_TASK_SOFT_TIME_LIMIT.")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,  # seconds between looks at the queue folder (kombu's default is 1)
    }
    _default_result_backend = f"file://{VAR_DIR / 'celery-results'}"
else:
    # A message not acknowledged within this window is redelivered: keep it above the hard limit
    # so a long transfer is never handed to a second worker while the first is still on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
    _default_result_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", _default_result_backend)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

_sweep = parse_cron("ARTIFACT_SWEEP_CRON", ARTIFACT_SWEEP_CRON)
_bundle_expiry = parse_cron("BUNDLE_EXPIRY_CRON", BUNDLE_EXPIRY_CRON)
_purge = parse_cron("ARTIFACT_PURGE_CRON", ARTIFACT_PURGE_CRON)
_webhook_prune = parse_cron("WEBHOOK_PRUNE_CRON", WEBHOOK_PRUNE_CRON)
CELERY_BEAT_SCHEDULE = {
    "artifact-sweep": {
        "task": "artifacts.tasks.sweep_completed_jobs",
        "schedule": _sweep,
        # A sweep that could not start before the next one is due is dropped, not stacked.
        "options": {"expires": max(10, shortest_interval_seconds(_sweep) - 10)},
    },
    "bundle-expiry": {
        "task": "artifacts.tasks.expire_bundles",
        "schedule": _bundle_expiry,
        "options": {"expires": max(10, shortest_interval_seconds(_bundle_expiry) - 10)},
    },
    "artifact-purge": {
        "task": "artifacts.tasks.purge_deleted_models",
        "schedule": _purge,
        "options": {"expires": max(10, shortest_interval_seconds(_purge) - 10)},
    },
    "webhook-sweep": {
        "task": "events.tasks.sweep_due_deliveries",
        "schedule": timedelta(seconds=WEBHOOK_SWEEP_SECONDS),
        "options": {"expires": max(4, WEBHOOK_SWEEP_SECONDS - 5)},
    },
    "webhook-prune": {
        "task": "events.tasks.prune_old_events",
        "schedule": _webhook_prune,
        "options": {"expires": max(10, shortest_interval_seconds(_webhook_prune) - 10)},
    },
}

# --- API ------------------------------------------------------------------------------------------
# DRF reads "<number>/<period>", the period's first letter being s, m, h or d ("60/min", "1000/day").
DOWNLOAD_GRANT_RATE = env_str("DOWNLOAD_GRANT_RATE", "60/min")
if not re.fullmatch(r"[1-9][0-9]*/[smhd][a-z]*", DOWNLOAD_GRANT_RATE):
    raise ImproperlyConfigured(f"DOWNLOAD_GRANT_RATE must look like 60/min or 1000/day, got {DOWNLOAD_GRANT_RATE!r}")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pipeline.lib.api.exceptions.api_exception_handler",
    # JSON bodies within DATA_UPLOAD_MAX_MEMORY_SIZE and nested at most 32 deep (pipeline.lib.api.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "pipeline.lib.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "pipeline.lib.api.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {"download_grant": DOWNLOAD_GRANT_RATE},
    # Client addresses come from REMOTE_ADDR, or from X-Forwarded-For as set by this many proxies
    # of ours; never from a header the client alone controls.
    "NUM_PROXIES": env_int("TRUSTED_PROXY_COUNT", 0, minimum=0),
}

# --- Guessing is slow: failed logins and bad API tokens --------------------------------------------
# Logins (the login page and the admin's) go through django-axes: LOGIN_FAILURE_LIMIT failures for
# one username, or from one client address, lock that username / address out for
# LOGIN_COOLOFF_MINUTES. Attempts are kept in the database, so every web process sees them.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "accounts.throttling.LoginAttemptHandler"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
AXES_HTTP_RESPONSE_CODE = 429
# Bad bearer tokens are counted per client address in the cache (CACHE_URL shares it between
# processes): API_TOKEN_FAILURE_LIMIT within API_TOKEN_COOLOFF_MINUTES blocks that address's
# token attempts for API_TOKEN_COOLOFF_MINUTES.
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 10, minimum=1)
API_TOKEN_COOLOFF_MINUTES = env_int("API_TOKEN_COOLOFF_MINUTES", 15, minimum=1)
SPECTACULAR_SETTINGS = {
    "TITLE": "PIPELINE Model Artifacts API",
    "DESCRIPTION": "Browse, judge and download fine-tuned LoRA adapters.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The webhook's final states are a subset of a job's statuses: give that choice set its own name.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "artifacts.models.ModelArtifact.Status",
        "FinalJobStatusEnum": "artifacts.api.webhooks.FINAL_STATUS_CHOICES",
    },
}

# --- Cache (throttling state is shared across processes) -------------------------------------------
_cache_url = env_str("CACHE_URL", "")
if _cache_url and not _cache_url.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// or rediss:// URL (or empty), got {_cache_url!r}")
if _cache_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- I18N -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging --------------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "keyvalue": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "keyvalue"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "pipeline": {"level": LOG_LEVEL},
        "artifacts": {"level": LOG_LEVEL},
        "accounts": {"level": LOG_LEVEL},
        "events": {"level": LOG_LEVEL},
        "hub": {"level": LOG_LEVEL},
    },
}
