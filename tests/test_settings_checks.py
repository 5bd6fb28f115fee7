"""Production settings (`manage.py check --deploy`) and the API's published contract."""

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
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.html import page_urls

MANAGE = Path(settings.BASE_DIR) / "manage.py"
SETTINGS_VARS = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "DJANGO_SETTINGS_MODULE",
    "SMS_BACKEND",
    "PUBLIC_BASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_MESSAGING_SERVICE_SID",
    "ALIYUN_ACCESS_KEY_ID",
    "ALIYUN_ACCESS_KEY_SECRET",
    "ALIYUN_SMS_SIGN_NAME",
    "ALIYUN_SMS_TEMPLATES",
)
PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "hub.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hub",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SMS_BACKEND": "twilio",
    "PUBLIC_BASE_URL": "https://hub.example.org",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM": "+15005550006",
}


def check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` in a fresh process with only `env` as hub settings."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    return subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, str(MANAGE), "check", "--deploy"],
        env={**base, **env},
        cwd=MANAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def issues(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The check ids reported, e.g. ['security.W021', 'hub.E001']."""
    return re.findall(r"\(([a-z_]+\.[EW]\d{3})\)", result.stdout + result.stderr)


def test_check_deploy_passes_with_production_variables() -> None:
    result = check_deploy(**PRODUCTION, SECRET_KEY=secrets.token_urlsafe(64))

    assert result.returncode == 0, result.stdout + result.stderr
    assert not [i for i in issues(result) if ".E" in i], result.stdout + result.stderr


def test_check_deploy_has_no_warnings_with_production_variables() -> None:
    result = check_deploy(**PRODUCTION, SECRET_KEY=secrets.token_urlsafe(64))

    assert result.returncode == 0
    assert issues(result) == [], result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_development_backends_without_debug() -> None:
    result = check_deploy(DEBUG="false", ALLOWED_HOSTS="hub.example.org")

    assert result.returncode != 0
    found = set(issues(result))
    assert {"hub.E001", "hub.E002", "hub.E003"} <= found, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("missing", "error"),
    [("SECRET_KEY", "hub.E001"), ("DATABASE_URL", "hub.E002"), ("REDIS_URL", "hub.E003")],
)
def test_check_deploy_names_each_missing_production_variable(missing: str, error: str) -> None:
    env = {**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(64)}
    del env[missing]

    result = check_deploy(**env)

    assert result.returncode != 0
    assert {i for i in issues(result) if i.startswith("hub.")} == {error}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"SMS_BACKEND": "console"}, "hub.E010"),
        ({"TWILIO_AUTH_TOKEN": ""}, "hub.E011"),
        ({"TWILIO_FROM": ""}, "hub.E011"),
        ({"PUBLIC_BASE_URL": "http://hub.example.org"}, "hub.E013"),
        ({"SMS_BACKEND": "aliyun"}, "hub.E012"),
    ],
)
def test_check_deploy_refuses_an_sms_set_up_that_would_alert_nobody(
    change: dict[str, str], error: str
) -> None:
    env = {**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(64), **change}

    result = check_deploy(**env)

    assert result.returncode != 0
    assert {i for i in issues(result) if i.startswith("hub.")} == {error}, result.stderr


def test_check_deploy_passes_with_a_complete_aliyun_set_up() -> None:
    from alerts.domain.messages import TEMPLATES

    templates = {name: f"SMS_{n:06d}" for n, name in enumerate(TEMPLATES)}
    env = {
        **PRODUCTION,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SMS_BACKEND": "aliyun",
        "ALIYUN_ACCESS_KEY_ID": "LTAI-test",
        "ALIYUN_ACCESS_KEY_SECRET": "secret",
        "ALIYUN_SMS_SIGN_NAME": "南浔欠薪指挥",
        "ALIYUN_SMS_TEMPLATES": json.dumps(templates),
    }
    result = check_deploy(**env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_development_defaults_pass_the_hub_checks_with_debug() -> None:
    result = check_deploy(DEBUG="true")
    assert not [i for i in issues(result) if i.startswith("hub.")], result.stdout


def settings_value(expression: str, **env: str) -> str:
    """Evaluate `expression` against the settings of a fresh process with `env`."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    code = (
        "import django, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'command_center.settings');"
        "django.setup();"
        "from django.conf import settings;"
        f"print({expression})"
    )
    result = subprocess.run(  # noqa: S603 (fixed interpreter and code)
        [sys.executable, "-c", code],
        env={**base, **env},
        cwd=MANAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_postgres_connections_are_not_persistent_under_asgi() -> None:
    value = settings_value(
        "settings.DATABASES['default']['CONN_MAX_AGE']",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/hub",
    )
    assert value == "0"


# --- the published API contract -----------------------------------------------------------------


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def test_openapi_schema_lists_the_case_endpoints(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/cases"])
    assert "get" in paths["/api/v1/cases/{case_number}"]
    assert "post" in paths["/api/v1/cases/{case_number}/transitions"]
    assert "/api/v1/fund" in paths
    assert "/api/v1/blacklist" in paths


def test_openapi_schema_documents_both_authentications(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    kinds = {(s["type"], s.get("scheme"), s.get("in")) for s in schemes.values()}
    assert ("http", "bearer", None) in kinds
    assert any(kind == "apiKey" and where == "cookie" for kind, _, where in kinds)


def test_openapi_intake_body_names_its_fields(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/v1/cases"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"channel", "complainant", "workers_count", "amount_owed", "employer", "town"} <= set(
        body["required"]
    )
    assert body.get("additionalProperties") is False


def test_api_docs_use_no_external_host(db: None) -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()

    urls = page_urls(html, frozenset({"src", "href"}))
    assert urls, "the docs page loads its assets"
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        if url.startswith(settings.STATIC_URL):
            path = url.removeprefix(settings.STATIC_URL)
            found = finders.find(path)
            assert found, f"{url} is not served from the project's static files"
            if path.endswith((".css", ".js")) and not path.endswith("bundle.js"):
                text = Path(found).read_text(errors="replace")
                fetched = re.findall(r"(?:@import|url\()\s*[\"']?(https?:)?//", text)
                assert not fetched, f"{url} fetches from another host"
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)
    config = re.search(r'id="swagger-settings">(.*?)</script>', html, re.S)
    assert config is not None
    swagger = json.loads(config.group(1))
    assert swagger["url"].startswith("/")
    # The online validator badge (validator.swagger.io) only appears in the standalone layout.
    assert swagger.get("layout") != "StandaloneLayout" or swagger.get("validatorUrl") is None
