"""Settings for the joint command hub, read from environment variables.

Defaults need no services (SQLite, in-memory channel layer, tasks run in-process);
production is switched on by variables only. Every variable is listed in
`.env.example` and in the README.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.utils.translation import gettext_lazy as _

# Generic admin and queryset classes (`ModelAdmin[Case]`) at run time, for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{name} must be a boolean, got {value!r}")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "true")
# The development key is refused by the deploy checks (command_center/checks.py).
DEV_SECRET_KEY = "dev-only-not-secret-8f1c0a6e2b7d4e93a5f0c1d2e3b4a596"  # noqa: S105
SECRET_KEY = os.getenv("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "command_center",
    "incidents",
    "alerts",
    "maps",
    "playbooks",
]

MIDDLEWARE = [
    "command_center.ops.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "command_center.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "command_center.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "command_center.urls"
ASGI_APPLICATION = "command_center.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------
DATA_DIR = Path(os.getenv("DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = os.getenv("DATABASE_URL", f"sqlite:///{DATA_DIR / 'hub.sqlite3'}")
# CONN_MAX_AGE stays 0: under ASGI each request's sync code runs in its own thread, so a
# persistent connection would never be reused, only left open (Django's ASGI docs). Put a
# pooler (pgbouncer) in front of PostgreSQL for many workers.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock at BEGIN, so two processes never
    # deadlock upgrading a read lock; WAL lets readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    # A database that does not answer fails a request (and /readyz) in seconds, not minutes.
    _pg_options.setdefault("connect_timeout", envint("DATABASE_CONNECT_TIMEOUT", "5"))
    # Each request's sync code runs in its own thread, so under overload a process would
    # open a connection per request in flight until PostgreSQL refuses more. A pool caps a
    # process at DATABASE_POOL_SIZE connections; requests beyond wait (up to
    # DATABASE_POOL_TIMEOUT seconds, then fail) instead. 0: no pool (put pgbouncer in front).
    if envint("DATABASE_POOL_SIZE", "0") > 0:
        _pg_options["pool"] = {
            "min_size": 1,
            "max_size": envint("DATABASE_POOL_SIZE", "0"),
            "timeout": envint("DATABASE_POOL_TIMEOUT", "20"),
        }
# Test databases are per process, so that several test runs on one machine never share one;
# SQLite's is a file (not memory) because the concurrency tests use several threads.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"hub-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, channels, celery -------------------------------------------------------
REDIS_URL = os.getenv("REDIS_URL", "")
# Per-consumer queue size before a layer drops messages. Correctness never rests on it: a
# consumer that misses a frame notices the gap and replays its stream from the event log.
CHANNEL_CAPACITY = envint("CHANNEL_CAPACITY", "1000")
# redis-py 8 gives every socket a 5 s read timeout by default, which drops idle consumers of
# the core layer (channels_redis issue 422); our own timeout is longer than its 5 s polls.
CHANNEL_REDIS_SOCKET_TIMEOUT = envint("CHANNEL_REDIS_SOCKET_TIMEOUT", "15")
# redis-py caps a pool at 100 connections; the core layer uses one per concurrent command
# (group joins and leaves of a reconnect storm), and past the cap it raises.
CHANNEL_REDIS_MAX_CONNECTIONS = envint("CHANNEL_REDIS_MAX_CONNECTIONS", "1000")
CHANNEL_LAYER = os.getenv("CHANNEL_LAYER", "pubsub")
# Keeps hubs that share one Redis apart (and test runs from each other).
CHANNEL_PREFIX = os.getenv("CHANNEL_PREFIX", "hub")
if REDIS_URL:
    _redis_host = {
        "address": REDIS_URL,
        "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "retry_on_timeout": True,
        "max_connections": CHANNEL_REDIS_MAX_CONNECTIONS,
    }
    if CHANNEL_LAYER == "core":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [_redis_host],
                    "capacity": CHANNEL_CAPACITY,
                    "prefix": CHANNEL_PREFIX,
                },
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [_redis_host], "prefix": CHANNEL_PREFIX},
            }
        }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }
# A one-time WebSocket ticket (for clients without a session) lasts this long.
WS_TICKET_SECONDS = envint("WS_TICKET_SECONDS", "60")
# An open socket re-checks its person's rights at least this often: a backstop, since
# logout or a role change closes it at once, and every action is checked anyway.
WS_RECHECK_SECONDS = envint("WS_RECHECK_SECONDS", "300")
# An open socket compares its stream's head in the log with what it was sent this often, and
# replays the difference: frames the layer lost with no later frame to show the gap (0: off).
WS_CATCH_UP_SECONDS = envint("WS_CATCH_UP_SECONDS", "30")

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CLOCK_SWEEP_SECONDS = envint("CLOCK_SWEEP_SECONDS", "60")
# The outbox is drained this often by beat (and after each commit that queues a message);
# escalations, daily-report checks and expiries are swept every ALERT_SWEEP_SECONDS.
SMS_SWEEP_SECONDS = envint("SMS_SWEEP_SECONDS", "5")
ALERT_SWEEP_SECONDS = envint("ALERT_SWEEP_SECONDS", "15")
# Early warning: subjects with new readings are scored at once (a task per batch); this sweep
# scores what a lost task left due, rescores every subject daily and marks late warnings.
RISK_SWEEP_SECONDS = envint("RISK_SWEEP_SECONDS", "300")
# Readings one POST /api/v1/indicators may carry.
INDICATOR_BATCH_MAX = envint("INDICATOR_BATCH_MAX", "1000")

# --- reports ----------------------------------------------------------------------------------
# A font with Chinese glyphs for PDF reports: a path, with `#N` for a member of a collection
# (.ttc). Empty: the first of the usual Debian CJK fonts found (`apt-get install fonts-noto-cjk`).
REPORT_FONT = os.getenv("REPORT_FONT", "")
# Finished months' rankings are closed (their strikes recorded) this often.
RANKING_CLOSE_SECONDS = envint("RANKING_CLOSE_SECONDS", "3600")
# Local hour from which the day's joint situation report is drafted in a sensitive period.
SITUATION_REPORT_HOUR = envint("SITUATION_REPORT_HOUR", "7")
CELERY_BEAT_SCHEDULE = {
    "sweep-clocks": {
        "task": "incidents.tasks.sweep_clocks",
        "schedule": float(CLOCK_SWEEP_SECONDS),
    },
    "purge-idempotency": {"task": "incidents.tasks.purge_idempotency", "schedule": 3600.0},
    "relay-events": {"task": "incidents.tasks.relay_events", "schedule": 5.0},
    "purge-presence": {"task": "incidents.tasks.purge_presence", "schedule": 60.0},
    "send-sms": {"task": "alerts.tasks.send_outbox", "schedule": float(SMS_SWEEP_SECONDS)},
    "alerts-tick": {"task": "alerts.tasks.tick", "schedule": float(ALERT_SWEEP_SECONDS)},
    "risk-sweep": {"task": "alerts.tasks.risk_sweep", "schedule": float(RISK_SWEEP_SECONDS)},
    "close-rankings": {
        "task": "command_center.tasks.close_rankings",
        "schedule": float(RANKING_CLOSE_SECONDS),
    },
    "draft-situation-reports": {
        "task": "command_center.tasks.draft_situation_reports",
        "schedule": 600.0,
    },
    "sweep-checklists": {
        "task": "playbooks.tasks.sweep_checklists",
        "schedule": float(CLOCK_SWEEP_SECONDS),
    },
}
# The event log's hash chains are recomputed this often (a broken one is logged CRITICAL and
# counted in /metrics as hub_event_chain_breaks); 0 turns the check off.
EVENT_CHAIN_CHECK_SECONDS = envint("EVENT_CHAIN_CHECK_SECONDS", "86400")
if EVENT_CHAIN_CHECK_SECONDS:
    CELERY_BEAT_SCHEDULE["verify-event-chains"] = {
        "task": "incidents.tasks.verify_event_chains",
        "schedule": float(EVENT_CHAIN_CHECK_SECONDS),
    }
# Every ASGI process also relays any event the fast path left behind (Redis was down) this
# often, so that live screens catch up within seconds of Redis returning (0 turns it off).
RELAY_SWEEP_SECONDS = envint("RELAY_SWEEP_SECONDS", "5")
# Embedded mode has no beat: the ASGI process runs the sweep itself (0 turns it off).
EMBEDDED_SWEEP = envbool("EMBEDDED_SWEEP", "false" if REDIS_URL else "true")

# --- SMS alerts -----------------------------------------------------------------------------
# `console` (prints), `locmem` (tests), `twilio`, `aliyun`, or a dotted path to a backend class.
SMS_BACKEND = os.getenv("SMS_BACKEND", "console")
# The address the provider calls back, and the one webhook signatures are checked against
# (the hub may sit behind a proxy that changes scheme, host or port). Also used in SMS links.
PUBLIC_BASE_URL = os.getenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Messages per second, shared by every worker (through Redis when REDIS_URL is set); 0: no limit.
SMS_RATE_PER_SECOND = float(os.getenv("SMS_RATE_PER_SECOND", "10"))
# A claimed message not finished within this many seconds is claimed again by another worker.
SMS_LEASE_SECONDS = envint("SMS_LEASE_SECONDS", "60")
TWILIO_ACCOUNT_SID = os.getenv("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.getenv("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = os.getenv("TWILIO_FROM", "")
TWILIO_MESSAGING_SERVICE_SID = os.getenv("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_BASE_URL = os.getenv("TWILIO_BASE_URL", "https://api.twilio.com").rstrip("/")
TWILIO_TIMEOUT_SECONDS = float(os.getenv("TWILIO_TIMEOUT_SECONDS", "10"))
ALIYUN_ACCESS_KEY_ID = os.getenv("ALIYUN_ACCESS_KEY_ID", "")
ALIYUN_ACCESS_KEY_SECRET = os.getenv("ALIYUN_ACCESS_KEY_SECRET", "")
ALIYUN_SMS_SIGN_NAME = os.getenv("ALIYUN_SMS_SIGN_NAME", "")
ALIYUN_SMS_ENDPOINT = os.getenv("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
ALIYUN_SMS_PROTOCOL = os.getenv("ALIYUN_SMS_PROTOCOL", "https")
# Our template names → the provider's approved template codes, as JSON:
# {"incident_opened": "SMS_1234", ...}; see alerts/domain/messages.py for the names.
ALIYUN_SMS_TEMPLATES = json.loads(os.getenv("ALIYUN_SMS_TEMPLATES", "{}") or "{}")

# --- auth -----------------------------------------------------------------------------
# Passwords set through the admin, `changepassword` or a password form (the demo's `demo`
# is set directly and is for the demo only).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": envint("PASSWORD_MIN_LENGTH", "12")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every password check goes through the login guard (command_center/login_guard.py): the
# lock is enforced in the backend, whichever page or API asks.
AUTHENTICATION_BACKENDS = ["command_center.auth.GuardedModelBackend"]
# An account is locked for LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURE_LIMIT failed logins
# within LOGIN_FAILURE_WINDOW_MINUTES; a client address that fails LOGIN_IP_FAILURE_LIMIT
# times in the window (any usernames, bad API tokens too) gets 429 until the window passes.
# Counted in the database, so shared by every process. A limit of 0 turns that guard off.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
LOGIN_FAILURE_WINDOW_MINUTES = envint("LOGIN_FAILURE_WINDOW_MINUTES", "15")
LOGIN_LOCKOUT_MINUTES = envint("LOGIN_LOCKOUT_MINUTES", "15")
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", "20")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- i18n and time ---------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.getenv("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- static files ----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development WhiteNoise serves straight from the app folders; production collects first.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- uploads ---------------------------------------------------------------------------
# Evidence attached to checklist steps; never served from here directly (see playbooks.views).
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
CHECKLIST_ATTACHMENT_MAX_BYTES = envint("CHECKLIST_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024))

# --- maps ----------------------------------------------------------------------------
# The tile server behind every map (see maps.domain.tiles): "none" (a blank background with
# the town outlines), "tianditu" (needs MAP_TIANDITU_KEY), or a URL template such as
# https://tiles.example.gov.cn/{z}/{x}/{y}.png or /tiles/{z}/{x}/{y}.png on this host.
MAP_TILES = os.getenv("MAP_TILES", "none")
MAP_TILES_ATTRIBUTION = os.getenv("MAP_TILES_ATTRIBUTION", "")
# The datum the tiles are drawn in: wgs84 (OpenStreetMap, Tianditu) or gcj02 (Amap, Tencent).
MAP_TILES_DATUM = os.getenv("MAP_TILES_DATUM", "wgs84")
MAP_TILES_SUBDOMAINS = os.getenv("MAP_TILES_SUBDOMAINS", "abc")
MAP_TILES_MAX_ZOOM = envint("MAP_TILES_MAX_ZOOM", "18")
MAP_TIANDITU_KEY = os.getenv("MAP_TIANDITU_KEY", "")
# "Nearby" on an incident's map: windows and police within this many metres of the site.
MAP_NEARBY_METRES = envint("MAP_NEARBY_METRES", "5000")
# The heat map's period when none is chosen.
MAP_HEAT_DAYS = envint("MAP_HEAT_DAYS", "90")

# --- content security policy (command_center/csp.py) -------------------------------------
# Every HTML page gets the policy; true sends it as Content-Security-Policy-Report-Only (the
# browser blocks nothing and only reports), to try a change of it on a running hub first.
CSP_REPORT_ONLY = envbool("CSP_REPORT_ONLY", "false")
# Where browsers report what the policy blocked (logged by command_center.csp; "" for nowhere).
CSP_REPORT_URI = os.getenv("CSP_REPORT_URI", "/csp-report/")
CSP_REPORT_MAX_BYTES = envint("CSP_REPORT_MAX_BYTES", "8192")
# More sources for images and for fetch/WebSocket connections (the map tile server's origins
# are added to img-src by themselves), comma-separated: https://img.example.gov.cn
CSP_EXTRA_IMG_SRC = envlist("CSP_EXTRA_IMG_SRC", "")
CSP_EXTRA_CONNECT_SRC = envlist("CSP_EXTRA_CONNECT_SRC", "")

# --- API ------------------------------------------------------------------------------
# Bodies larger than this are refused with 413 before any parsing.
API_MAX_BODY_BYTES = 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
NINJA_PAGINATION_PER_PAGE = 50
IDEMPOTENCY_KEY_TTL_HOURS = envint("IDEMPOTENCY_KEY_TTL_HOURS", "48")

# --- case rules ---------------------------------------------------------------------------
COMMITMENT_DAYS = envint("COMMITMENT_DAYS", "7")
ADVANCE_WORKING_DAYS = envint("ADVANCE_WORKING_DAYS", "5")

# --- production hardening (checked by `manage.py check --deploy`) -------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false" if DEBUG else "true")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A session lasts one duty shift (8 h by default) from login, and ends with the browser.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", str(8 * 3600))
SESSION_EXPIRE_AT_BROWSER_CLOSE = envbool("SESSION_EXPIRE_AT_BROWSER_CLOSE", "true")
# No script reads the CSRF cookie: every form carries {% csrf_token %}, and integrations
# use bearer tokens, which need none.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false" if DEBUG else "true")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- operations: health, readiness, metrics, logs (command_center/ops) --------------------
# /healthz, /readyz and /metrics answer over plain HTTP too (probes and scrapers inside).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# /readyz gives up on a check (database, Redis, workers) after this many seconds.
READYZ_TIMEOUT_SECONDS = float(os.getenv("READYZ_TIMEOUT_SECONDS", "2"))
# Celery (through a beat-scheduled task) and `sms_worker` show they are alive this often;
# /readyz fails once no worker has done so for three intervals.
HEARTBEAT_SECONDS = envint("HEARTBEAT_SECONDS", "15")
CELERY_BEAT_SCHEDULE["ops-heartbeat"] = {
    "task": "command_center.tasks.heartbeat",
    "schedule": float(HEARTBEAT_SECONDS),
    # A heartbeat that waited longer than its interval in the queue proves nothing.
    "options": {"expires": float(HEARTBEAT_SECONDS)},
}
# Hubs sharing one Redis keep their task queues apart too (and /metrics reads its depth).
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{CHANNEL_PREFIX}:"}
# /metrics: with a token, only `Authorization: Bearer <token>`; else these addresses/networks.
METRICS_TOKEN = os.getenv("METRICS_TOKEN", "")
METRICS_ALLOW_IPS = envlist("METRICS_ALLOW_IPS", "127.0.0.1,::1")
# For a single machine serving loopback only (scripts/run_prod.py says when it sets it).
SILENCED_SYSTEM_CHECKS = envlist("SILENCED_SYSTEM_CHECKS", "")
# `plain` text lines, or `json`: one object per line (time, level, logger, message,
# request_id, exception), for a log collector.
LOG_FORMAT = os.getenv("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ValueError(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOG_LEVEL = os.getenv("LOG_LEVEL", "INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "command_center.ops.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The Twilio SDK logs each request's parameters (phone numbers among them) at INFO.
        "twilio.http_client": {"level": "WARNING"},
        # In JSON, the ASGI server's own lines (start-up, access log) are JSON too.
        **(
            {
                "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
                "uvicorn.error": {"level": LOG_LEVEL},
                "uvicorn.access": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
            }
            if LOG_FORMAT == "json"
            else {}
        ),
    },
}
