"""Settings read from the environment: the process refuses to start without a real SECRET_KEY."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k3y-" + "x7Q9mZ2pL5vR8tW1" * 4  # 68 characters, not the development key
DEV_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"

PRINT_DATABASE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({k: db.get(k) for k in ('ENGINE', 'NAME', 'USER', 'HOST', 'PORT')} "
    "| {'OPTIONS': db.get('OPTIONS', {})}, default=str))"
)


def _run(args: list[str], **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run `python <args>` in the project root with the test environment changed by `env`.

    A value of None removes the variable; DATABASE_URL is removed unless given.
    """
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings"
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _check(**env: str | None) -> subprocess.CompletedProcess[str]:
    return _run(["manage.py", "check"], **env)


def _database(**env: str | None) -> dict[str, object]:
    result = _run(["-c", PRINT_DATABASE], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- SECRET_KEY --------------------------------------------------------------------------------


def test_production_without_secret_key_refuses_to_start():
    result = _check(DEBUG="0", SECRET_KEY=None)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set. Set SECRET_KEY" in result.stderr
    assert "System check identified no issues" not in result.stdout


def test_production_with_an_empty_secret_key_refuses_to_start():
    result = _check(DEBUG="0", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_is_the_default_when_debug_is_unset():
    result = _check(DEBUG=None, SECRET_KEY=None)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("key", ["short", "x" * 49, DEV_KEY], ids=["short", "49-chars", "dev-key"])
def test_production_with_a_weak_secret_key_refuses_to_start(key):
    result = _check(DEBUG="0", SECRET_KEY=key)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_with_a_strong_secret_key_starts():
    result = _check(DEBUG="0", SECRET_KEY=STRONG_KEY)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("debug", ["1", "true", "yes", "on", "True"])
def test_development_without_secret_key_starts(debug):
    result = _check(DEBUG=debug, SECRET_KEY=None)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_development_accepts_a_short_secret_key():
    result = _check(DEBUG="1", SECRET_KEY="short")

    assert result.returncode == 0, result.stderr


def test_development_key_is_used_only_in_development():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY)"
    )

    dev = _run(["-c", code], DEBUG="1", SECRET_KEY=None)
    prod = _run(["-c", code], DEBUG="0", SECRET_KEY=STRONG_KEY)

    assert dev.stdout.strip() == DEV_KEY
    assert prod.stdout.strip() == STRONG_KEY


# --- DATABASE_URL ------------------------------------------------------------------------------


def test_database_url_selects_postgresql():
    database = _database(
        DEBUG="0",
        SECRET_KEY=STRONG_KEY,
        DATABASE_URL="postgres://ombud:s3cret@db.internal:6543/ombud_prod",
    )

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "ombud_prod"
    assert database["USER"] == "ombud"
    assert database["HOST"] == "db.internal"
    assert str(database["PORT"]) == "6543"
    # The SQLite-only connection options are not applied to PostgreSQL.
    assert "transaction_mode" not in database["OPTIONS"]


def test_postgresql_prepares_statements_keeping_the_url_s_own_options():
    url = "postgres://u@db.internal:5432/ombud?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    database = _database(DEBUG="1", SECRET_KEY=None, DATABASE_URL=url)
    # TLS as the URL asks, and statements bound and prepared on the server
    assert database["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    # behind a transaction-mode pooler: off, and the URL's options still there
    off = _database(DEBUG="1", SECRET_KEY=None, DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS="0")
    assert off["OPTIONS"] == {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}


def test_database_url_postgresql_scheme_alias():
    database = _database(
        DEBUG="1", SECRET_KEY=None, DATABASE_URL="postgresql://u@localhost:5432/ombud"
    )

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "ombud"


def test_without_database_url_sqlite_next_to_manage_py_is_used():
    database = _database(DEBUG="1", SECRET_KEY=None)

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(str(database["NAME"])) == ROOT / "db.sqlite3"
    # Writers take SQLite's lock at BEGIN so two of them serialise instead of failing.
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_database_url_names_another_sqlite_file(tmp_path):
    target = tmp_path / "other.sqlite3"

    database = _database(DEBUG="1", SECRET_KEY=None, DATABASE_URL=f"sqlite:///{target}")

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(target)


# --- keys a deployment must hold (check --deploy) ----------------------------------------------


@pytest.mark.parametrize(
    ("missing", "check_id"),
    [
        ({"OMBUD_PSEUDONYM_KEY": None}, "privacy.E002"),
        ({"OMBUD_PSEUDONYM_KEY": "too-short"}, "privacy.E002"),
        ({"OMBUD_LEDGER_SIGNING_KEY": None}, "audits.E001"),
        ({"OMBUD_LEDGER_SIGNING_KEY": "bm90LTMyLWJ5dGVz"}, "audits.E001"),
        ({"OMBUD_KEKS": None}, "privacy.E001"),
    ],
)
def test_the_deploy_check_refuses_a_deployment_without_its_keys(missing, check_id):
    env: dict[str, str | None] = {"OMBUD_PSEUDONYM_KEY": "p" * 40, **missing}
    result = _run(["manage.py", "check", "--deploy"], DEBUG="0", SECRET_KEY=STRONG_KEY, **env)

    assert result.returncode != 0
    assert check_id in result.stderr
    others = {"privacy.E001", "privacy.E002", "audits.E001"} - {check_id}
    assert not [other for other in others if other in result.stderr]
