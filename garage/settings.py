"""Settings, all from the environment (twelve-factor); SQLite is the embedded default.

Every tunable has one variable and a sane default; README.md lists them.
"""

import logging
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from garage import local
from observability.logs import django_logging
from observability.multiproc import configure_environment as configure_metrics_directory

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = local.var_dir()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value not in (None, "") else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def _private_file(path: Path, make) -> str:
    """A local secret kept in var/ (git-ignored), made once, readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)  # made by an older version, world-readable
    return path.read_text().strip()


# Safe by default: DEBUG is off unless asked for (`make run` asks for it), or unless this is
# a checkout `make run` has set up and nothing says otherwise (garage/local.py).
DEBUG = local.debug()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (production), or set DJANGO_DEBUG=1 "
            "for a local run, which keeps a generated key in var/dev-secret-key."
        )
    # Local development only: a random key generated once per checkout, never committed.
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = _private_file(VAR_DIR / "dev-secret-key", get_random_secret_key)


def env_list(name: str, default: str = "") -> list[str]:
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


# Production sets the public host name(s); the default only answers on this machine.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- HTTPS (what `manage.py check --deploy` asks for): on whenever DEBUG is off ---
# Behind a TLS-terminating proxy, name the header it sets (e.g. X-Forwarded-Proto) so that
# Django knows the request was https; only do so if the proxy always sets or strips it.
_proxy_header = os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe /health/ over plain http.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_COOKIE_AGE", 12 * 3600)  # a working day
X_FRAME_OPTIONS = "DENY"
# The HTML pages' Content-Security-Policy (garage/middleware.py); `{nonce}`: the page's own.
GARAGE_CONTENT_SECURITY_POLICY = os.environ.get("GARAGE_CONTENT_SECURITY_POLICY") or (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "knox",
    "access",
    "metier",
    "api",
    "intake",
    "pipeline",
    "observability",
    "portail",
    "atelier",
    "notifications",
    "webhooks",
    "axes",  # last: failed logins counted, lockouts (access/lockout.py)
]

MIDDLEWARE = [
    # First: every answer (redirects and errors included) carries the request id.
    "observability.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The intake's common request, answered without DRF (intake/fast.py); the rest goes on.
    "intake.fast.FastIntakeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "garage.middleware.StaffLanguageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "garage.middleware.ContentSecurityPolicyMiddleware",
    # Last: answers a locked-out login with the 429 page (AXES_LOCKOUT_TEMPLATE).
    "axes.middleware.AxesMiddleware",
]

# Password guessing (issue 15): a login is checked by django-axes first, then by Django.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "garage.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "garage.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        # A reused connection is checked at the start of each request (one round trip), so a
        # database restart costs no failed request; DATABASE_CONN_HEALTH_CHECKS=0 saves it.
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["TEST"] = {
        # A file, not :memory:, so that the consumer running as a real process sees it.
        "NAME": os.environ.get("GARAGE_TEST_SQLITE", str(VAR_DIR / "test-db.sqlite3")),
    }
else:
    # Several runs on one server must not collide: one test database per process.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("GARAGE_TEST_DB_NAME") or f"test_garage_{os.getpid()}"
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bounded waits: a stuck query or lock becomes an error (the worker retries it through
    # its delay queues; a web request gets an answer) instead of holding a process forever.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={env_int('GARAGE_DB_STATEMENT_TIMEOUT_MS', 30000)} "
        f"-c lock_timeout={env_int('GARAGE_DB_LOCK_TIMEOUT_MS', 10000)}"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Served by WhiteNoise (no DEBUG needed) after `manage.py collectstatic`.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Request bodies are small JSON documents; anything larger is refused (413/400).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GARAGE_MAX_BODY_BYTES", 64 * 1024)

# --- Caches: the throttles' counters must be shared by every web process ---
# Redis when REDIS_URL is set (one round trip per throttled request); otherwise a table in
# the database (created by a migration), shared by all processes without another service.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("GARAGE_CACHE_PREFIX", "garage"),
            # A slow or dead Redis must not hold requests up (the throttle then lets them in).
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "garage_cache",
            "KEY_PREFIX": os.environ.get("GARAGE_CACHE_PREFIX", "garage"),
        }
    }

# --- Who may do what (see access/ and docs/security.md) ---
# Tokens for programs (django-rest-knox: stored hashed, expiring, revocable one by one).
GARAGE_TOKEN_TTL_HOURS = env_int("GARAGE_TOKEN_TTL_HOURS", 30 * 24)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=GARAGE_TOKEN_TTL_HOURS) if GARAGE_TOKEN_TTL_HOURS > 0 else None,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# A validated token is remembered this long by each web process (0: look it up on every
# request). Revoking a token, or a user's roles, takes effect in other processes after it.
GARAGE_TOKEN_CACHE_SECONDS = env_float("GARAGE_TOKEN_CACHE_SECONDS", 5.0)
# Requests per client (user, or address when anonymous): `N/s`, `N/min`, `N/h`, `N/day`, or
# `off`. One counter per client and window, in the shared cache.
# The intake's group commit (intake/writer.py, PostgreSQL): at most this many requests of
# one web process share a commit; 1 turns it off.
GARAGE_INTAKE_GROUP_MAX = env_int("GARAGE_INTAKE_GROUP_MAX", 64)
# The share of a client's limit a web process takes from the shared cache at a time
# (access/throttling.py): 0.01 asks Redis once per 60 requests at 6000/min.
GARAGE_THROTTLE_SHARE = env_float("GARAGE_THROTTLE_SHARE", 0.01)
GARAGE_THROTTLE_RATES = {
    "intake": os.environ.get("GARAGE_INTAKE_RATE", "6000/min"),
    "api": os.environ.get("GARAGE_API_RATE", "6000/min"),
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "api.filters.DjangoFilterBackend",  # strict integer and boolean parameters
        "rest_framework.filters.OrderingFilter",
        "api.filters.SearchFilter",  # errors named `search`
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "COERCE_DECIMAL_TO_STRING": False,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    # Token first: an unauthenticated request gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view: authenticated, and the model permission of its action (or a declared one).
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.ModelActionPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["access.throttling.ApiThrottle"],
    # Proxies in front whose X-Forwarded-For is trusted, for anonymous clients' addresses.
    "NUM_PROXIES": env_int("GARAGE_NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "garage API",
    "DESCRIPTION": "Repair management for car garages: parts, repairs, cars, repair requests.",
    "VERSION": "0.1.0",
    # Served from the app itself (drf-spectacular-sidecar): no CDN needed to read the docs.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DemandeStatutEnum": "metier.models.Demande.Statut",
        "ReparationStatutEnum": "metier.models.Reparation.Statut",
        "DevisStatutEnum": "metier.models_devis.Devis.Statut",
        "OrigineEnum": "metier.models.Origine",
        "ApprobationEnum": "metier.models.Approbation",
        "AbonnementWebhookStatutEnum": "metier.models_webhooks.AbonnementWebhook.Statut",
        "LivraisonWebhookStatutEnum": "metier.models_webhooks.LivraisonWebhook.Statut",
    },
    # The schema and its page are public; everything they describe is not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components, with what writes require (minLength...).
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False},
    # One heading per resource in /api/docs/ (api/schema.py names them), not one "api".
    "TAGS": [
        {"name": "Demandes de réparation", "description": "The intake (202) and its requests."},
        {"name": "Réparations", "description": "Repair orders, their lifecycle and history."},
        {"name": "Lignes des réparations", "description": "Part and labour lines of an order."},
        {"name": "Pièces", "description": "Parts, stock, receptions, parts to reorder."},
        {"name": "Voitures", "description": "Cars and their repair history."},
        {"name": "Clients", "description": "The garage's customers."},
        {"name": "Devis", "description": "Estimates, sent to the customer as a signed link."},
        {
            "name": "Factures",
            "description": "Invoices (gapless numbers), PDF, Factur-X, receivables.",
        },
        {"name": "Avoirs", "description": "Credit notes: the only correction of an invoice."},
        {"name": "Paiements", "description": "Payments and deposits (append-only)."},
        {
            "name": "Remboursements",
            "description": "Refunds of what credit notes cancelled of paid invoices (append-only).",
        },
        {"name": "Webhooks", "description": "Subscriptions to events, and the delivery log."},
        {"name": "Comptes", "description": "Who am I; revoking one's token."},
        {"name": "Santé", "description": "For load balancers and operators: public."},
    ],
}

# --- Messaging (see messaging/config.py for how these are used) ---
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
GARAGE_QUEUE = os.environ.get("GARAGE_QUEUE", "garage")
GARAGE_QUEUE_TYPE = os.environ.get("GARAGE_QUEUE_TYPE", "classic")  # or "quorum"
GARAGE_DELIVERY_LIMIT = env_int("GARAGE_DELIVERY_LIMIT", 20)  # quorum queues only
# Measured with `make bench` (README, Performance): 500/1000 drained fastest.
GARAGE_PREFETCH = env_int("GARAGE_PREFETCH", 1000)
GARAGE_BATCH_SIZE = env_int("GARAGE_BATCH_SIZE", 500)
GARAGE_BATCH_WAIT_MS = env_int("GARAGE_BATCH_WAIT_MS", 5)
# The worker's batch handler, a dotted path: deliveries in, one outcome each out. Only the
# fault-injection suite changes it (to wrap the real one); production keeps the default.
GARAGE_BATCH_HANDLER = os.environ.get("GARAGE_BATCH_HANDLER", "pipeline.handler.handle_batch")
GARAGE_RETRY_LIMIT = env_int("GARAGE_RETRY_LIMIT", 8)
GARAGE_RETRY_BASE_MS = env_int("GARAGE_RETRY_BASE_MS", 1000)
GARAGE_RELAY_INTERVAL = env_float("GARAGE_RELAY_INTERVAL", 1.0)
GARAGE_RELAY_GRACE = env_float("GARAGE_RELAY_GRACE", 2.0)
GARAGE_RELAY_BATCH = env_int("GARAGE_RELAY_BATCH", 500)
# How long a web process gathers broker confirms before marking those requests published
# in one statement (pipeline/outbox.py); well under GARAGE_RELAY_GRACE.
GARAGE_MARK_DELAY_MS = env_int("GARAGE_MARK_DELAY_MS", 100)
# A queued request with no outcome after this long (seconds) is published again (see
# pipeline/outbox.py); 0 turns it off. Long enough that a mere backlog is rarely doubled.
GARAGE_RELAY_REQUEUE_AFTER = env_int("GARAGE_RELAY_REQUEUE_AFTER", 3600)
GARAGE_CONNECT_TIMEOUT = env_float("GARAGE_CONNECT_TIMEOUT", 2.0)
GARAGE_HEARTBEAT = env_int("GARAGE_HEARTBEAT", 30)
GARAGE_MAX_MESSAGE_BYTES = env_int("GARAGE_MAX_MESSAGE_BYTES", 16 * 1024)

# --- Webhooks (webhooks/, README "Webhooks"): the `webhooks` process ---
GARAGE_WEBHOOK_QUEUE = os.environ.get("GARAGE_WEBHOOK_QUEUE", "garage.webhooks")
# Deliveries to loopback, private, link-local addresses: off (server-side request forgery).
GARAGE_WEBHOOK_ALLOW_PRIVATE = env_bool("GARAGE_WEBHOOK_ALLOW_PRIVATE", False)
GARAGE_WEBHOOK_TIMEOUT = env_float("GARAGE_WEBHOOK_TIMEOUT", 10.0)  # seconds per attempt
# Senders of the delivery loop: one subscription is served by one at a time, in order.
GARAGE_WEBHOOK_CONCURRENCY = env_int("GARAGE_WEBHOOK_CONCURRENCY", 4)
# Retries: base * 2^(n-1) seconds after the n-th failure, capped, with jitter.
GARAGE_WEBHOOK_RETRY_BASE_S = env_float("GARAGE_WEBHOOK_RETRY_BASE_S", 5.0)
GARAGE_WEBHOOK_RETRY_CAP_S = env_float("GARAGE_WEBHOOK_RETRY_CAP_S", 3600.0)
# Paused when failing for this long (seconds) with at least this many failures in a row.
GARAGE_WEBHOOK_PAUSE_AFTER_S = env_float("GARAGE_WEBHOOK_PAUSE_AFTER_S", 24 * 3600.0)
GARAGE_WEBHOOK_PAUSE_FAILURES = env_int("GARAGE_WEBHOOK_PAUSE_FAILURES", 10)
# An event whose predecessor (sequence - 1) on its subject has not arrived waits this long.
GARAGE_WEBHOOK_GAP_WAIT_S = env_float("GARAGE_WEBHOOK_GAP_WAIT_S", 60.0)
GARAGE_WEBHOOK_POLL_S = env_float("GARAGE_WEBHOOK_POLL_S", 0.5)  # idle delivery loop
GARAGE_WEBHOOK_MAX_EVENT_BYTES = env_int("GARAGE_WEBHOOK_MAX_EVENT_BYTES", 256 * 1024)

# --- The garage, as its staff see it (admin title, workshop board) ---
GARAGE_NOM = os.environ.get("GARAGE_NOM", "").strip() or "Garage"
# The language of the staff's pages (admin, board); empty: Django's LANGUAGE_CODE. The API
# keeps LANGUAGE_CODE (en-us), its clients read its messages.
GARAGE_LANGUE = os.environ.get("GARAGE_LANGUE", "fr").strip()
# The board polls its fragment this often (ms); the pipeline panel's broker and database
# figures are computed at most once per GARAGE_BOARD_CACHE_SECONDS in each web process.
GARAGE_BOARD_REFRESH_MS = env_int("GARAGE_BOARD_REFRESH_MS", 1000)
GARAGE_BOARD_CACHE_SECONDS = env_float("GARAGE_BOARD_CACHE_SECONDS", 2.0)
GARAGE_BOARD_CARDS = env_int("GARAGE_BOARD_CARDS", 50)  # cards shown per column at most
# The staff's pages log in through the admin's login page (session).
LOGIN_URL = "admin:login"

# The domain's bounds (duree, description, ids, prices) are constants in metier/limits.py.


def env_decimal(name: str, default: str) -> Decimal:
    value = os.environ.get(name) or default
    try:
        return Decimal(value)
    except ArithmeticError as exc:
        raise ImproperlyConfigured(f"{name} must be a decimal number, got {value!r}") from exc


# Money: the hourly labour rate and the VAT rate, copied onto each repair when it is made.
GARAGE_TAUX_HORAIRE = env_decimal("GARAGE_TAUX_HORAIRE", "60.00")
GARAGE_TAUX_TVA = env_decimal("GARAGE_TAUX_TVA", "0.20")

# Estimates (metier/services/devis.py): days an estimate (and its approval link) stays valid,
# and whether every order needs an approved estimate before the work starts. Off: an order
# that never had an estimate (the seed's path: intake, worker) starts as before; one that has
# an estimate needs the customer's approval of every line it does.
GARAGE_DEVIS_VALIDITE_JOURS = env_int("GARAGE_DEVIS_VALIDITE_JOURS", 30)
GARAGE_DEVIS_OBLIGATOIRE = env_bool("GARAGE_DEVIS_OBLIGATOIRE", False)

# --- Invoicing: the garage's identity and terms, printed on every invoice (copied at issue) ---
GARAGE_NOM = os.environ.get("GARAGE_NOM", "Garage (nom à configurer)")
GARAGE_ADRESSE = os.environ.get("GARAGE_ADRESSE", "")
GARAGE_SIRET = os.environ.get("GARAGE_SIRET", "")
GARAGE_TVA_INTRA = os.environ.get("GARAGE_TVA_INTRA", "")
GARAGE_PAYS = os.environ.get("GARAGE_PAYS", "FR")
GARAGE_DELAI_PAIEMENT_JOURS = env_int("GARAGE_DELAI_PAIEMENT_JOURS", 30)
GARAGE_CONDITIONS_PAIEMENT = os.environ.get(
    "GARAGE_CONDITIONS_PAIEMENT",
    "Paiement à réception, par carte, espèces, virement ou chèque. "
    "Pas d'escompte pour paiement anticipé.",
)
GARAGE_TAUX_PENALITES = os.environ.get(
    "GARAGE_TAUX_PENALITES", "trois fois le taux d'intérêt légal"
)
GARAGE_INDEMNITE_RECOUVREMENT = env_decimal("GARAGE_INDEMNITE_RECOUVREMENT", "40.00")
# How labour hours were counted (arrêté 87-06/C): "temps passé" or "barème".
GARAGE_MODE_MAIN_OEUVRE = os.environ.get("GARAGE_MODE_MAIN_OEUVRE", "temps passé")
# Numbers: `{annee}` and `{numero}` (a format spec is allowed, e.g. {numero:06d}).
GARAGE_FORMAT_FACTURE = os.environ.get("GARAGE_FORMAT_FACTURE", "F{annee}-{numero:06d}")
GARAGE_FORMAT_AVOIR = os.environ.get("GARAGE_FORMAT_AVOIR", "A{annee}-{numero:06d}")
# 1: each sequence starts again at 1 every year (the year is in the number); 0: never.
GARAGE_NUMEROTATION_ANNUELLE = env_bool("GARAGE_NUMEROTATION_ANNUELLE", True)
for _name, _format in (
    ("GARAGE_FORMAT_FACTURE", GARAGE_FORMAT_FACTURE),
    ("GARAGE_FORMAT_AVOIR", GARAGE_FORMAT_AVOIR),
):
    # A bad format must stop the start-up, not an invoice's issue.
    try:
        _one, _two = _format.format(annee=2026, numero=1), _format.format(annee=2026, numero=2)
    except (KeyError, IndexError, ValueError) as _exc:
        raise ImproperlyConfigured(f"{_name}: {_format!r} is not a valid format") from _exc
    if _one == _two or ("{annee" not in _format and GARAGE_NUMEROTATION_ANNUELLE):
        raise ImproperlyConfigured(
            f"{_name} must contain {{numero}} (and {{annee}} when numbering restarts yearly)"
        )

# --- Logs, metrics, health (observability/) ---
# `plain` for people, `json` for machines: one JSON object per line. UTC, with the request id.
GARAGE_LOG_FORMAT = os.environ.get("GARAGE_LOG_FORMAT") or "plain"
LOGGING = django_logging(GARAGE_LOG_FORMAT, os.environ.get("GARAGE_LOG_LEVEL") or "INFO")
# Python's warnings too go through logging (logger `py.warnings`): JSON lines stay JSON.
logging.captureWarnings(True)
# /metrics answers `Authorization: Bearer <token>` only; without a token it is off (404).
# A local run (DEBUG) gets one generated in var/metrics-token.
GARAGE_METRICS_TOKEN = os.environ.get("GARAGE_METRICS_TOKEN", "")
if not GARAGE_METRICS_TOKEN and DEBUG:
    import secrets

    GARAGE_METRICS_TOKEN = _private_file(VAR_DIR / "metrics-token", secrets.token_urlsafe)
# /health/ready fails when the oldest unpublished request is older than this (seconds).
GARAGE_READY_MAX_OUTBOX_LAG = env_float("GARAGE_READY_MAX_OUTBOX_LAG", 60.0)
# The broker probe (readiness) and the queue depths (metrics) are reused this long (s).
GARAGE_HEALTH_BROKER_CACHE = env_float("GARAGE_HEALTH_BROKER_CACHE", 5.0)
# prometheus-client's multiprocess folder (PROMETHEUS_MULTIPROC_DIR; default var/metrics):
# set before anything imports prometheus_client.
PROMETHEUS_MULTIPROC_DIR = str(configure_metrics_directory())

# --- Events and notifications (issue 12: pipeline/events.py, notifications/) ---
GARAGE_EVENTS_EXCHANGE = os.environ.get("GARAGE_EVENTS_EXCHANGE", "garage.events")
GARAGE_EVENTS_SOURCE = os.environ.get("GARAGE_EVENTS_SOURCE", "/garage")  # CloudEvents `source`
# Publish each transaction's events right after its commit (off: the relay alone does).
GARAGE_EVENTS_AFTER_COMMIT = env_bool("GARAGE_EVENTS_AFTER_COMMIT", True)
GARAGE_NOTIFIER_QUEUE = os.environ.get("GARAGE_NOTIFIER_QUEUE", "garage.notifier")
# The consuming services' queues and what each is bound to (declared by every publisher, so
# that an event always has somewhere to go). Another service adds its own entry.
GARAGE_EVENT_QUEUES = {
    GARAGE_NOTIFIER_QUEUE: [
        "reparation.terminee",
        "reparation.planifiee",
        "devis.envoye",
        "rappel.du",
    ],
    GARAGE_WEBHOOK_QUEUE: ["#"],  # every event: the subscriptions choose (webhooks/)
}
GARAGE_NOTIFIER_BATCH_SIZE = env_int("GARAGE_NOTIFIER_BATCH_SIZE", 20)
# The customer's pages are linked from messages: the public address of the site.
GARAGE_URL_PUBLIQUE = os.environ.get("GARAGE_URL_PUBLIQUE", "http://localhost:8000").rstrip("/")
GARAGE_NOTIFIER_TEMPLATES = os.environ.get("GARAGE_NOTIFIER_TEMPLATES", "")  # a folder, or built-in
# SMS: "file" (one file per message in GARAGE_SMS_DIR, for local runs), "http" (the provider
# at GARAGE_SMS_URL, bearer GARAGE_SMS_TOKEN), or "" (no SMS is sent: recorded as failed).
GARAGE_SMS_BACKEND = os.environ.get("GARAGE_SMS_BACKEND", "file")
GARAGE_SMS_DIR = os.environ.get("GARAGE_SMS_DIR", str(VAR_DIR / "sms"))
GARAGE_SMS_URL = os.environ.get("GARAGE_SMS_URL", "")
GARAGE_SMS_TOKEN = os.environ.get("GARAGE_SMS_TOKEN", "")
GARAGE_SMS_SENDER = os.environ.get("GARAGE_SMS_SENDER", "GARAGE")
GARAGE_SMS_TIMEOUT = env_float("GARAGE_SMS_TIMEOUT", 5.0)
# Email: Django's backends (SMTP in production; the console backend for a local run).
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "garage@localhost")
# A notifier that took a message to send and died: after this long another may send it.
GARAGE_NOTIFIER_LEASE = env_float("GARAGE_NOTIFIER_LEASE", 30.0)
# --- Password guessing (django-axes; access/lockout.py) ---
# After GARAGE_LOGIN_FAILURE_LIMIT failed logins for one username, or from one address, that
# username or address is refused (429 page) for GARAGE_LOGIN_LOCKOUT_MINUTES, even with the
# right password. An administrator unlocks at once in the admin ("Tentatives d'accès").
GARAGE_LOGIN_FAILURE_LIMIT = env_int("GARAGE_LOGIN_FAILURE_LIMIT", 5)
GARAGE_LOGIN_LOCKOUT_MINUTES = env_int("GARAGE_LOGIN_LOCKOUT_MINUTES", 15)
AXES_ENABLED = env_bool("GARAGE_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = GARAGE_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=GARAGE_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "access/verrouille.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "access.lockout.client_ip"
AXES_VERBOSE = False
