"""Settings for the forecast amplification platform.

With no environment at all this runs locally on SQLite with Celery tasks executed eagerly in-process. Production sets
DJANGO_ENV=production, DJANGO_SECRET_KEY, DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from amplification.pooling import POOL_METHODS

from .currencies import ISO_4217
from .env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
    parse_database_url,
    parse_email_url,
    validate_broker_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FA_VAR_DIR", str(BASE_DIR / "var")))

ENVIRONMENT = env_str("DJANGO_ENV", "development")
if ENVIRONMENT not in ("development", "production", "test"):
    raise ImproperlyConfigured(f"DJANGO_ENV={ENVIRONMENT!r}: use development, test or production")
PRODUCTION = ENVIRONMENT == "production"

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV=production")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
# Django's own deploy check asks for 50 characters; a shorter key signs sessions and password-reset links weakly.
MIN_SECRET_KEY_LENGTH = 50
if PRODUCTION and len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is {len(SECRET_KEY)} characters; production needs at least {MIN_SECRET_KEY_LENGTH} "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["*"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "forecasts",
]

MIDDLEWARE = [
    # First: the arrival stamp the close is judged by (forecasts/arrival.py), taken before any other work.
    "forecasts.arrival.ArrivalMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (admin, Swagger UI from the sidecar) under gunicorn, with no CDN or web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "forecasts.pages.notification_count",
            ],
        },
    },
]

# SQLite by default so `manage.py runserver` works on a fresh machine; DATABASE_URL=postgres://... in production.
DATABASES = {"default": parse_database_url(env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Several writers (requests in runserver's threads, eager tasks) share the file. Wait for the lock instead of
    # failing at once, and take it when a transaction begins (IMMEDIATE): a deferred transaction that reads, then
    # tries to write while another holds the lock, fails at once with "database is locked" whatever the timeout.
    # WAL lets readers go on while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # A password like the username ("alice" / "alice123") is the first guess of anyone who knows the name.
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at start-up about a missing directory
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# A request body larger than this is refused with a 400 before it is parsed. Specs are small; 201-point CDFs are ~5 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FA_MAX_BODY_BYTES", 256 * 1024)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or None
if CELERY_BROKER_URL:
    validate_broker_url("CELERY_BROKER_URL", CELERY_BROKER_URL)

# The cache holds the throttles' counters. In production it must be shared by every worker and host, or each
# gunicorn worker would allow its own 5 sign-ins a minute: FA_CACHE_URL names a Redis database, and without it the
# Celery broker's Redis is used. With neither (local runs, tests) a process-local cache does.
FA_CACHE_URL = env_str("FA_CACHE_URL") or (CELERY_BROKER_URL if (CELERY_BROKER_URL or "").startswith("redis") else "")
if FA_CACHE_URL:
    validate_broker_url("FA_CACHE_URL", FA_CACHE_URL)
    # Django's Redis backend, reusing its redis-py client (forecasts/cache.py says why).
    CACHES = {"default": {"BACKEND": "forecasts.cache.RedisCache", "LOCATION": FA_CACHE_URL,
                          "KEY_PREFIX": "fa"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
FA_NUM_PROXIES = env_int("FA_NUM_PROXIES", 0) or None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "forecasts.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's defaults, with a JSON parser that turns a body nested too deeply for the json module into a 400.
    "DEFAULT_PARSER_CLASSES": [
        "forecasts.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "forecasts.api.errors.exception_handler",
    # Every list is paged and no page is larger than FA_MAX_PAGE (forecasts/api/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "forecasts.api.pagination.BoundedLimitOffsetPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # DRF's rate syntax: a count, a slash and sec/min/hour/day. Sign-in is per username and per address, sign-up
    # per address (forecasts/throttles.py); anon per address and user per account on every other call.
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("FA_THROTTLE_LOGIN", "5/min"),
        # A classroom signs up together from one address behind its NAT: 30 an hour lets it, and stops a script.
        "register": env_rate("FA_THROTTLE_REGISTER", "30/hour"),
        "anon": env_rate("FA_THROTTLE_ANON", "120/min"),
        # A person clicking, or a client script polling a job, stays far below this.
        "user": env_rate("FA_THROTTLE_USER", "1200/min"),
    },
    # How many proxies put the client's address in X-Forwarded-For; unset, REMOTE_ADDR is the address.
    "NUM_PROXIES": FA_NUM_PROXIES,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Forecast amplification API",
    "DESCRIPTION": "Questions, priors, evidence, predicted posteriors, posteriors, scores and prizes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc are served from the sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ------------------------------------------------------------------------------------------------------
# No broker configured: tasks run eagerly inside the web process (the one-command local run). With a broker, they go
# to workers. https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it finishes, and re-queued if its worker dies: a crash loses nothing, and the
# tasks are idempotent so a second delivery is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("FA_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("FA_TASK_TIME_LIMIT", 360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a message that was taken but never acknowledged (its worker was killed) after this many seconds.
# Keep it above the task time limit so a slow but live task is not delivered twice.
FA_VISIBILITY_TIMEOUT = env_int("FA_VISIBILITY_TIMEOUT", 600)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"FA_TASK_SOFT_TIME_LIMIT={CELERY_TASK_SOFT_TIME_LIMIT} must be below "
        f"FA_TASK_TIME_LIMIT={CELERY_TASK_TIME_LIMIT}"
    )
if FA_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"FA_VISIBILITY_TIMEOUT={FA_VISIBILITY_TIMEOUT} must exceed FA_TASK_TIME_LIMIT={CELERY_TASK_TIME_LIMIT}: Redis "
        "would hand a task that is still running, within its time limit, to a second worker"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": FA_VISIBILITY_TIMEOUT,
    # kombu only sweeps for such messages every interval x throttle seconds (10 x 10 by default), so without these a
    # killed worker's task would come back up to 100 s after the visibility timeout, whatever its value. Sweep (one
    # cheap ZRANGE) every few seconds instead: the delay is then about the visibility timeout.
    "unacked_restore_interval": max(1, min(10, FA_VISIBILITY_TIMEOUT // 2)),
    "unacked_restore_throttle": 1,
}
# A publish to a broker that is down must not hang the web request: fail fast, the job stays pending and the
# beat task (or `manage.py jobs_requeue`) sends it again.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("FA_BROKER_CONNECT_TIMEOUT", 2.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE = {
    "close-due-questions": {"task": "amplification.tasks.questions_close_due", "schedule": 30.0},
    "requeue-stale-jobs": {"task": "amplification.tasks.jobs_requeue_stale", "schedule": 60.0},
    # Mail a broker outage kept from being queued at commit; a sweep that finds nothing is one indexed query.
    "send-notifications": {"task": "amplification.tasks.send_notifications", "schedule": 300.0},
    "posterior-reminders": {"task": "amplification.tasks.posterior_reminders", "schedule": 3600.0},
    "daily-digests": {"task": "amplification.tasks.send_digests", "schedule": crontab(hour=env_int("FA_DIGEST_HOUR", 7),
                                                                                        minute=0)},
}

# --- Domain settings -------------------------------------------------------------------------------------------------
# Share of a uniform distribution mixed into every prediction (and the prior) before scoring, so no log is of zero.
FA_UNIFORM_MIX = env_float("FA_UNIFORM_MIX", 0.01)
if not 0.0 < FA_UNIFORM_MIX < 0.5:
    raise ImproperlyConfigured(f"FA_UNIFORM_MIX={FA_UNIFORM_MIX}: must lie in (0, 0.5)")
# A job still `running` with no heartbeat for this long is taken to have lost its worker and is queued again.
FA_JOB_STALE_SECONDS = env_int("FA_JOB_STALE_SECONDS", 900)
# One worker runs a job at a time: a delivery that finds the job `running` takes it over only once its heartbeat is
# this old (its worker died), and otherwise comes back later. Jobs beat far more often: measured at 100,000
# predictions, at most ~2 s between beats while scoring, ~11 s for a prize allocation (one transaction).
FA_JOB_CLAIM_STALE_SECONDS = env_int("FA_JOB_CLAIM_STALE_SECONDS", 60)
if FA_JOB_CLAIM_STALE_SECONDS < 1:
    raise ImproperlyConfigured("FA_JOB_CLAIM_STALE_SECONDS must be at least 1")
# Scores are written this many rows per transaction; each chunk also records the job's progress.
FA_SCORE_WRITE_CHUNK = env_int("FA_SCORE_WRITE_CHUNK", 10_000)
if FA_SCORE_WRITE_CHUNK < 1:
    raise ImproperlyConfigured("FA_SCORE_WRITE_CHUNK must be at least 1")
# The pooled forecast the question page and the report lead with (all four are stored; ?method= picks another).
FA_POOL_DEFAULT_METHOD = (env_str("FA_POOL_DEFAULT_METHOD", "equal") or "").strip()
if FA_POOL_DEFAULT_METHOD not in POOL_METHODS:
    raise ImproperlyConfigured(
        f"FA_POOL_DEFAULT_METHOD={FA_POOL_DEFAULT_METHOD!r}: must be one of {', '.join(POOL_METHODS)}"
    )
# The skill pool weights an author by their track record only from this many scored earlier questions on; below it,
# as the average author with a record (too few questions to tell luck from skill).
FA_POOL_SKILL_MIN_COUNT = env_int("FA_POOL_SKILL_MIN_COUNT", 3)
if FA_POOL_SKILL_MIN_COUNT < 1:
    raise ImproperlyConfigured("FA_POOL_SKILL_MIN_COUNT must be at least 1")
# Close by arrival (docs/design.md): a trusted proxy's request-start header (nginx: X-Request-Start, "t=<seconds>")
# stamps arrivals instead of the server's clock; unset, the header is ignored so a client cannot set its own stamp.
FA_REQUEST_START_HEADER = (env_str("FA_REQUEST_START_HEADER", "") or "").strip()
# A question due to close stays open this many seconds past closes_at, so that evidence and predictions which
# arrived before closes_at but waited in line are stored; then it closes (closed_at = closes_at) and its log head is
# fixed. Arrivals after closes_at are refused throughout.
FA_CLOSE_GRACE_SECONDS = env_float("FA_CLOSE_GRACE_SECONDS", 5.0)
if not 0 <= FA_CLOSE_GRACE_SECONDS <= 300:
    raise ImproperlyConfigured(f"FA_CLOSE_GRACE_SECONDS={FA_CLOSE_GRACE_SECONDS}: must lie in [0, 300]")
# The pooled forecast is recomputed at most once per question per this many seconds while predictions arrive.
FA_POOL_DEBOUNCE_SECONDS = env_float("FA_POOL_DEBOUNCE_SECONDS", 2.0)
if not 0 <= FA_POOL_DEBOUNCE_SECONDS <= 600:
    raise ImproperlyConfigured(f"FA_POOL_DEBOUNCE_SECONDS={FA_POOL_DEBOUNCE_SECONDS}: must lie in [0, 600]")
# Cached reads of a question (its JSON, the anonymous page) are replaced on every write through the services; this
# bounds how long a change made outside them (the admin) can take to show.
FA_QUESTION_CACHE_SECONDS = env_int("FA_QUESTION_CACHE_SECONDS", 60)
FA_CURRENCY = (env_str("FA_CURRENCY", "USD") or "").strip().upper()
if FA_CURRENCY not in ISO_4217:
    raise ImproperlyConfigured(f"FA_CURRENCY={FA_CURRENCY!r} is not an ISO 4217 currency code (such as USD or EUR)")

# --- Email -----------------------------------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/email/. With nothing set, mail is printed by the console backend:
# nothing leaves the machine. EMAIL_URL (smtp://user:pass@host:587?tls=1) or EMAIL_HOST & co. send it by SMTP.
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    globals().update(parse_email_url(EMAIL_URL))
elif env_str("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "forecasts@localhost")
# Links in mail are absolute: the address people reach the site at.
FA_SITE_URL = env_str("FA_SITE_URL", "http://localhost:8000") or "http://localhost:8000"
# A verification link works for this many seconds.
FA_EMAIL_VERIFY_MAX_AGE = env_int("FA_EMAIL_VERIFY_MAX_AGE", 3 * 24 * 3600)
# The expert is reminded to publish the posterior once, this many days after the question closed.
FA_POSTERIOR_REMINDER_DAYS = env_int("FA_POSTERIOR_REMINDER_DAYS", 3)
if FA_EMAIL_VERIFY_MAX_AGE < 1 or FA_POSTERIOR_REMINDER_DAYS < 1:
    raise ImproperlyConfigured("FA_EMAIL_VERIFY_MAX_AGE and FA_POSTERIOR_REMINDER_DAYS must be at least 1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("FA_LOG_LEVEL", "INFO")},
}

# --- Accounts and tokens ---------------------------------------------------------------------------------------------
# An API token older than this many days is refused (401, "token expired"); 0 means tokens never expire.
FA_TOKEN_TTL_DAYS = env_int("FA_TOKEN_TTL_DAYS", 30 if PRODUCTION else 0)
if FA_TOKEN_TTL_DAYS < 0:
    raise ImproperlyConfigured("FA_TOKEN_TTL_DAYS must be 0 (never expire) or a number of days")
# Caps per user per question, so one account cannot fill a thread or a history (forecasts/limits.py reads them).
FA_MAX_EVIDENCE_PER_USER = env_int("FA_MAX_EVIDENCE_PER_USER", 200)
FA_MAX_PREDICTIONS_PER_USER = env_int("FA_MAX_PREDICTIONS_PER_USER", 500)
# The largest page any list returns, whatever ?limit= asks for.
FA_MAX_PAGE = env_int("FA_MAX_PAGE", 500)
# A prediction this close (KL in nats) to the published posterior is flagged for review before prizes are awarded.
FA_REVIEW_KL = env_float("FA_REVIEW_KL", 0.01)
# The header a trusted proxy puts the client's address in (e.g. HTTP_X_FORWARDED_FOR); unset, REMOTE_ADDR is used.
FA_CLIENT_IP_HEADER = env_str("FA_CLIENT_IP_HEADER", "") or ""

if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
    # HTTPS only: a year of HSTS once the site is known to serve HTTPS everywhere (start smaller when trying it).
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    # Behind a proxy that ends TLS, it tells Django the request was HTTPS: DJANGO_PROXY_SSL_HEADER=X-Forwarded-Proto.
    # Set it only when the proxy always sets (and overwrites) that header, or a client could claim HTTPS.
    _proxy_header = env_str("DJANGO_PROXY_SSL_HEADER", "") or ""
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
