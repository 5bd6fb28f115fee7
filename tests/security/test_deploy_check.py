"""`manage.py check --deploy` is clean (no warning either) with the production environment
the project ships (deploy/systemd/hub.env.example), and the session, CSRF and header
settings are the strong ones."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
HUB_ENV = ROOT / "deploy" / "systemd" / "hub.env.example"
ENV_EXAMPLE = ROOT / ".env.example"


def env_file(path: Path) -> dict[str, str]:
    """NAME=value lines of an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def production_env(**changes: str) -> dict[str, str]:
    """The process environment with no hub setting of the caller's, then the shipped
    production file with what an operator must fill in: a real key, the SMS provider's
    account and templates."""
    from alerts.domain.messages import TEMPLATES

    hub_settings = set(env_file(ENV_EXAMPLE)) | set(env_file(HUB_ENV)) | {"DJANGO_SETTINGS_MODULE"}
    base = {k: v for k, v in os.environ.items() if k not in hub_settings}
    shipped = env_file(HUB_ENV)
    assert shipped["DEBUG"] == "false"
    return {
        **base,
        **shipped,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALIYUN_ACCESS_KEY_ID": "LTAI-operator-key",
        "ALIYUN_ACCESS_KEY_SECRET": "operator-secret",
        "ALIYUN_SMS_SIGN_NAME": "南浔欠薪指挥",
        "ALIYUN_SMS_TEMPLATES": json.dumps(
            {name: f"SMS_{n:06d}" for n, name in enumerate(TEMPLATES)}
        ),
        **changes,
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py, fixed arguments)
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_check_deploy_is_clean_with_the_production_environment() -> None:
    result = check_deploy(production_env())

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)" in output, output
    assert not re.search(r"\([a-z_]+\.[EW]\d{3}\)", output), output


def test_check_deploy_fails_on_a_warning() -> None:
    # Without HSTS Django warns (security.W004); at --fail-level WARNING that fails the check.
    result = check_deploy(production_env(SECURE_HSTS_SECONDS="0"))

    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_production_settings_are_the_strong_ones() -> None:
    names = [
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_AGE",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "X_FRAME_OPTIONS",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY",
        "AUTHENTICATION_BACKENDS",
        "LOGIN_FAILURE_LIMIT",
        "LOGIN_IP_FAILURE_LIMIT",
    ]
    code = (
        "import django, json;"
        "django.setup();"
        "from django.conf import settings;"
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    env = {**production_env(), "DJANGO_SETTINGS_MODULE": "command_center.settings"}
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)

    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["SESSION_COOKIE_AGE"] == 8 * 3600
    assert values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert values["AUTHENTICATION_BACKENDS"] == ["command_center.auth.GuardedModelBackend"]
    assert values["LOGIN_FAILURE_LIMIT"] == 5
    assert values["LOGIN_IP_FAILURE_LIMIT"] == 20


def test_pages_send_the_protective_headers(db: None) -> None:
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    csrf = response.cookies["csrftoken"]
    assert csrf["httponly"]
    assert csrf["samesite"] == "Lax"


def test_login_gives_a_new_browser_session_cookie(db: None, settings: Any) -> None:
    User.objects.create_user("shift_officer", password="a long enough passphrase")
    client = Client()
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key

    response = client.post(
        "/accounts/login/", {"username": "shift_officer", "password": "a long enough passphrase"}
    )

    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value
    assert cookie.value != before  # the key is cycled: no session fixation
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["expires"]  # ends with the browser
    assert not cookie["max-age"]


@pytest.mark.parametrize("password", ["Sh0rt-pass!", "12345678901234"])
def test_weak_passwords_are_refused(db: None, password: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_uncommon_password_is_accepted(db: None) -> None:
    validate_password("river lantern duty 7")
