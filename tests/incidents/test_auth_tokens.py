"""Bearer tokens for integrations (`manage.py issue_token`) and CSRF for sessions."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from incidents.models import ApiToken, Case, Report
from tests.asgi import asgi_post
from tests.factories import intake_payload

URL = "/api/v1/cases"
ClientFor = Callable[[str], Client]


def issue(username: str = "gateway_110") -> str:
    out = io.StringIO()
    call_command("issue_token", username, stdout=out)
    return out.getvalue().strip()


def police_report(**overrides: Any) -> dict[str, Any]:
    return intake_payload(channel="police_110", window=None, **overrides)


def post_bearer(token: str, body: Any, *, client: Client | None = None) -> Any:
    return (client or Client()).post(
        URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return body


def test_issue_token_prints_a_new_token(district: Any) -> None:
    token = issue()

    assert len(token) >= 32
    assert "\n" not in token
    stored = ApiToken.objects.get()
    assert stored.user.username == "gateway_110"
    assert issue() != token
    assert ApiToken.objects.count() == 2


def test_only_the_hash_of_a_token_is_stored(district: Any) -> None:
    token = issue()

    stored = ApiToken.objects.get()
    assert stored.key_hash == hashlib.sha256(token.encode()).hexdigest()
    values = [str(v) for v in ApiToken.objects.values().get().values()]
    assert token not in values
    assert all(token not in v or len(v) < len(token) for v in values)
    assert len(stored.prefix) <= 8


def test_issue_token_for_unknown_user_fails(district: Any) -> None:
    with pytest.raises(CommandError):
        issue("nobody")
    assert not ApiToken.objects.exists()


def test_bearer_token_registers_a_complaint(district: Any) -> None:
    token = issue()

    response = post_bearer(token, police_report())

    assert response.status_code == 201, response.content
    report = Report.objects.get(case__number=response.json()["case_number"])
    assert report.created_by.username == "gateway_110"
    assert report.channel == "police_110"
    assert ApiToken.objects.get().last_used_at is not None


def test_bearer_token_reads_what_it_registered(district: Any) -> None:
    token = issue()
    number = post_bearer(token, police_report()).json()["case_number"]
    response = Client().get(f"{URL}/{number}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["case_number"] == number


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token",
        "Bearer ",
        "Token {token}",
        "Basic Z2F0ZXdheV8xMTA6ZGVtbw==",
        "Bearer {token}x",
    ],
)
def test_wrong_token_is_401_and_stores_nothing(district: Any, header: str) -> None:
    token = issue()
    response = Client().post(
        URL,
        json.dumps(police_report()),
        content_type="application/json",
        HTTP_AUTHORIZATION=header.format(token=token),
    )
    assert_error(response, 401)
    assert not Case.objects.exists()


def test_revoked_token_is_401(district: Any) -> None:
    token = issue()
    assert post_bearer(token, police_report()).status_code == 201
    ApiToken.objects.update(revoked_at=timezone.now())
    cases = Case.objects.count()

    assert_error(post_bearer(token, police_report()), 401)
    assert Case.objects.count() == cases


def test_token_of_a_deactivated_user_is_401(district: Any) -> None:
    token = issue()
    User.objects.filter(username="gateway_110").update(is_active=False)
    assert_error(post_bearer(token, police_report()), 401)
    assert not Case.objects.exists()


def test_session_post_without_csrf_token_is_refused(district: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="clerk_lianshi"))

    response = client.post(URL, json.dumps(intake_payload()), content_type="application/json")

    assert_error(response, 403)
    assert not Case.objects.exists()


def test_session_post_with_csrf_token_is_accepted(district: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="clerk_lianshi"))
    client.get("/accounts/login/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value

    response = client.post(
        URL, json.dumps(intake_payload()), content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )

    assert response.status_code == 201, response.content


def test_bearer_token_needs_no_csrf_token(district: Any) -> None:
    token = issue()
    response = post_bearer(token, police_report(), client=Client(enforce_csrf_checks=True))
    assert response.status_code == 201, response.content


def test_session_get_needs_no_csrf_token(district: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="command"))
    assert client.get(URL).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_bearer_token_works_over_real_asgi(district: Any) -> None:
    """The ASGI server path (no test-client shortcuts): a bearer POST is not a CSRF case."""
    token = issue()
    raw = json.dumps(police_report()).encode()
    status, _headers, body = asgi_post(
        URL,
        [raw],
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
    )
    assert status == 201, body
    assert Case.objects.count() == 1
