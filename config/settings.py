"""Ombud settings. This is the one module that reads the environment.

Every value a deployment may change comes from an environment variable named here; everything
else is fixed in code. With DEBUG off the process refuses to start without a real SECRET_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
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
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Ombud")

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
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "governance.api.exceptions.domain_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Ombud API",
    "DESCRIPTION": (
        "Complaints, decisions, appeals and policy clauses of the Ombud system of record. "
        "Every write is checked against the caller's role and recorded in the ledger."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
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
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Reverting from the admin's history page would write around the services (and the ledger).
SIMPLE_HISTORY_REVERT_DISABLED = True

# Oversight reports (audits/figures.py): a count below this many records is withheld from a
# published report, with any figure that would let a reader work it out.
OMBUD_REPORT_MIN_CELL = int(os.environ.get("OMBUD_REPORT_MIN_CELL", "5"))
