"""Ombud settings. This is the one module that reads the environment.

Every value a deployment may change comes from an environment variable named here; everything
else is fixed in code. With DEBUG off the process refuses to start without a real SECRET_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a random string of at least 50 characters "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(64))'), "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for DEBUG=0: use a random string of at least 50 characters."
    )

# Keys retired from SECRET_KEY that still verify sessions and tokens signed before a rotation;
# drop them once those have expired (SESSION_COOKIE_AGE). See docs/security.md, "Keys".
SECRET_KEY_FALLBACKS = _env_list("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")

INSTALLED_APPS = [
    # The admin requires a two-factor sign-in like every staff page (config/admin.py).
    "config.admin.OmbudAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    # Swagger UI's files served from here (/api/docs/), not from a CDN.
    "drf_spectacular_sidecar",
    "csp",
    "django_ratelimit",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "audits",
    "privacy",
    "governance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so it sees every failed sign-in and answers a locked-out one with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.i18n",
                "governance.pages.access.navigation",
            ],
        },
    },
]

# The embedded default is a SQLite file next to manage.py so a first run needs no server;
# production points DATABASE_URL at PostgreSQL.
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
):
    # Parameters bound by the server, and a statement run five times on a connection is
    # prepared: PostgreSQL then stops planning the same joins at every request (several ms
    # for a complaint list). A transaction-mode pooler (PgBouncer) in front of the database
    # needs DATABASE_PREPARED_STATEMENTS=0.
    # Added to the options DATABASE_URL gives (sslmode, sslrootcert, ...), never in their place.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock at BEGIN, so two writers serialise instead of failing
    # half-way with "database is locked"; WAL lets readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id for every new or changed password; older hashes still verify and are upgraded at
# the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# django-axes first: it refuses a locked-out username before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in (governance/pages/accounts.py): a password, then for staff a TOTP code. After
# AXES_FAILURE_LIMIT failed passwords or codes for one user name, that name is locked for
# AXES_COOLOFF_TIME hours, whatever address the attempts come from; as many failures from one
# address lock that address, whatever names it tries.
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "home"
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
# Failures simply expire after the cool-off: resetting them on a success would let anyone clear
# a victim's count by signing in to an account of their own from the same address.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "ombud/locked_out.html"
AXES_VERBOSE = False
# Every failed sign-in is kept (admin: Axes, access failures) for the security log.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# django-axes keeps a failed attempt's form data: never a set-up or authenticator code in it.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "token"]
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Ombud")
# The admin never shows an authenticator's secret key or its QR code: whoever reads it can make
# that person's codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the few static files (one style sheet) from the apps' folders, so no
# separate web server or collectstatic step is needed; STATIC_ROOT only for `collectstatic`.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ombud@localhost")

# A session ends after SESSION_COOKIE_AGE seconds without a request (each request renews it),
# and when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(2 * 3600)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = not DEBUG and _env_bool("SECURE_COOKIES", True)

# --- HTTPS and browser protections (`manage.py check --deploy` is clean with DEBUG=0) ---------
# With DEBUG off, every http request is redirected to https. Behind a proxy that ends TLS and
# talks http to Ombud, set SECURE_PROXY_SSL_HEADER to the header it sets (for example
# HTTP_X_FORWARDED_PROTO, meaning "X-Forwarded-Proto: https"); only if the proxy always sets or
# strips that header, or a client could claim https. SECURE_SSL_REDIRECT=0 turns the redirect
# off where the proxy does it (and for the test suite's plain-http servers).
SECURE_SSL_REDIRECT = not DEBUG and _env_bool("SECURE_SSL_REDIRECT", True)
_PROXY_SSL_HEADER = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None
# Browsers that once saw Ombud over https refuse plain http to it, and its subdomains, for a
# year. Preload (on by default, as `check --deploy` expects) only allows the host to be listed
# in the browsers' preload lists; submitting it there is a separate, deliberate step.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent by config.middleware: no page needs a camera, a microphone, the location and the like.
OMBUD_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)

# Content-Security-Policy on every response (django-csp 4 format): scripts, styles and images
# only from Ombud itself; no inline script at all, and no inline style unless the page gives it
# the request's nonce (the transparency page) or its hash (the frozen report pages); no plugins,
# no framing, forms post only back to Ombud.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        # One style attribute, by the hash of its exact text: `border-top: 0` on the pager of
        # django-simple-history's admin history page. Any other style attribute stays blocked.
        "style-src-attr": [
            "'unsafe-hashes'",
            "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='",
        ],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Nothing accepts a file (the API takes JSON only, the pages plain forms), so a request body
# over 1 MB, or a form with over 200 fields, is refused before any view runs.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Cache and rate limits ----------------------------------------------------------------
# The rate limits count in the default cache, so every app server must share it: set REDIS_URL
# (redis://host:6379/0) in any deployment with more than one process. Without it each process
# keeps its own counts in memory, which is right for the embedded demo and the tests, and in a
# single-process deployment; with N processes a client gets up to N times the limit.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# django-ratelimit's checks know only third-party cache backends. Django's own RedisCache
# counts with Redis's atomic INCR, so the "not officially supported" warning (W001) does not
# apply to it; the in-memory cache's "not shared" error (E003, with W001) is the per-process
# trade-off described above, so it is silenced only when REDIS_URL is unset.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if not REDIS_URL:
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
# How many proxies in front of Ombud append the client's address to X-Forwarded-For. With 0 the
# header is ignored (a client could write anything in it) and the connection's address is the
# client's; with N, the Nth address from the right is. Every address Ombud counts or logs (page
# limits, API throttles, django-axes, the security log, a complaint's filing address) is read this
# one way, by governance.security_log.client_ip.
OMBUD_TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
RATELIMIT_IP_META_KEY = "governance.security_log.client_ip"
AXES_CLIENT_IP_CALLABLE = "governance.security_log.client_ip"
# If the shared cache is down, the limits let requests through rather than failing every
# sign-in (governance/pages/limits.py); django-axes still locks names and addresses.
RATELIMIT_FAIL_OPEN = True
# Requests per period ("10/m", "5/h") from one client address on the public pages
# (governance/pages/limits.py), plus one count per user name tried at the password step.
OMBUD_RATE_LIMITS = {
    "sign-in": os.environ.get("RATE_LIMIT_SIGN_IN", "10/m"),
    "sign-in-username": os.environ.get("RATE_LIMIT_SIGN_IN_USERNAME", "10/m"),
    "two-factor": os.environ.get("RATE_LIMIT_TWO_FACTOR", "10/m"),
    "sign-up": os.environ.get("RATE_LIMIT_SIGN_UP", "5/h"),
    "public": os.environ.get("RATE_LIMIT_PUBLIC", "120/m"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous caller gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        # A browser session counts only once a staff user has given their second factor.
        "governance.api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "governance.api.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "governance.api.schema.OmbudAutoSchema",
    "EXCEPTION_HANDLER": "governance.api.exceptions.domain_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # JSON only: no endpoint takes a file or a form.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Requests per caller: anonymous ones by address, signed-in ones by user (the shared cache
    # counts, as for the pages' limits). The classes read these rates at each request.
    "DEFAULT_THROTTLE_CLASSES": [
        "governance.api.throttles.AnonThrottle",
        "governance.api.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/min"),
    },
    # The same reading of X-Forwarded-For as client_ip (DRF's own default, None, trusts it).
    "NUM_PROXIES": OMBUD_TRUSTED_PROXIES,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Ombud API",
    "DESCRIPTION": (
        "Complaints, decisions, appeals and policy clauses of the Ombud system of record. "
        "Every write is checked against the caller's role and recorded in the ledger."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its documentation page are public and read no credentials: a token sent
    # to them is ignored, not answered 401, so they cannot serve to test guessed tokens
    # without the anonymous throttle counting it.
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's script and style from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ComplaintStatusEnum": "governance.choices.ComplaintStatus",
        "DecisionOutcomeEnum": "governance.choices.DecisionOutcome",
        "AppealOutcomeEnum": "governance.choices.AppealOutcome",
        "SeverityEnum": "governance.choices.Severity",
        "UrgencyEnum": "governance.choices.Urgency",
        "ChannelEnum": "governance.choices.Channel",
        "PrivacyRequestKindEnum": "privacy.choices.RequestKind",
        "PrivacyRequestChannelEnum": "privacy.choices.RequestChannel",
        "PrivacyRequestStatusEnum": "privacy.choices.RequestStatus",
    },
}

# --- Ombud's own settings -------------------------------------------------------------------

# The deployment's name: it prefixes references and, later, signs the ledger's checkpoints.
OMBUD_ORIGIN = os.environ.get("OMBUD_ORIGIN", "ombud.local")

# Working days (for "15 working days") are counted in this time zone.
OMBUD_BUSINESS_TIME_ZONE = os.environ.get("OMBUD_BUSINESS_TIME_ZONE", "Asia/Shanghai")

# The ledger's Ed25519 signing key: a base64 32-byte seed in OMBUD_LEDGER_SIGNING_KEY, or a file
# holding one named by OMBUD_LEDGER_SIGNING_KEY_FILE. With DEBUG on and neither set, a key is
# made once in var/ledger-signing.key (never do that in production: the key must be kept safe
# and backed up apart from the database). Retired keys' verifier keys stay listed in
# OMBUD_LEDGER_PUBLIC_KEYS (comma-separated) so old checkpoints still verify.
OMBUD_LEDGER_SIGNING_KEY = os.environ.get("OMBUD_LEDGER_SIGNING_KEY", "")
OMBUD_LEDGER_SIGNING_KEY_FILE = os.environ.get(
    "OMBUD_LEDGER_SIGNING_KEY_FILE", str(BASE_DIR / "var" / "ledger-signing.key") if DEBUG else ""
)
OMBUD_LEDGER_PUBLIC_KEYS = _env_list("OMBUD_LEDGER_PUBLIC_KEYS")

# Key-encryption keys (KEKs) that wrap each data subject's own data key (see privacy/keys.py).
# OMBUD_KEKS lists them inline as "id:base64-32-bytes" pairs separated by commas, newest last;
# OMBUD_KEKS_FILE names a file with one "id base64" pair per line instead. New data keys and
# `manage.py rotate_keys` use the newest; older ones stay listed until nothing uses them.
# With DEBUG on and neither set, one is made in var/keks (never in production).
OMBUD_KEKS = os.environ.get("OMBUD_KEKS", "")
OMBUD_KEKS_FILE = os.environ.get("OMBUD_KEKS_FILE", str(BASE_DIR / "var" / "keks") if DEBUG else "")

# `manage.py flush` empties append-only tables only where this is on (the test suite's own
# databases); anywhere else Ombud refuses it, as the record must not be wiped.
OMBUD_ALLOW_FLUSH = _env_bool("OMBUD_ALLOW_FLUSH", False)

# The key behind actor pseudonyms in the ledger and for supervisors. Keep it stable: a new
# key gives every actor a new pseudonym. Defaults to a value derived from SECRET_KEY.
OMBUD_PSEUDONYM_KEY = os.environ.get("OMBUD_PSEUDONYM_KEY", "")

# Deadline targets: (amount, unit), unit one of "hours", "days" (calendar) or "working_days".
# Decision targets count from receipt; a triage that changes the priority recomputes them.
OMBUD_DEADLINES = {
    "acknowledge": (24, "hours"),
    "triage": (48, "hours"),
    "decide": {
        "P1": (24, "hours"),
        "P2": (72, "hours"),
        "P3": (7, "days"),
        "P4": (15, "working_days"),
    },
}

# An appeal may be filed within this many calendar months of the decision (DSA Art. 20(1)).
OMBUD_APPEAL_WINDOW_MONTHS = 6

# A person's request to delete, or to receive a copy of, their data is due this long after it
# is received: (amount, unit), unit as in OMBUD_DEADLINES. Overdue requests are escalated to
# the privacy officers by `manage.py sla_escalate`, as missed complaint deadlines are.
OMBUD_PRIVACY_REQUEST_DUE = (15, "working_days")

# Early warning (audits/early_warning.py): a category's complaints on a business day are a spike
# when they reach its trailing 28-day mean plus `sigma` standard deviations (taken as at least 1)
# and number at least `min_count`, so a quiet category's handful does not raise an alarm.
OMBUD_EARLY_WARNING = {"sigma": 3.0, "min_count": 10}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per sign-in, failure, lockout, sign-out and access change
        # (governance/security_log.py); at INFO whatever LOG_LEVEL says, to the console via root.
        "ombud.security": {"level": "INFO"},
    },
}

# Reverting from the admin's history page would write around the services (and the ledger).
SIMPLE_HISTORY_REVERT_DISABLED = True

# Oversight reports (audits/figures.py): a count below this many records is withheld from a
# published report, with any figure that would let a reader work it out.
OMBUD_REPORT_MIN_CELL = int(os.environ.get("OMBUD_REPORT_MIN_CELL", "5"))
