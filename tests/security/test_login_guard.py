"""Login throttling and lockout: per account, per client address, on every login path,
counted in the database so that every process shares the count."""

from __future__ import annotations

import io
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from command_center.login_guard import login_failure_record
from command_center.models import LoginThrottle
from incidents.models import ApiToken

PASSWORD = "correct horse battery"
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LIMIT = 3
IP_LIMIT = 6


@pytest.fixture(autouse=True)
def limits(settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMIT = LIMIT
    settings.LOGIN_FAILURE_WINDOW_MINUTES = 15
    settings.LOGIN_LOCKOUT_MINUTES = 15
    settings.LOGIN_IP_FAILURE_LIMIT = IP_LIMIT


@pytest.fixture
def officer(db: None) -> User:
    return User.objects.create_user("duty_officer", password=PASSWORD, is_staff=True)


def post_login(
    username: str, password: str, *, path: str = LOGIN, address: str = "192.0.2.10"
) -> tuple[Client, Any]:
    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": username, "password": password})
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(username: str, times: int, *, path: str = LOGIN, address: str = "192.0.2.10") -> Any:
    response = None
    for _ in range(times):
        _client, response = post_login(username, "wrong", path=path, address=address)
    return response


def account_row(username: str = "duty_officer") -> LoginThrottle:
    return LoginThrottle.objects.get(kind=LoginThrottle.Kind.ACCOUNT, key=username)


def test_a_wrong_password_is_answered_as_before(officer: User) -> None:
    _client, response = post_login("duty_officer", "wrong")

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not response.context["form"].refusal_text
    assert account_row().failures == 1
    assert account_row().locked_until is None


def test_the_account_locks_at_the_limit_with_a_clear_message(
    officer: User, caplog: pytest.LogCaptureFixture
) -> None:
    fail("duty_officer", LIMIT - 1)
    assert account_row().locked_until is None

    with caplog.at_level(logging.WARNING, logger="command_center.login_guard"):
        response = fail("duty_officer", 1)

    row = account_row()
    assert row.locked_until is not None
    assert row.locked_until - timezone.now() > timedelta(minutes=14)
    assert row.lock_count == 1
    assert response.status_code == 200
    assert response.context["form"].refusal_text
    assert "locked" in caplog.text
    assert "duty_officer" in caplog.text


def test_the_right_password_is_refused_while_locked_with_the_same_message(
    officer: User,
) -> None:
    fail("duty_officer", LIMIT)
    _client, wrong = post_login("duty_officer", "still wrong", address="198.51.100.7")

    client, right = post_login("duty_officer", PASSWORD, address="198.51.100.7")

    assert right.status_code == 200
    assert not logged_in(client)
    # Nothing tells a right password from a wrong one during the lock.
    assert right.context["form"].refusal_text == wrong.context["form"].refusal_text
    assert right.context["form"].refusal_text in right.content.decode()
    assert authenticate(None, username="duty_officer", password=PASSWORD) is None


def test_attempts_during_a_lock_do_not_extend_it(officer: User) -> None:
    fail("duty_officer", LIMIT)
    until = account_row().locked_until

    fail("duty_officer", LIMIT + 1, address="198.51.100.7")

    row = account_row()
    assert row.locked_until == until
    assert row.lock_count == 1
    # Nor are they counted against their address.
    assert not LoginThrottle.objects.filter(key="198.51.100.7").exists()


def test_the_lock_runs_out(officer: User) -> None:
    fail("duty_officer", LIMIT)
    LoginThrottle.objects.filter(kind=LoginThrottle.Kind.ACCOUNT).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )

    client, response = post_login("duty_officer", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_a_success_resets_the_count(officer: User) -> None:
    fail("duty_officer", LIMIT - 1)
    client, _response = post_login("duty_officer", PASSWORD)
    assert logged_in(client)
    assert account_row().failures == 0

    fail("duty_officer", LIMIT - 1)

    assert account_row().locked_until is None


def test_failures_older_than_the_window_start_a_new_count(officer: User) -> None:
    fail("duty_officer", LIMIT - 1)
    LoginThrottle.objects.filter(kind=LoginThrottle.Kind.ACCOUNT).update(
        first_failure_at=timezone.now() - timedelta(minutes=16)
    )

    fail("duty_officer", 1)

    row = account_row()
    assert row.locked_until is None
    assert row.failures == 1


def test_the_username_is_counted_whatever_its_case(officer: User) -> None:
    fail("Duty_Officer", LIMIT - 1)
    fail("DUTY_OFFICER ", 1)

    client, _response = post_login("duty_officer", PASSWORD)

    assert not logged_in(client)
    assert account_row().locked_until is not None


def test_an_unknown_username_locks_like_a_real_one(db: None, officer: User) -> None:
    fail("duty_officer", LIMIT, address="198.51.100.1")
    real = post_login("duty_officer", "x", address="198.51.100.2")[1].context["form"]
    fail("nobody_here", LIMIT, address="198.51.100.3")
    unknown = post_login("nobody_here", "x", address="198.51.100.4")[1].context["form"]

    assert unknown.refusal_text == real.refusal_text


def test_many_failures_from_one_address_are_answered_429(officer: User) -> None:
    for n in range(IP_LIMIT):
        fail(f"guess{n}", 1)

    client, response = post_login("duty_officer", PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not logged_in(client)
    # Another address is not held back by this one, and the account itself is not locked.
    client, response = post_login("duty_officer", PASSWORD, address="203.0.113.9")
    assert response.status_code == 302
    assert logged_in(client)


def test_a_success_does_not_clear_its_address(officer: User) -> None:
    for n in range(IP_LIMIT - 1):
        fail(f"guess{n}", 1)
    client, _response = post_login("duty_officer", PASSWORD)
    assert logged_in(client)

    fail("someone_else", 1)

    assert post_login("duty_officer", PASSWORD)[1].status_code == 429


def test_the_admin_login_is_guarded(officer: User) -> None:
    fail("duty_officer", LIMIT, path=ADMIN_LOGIN)
    assert account_row().locked_until is not None

    client, response = post_login("duty_officer", PASSWORD, path=ADMIN_LOGIN)

    assert response.status_code == 200
    assert not logged_in(client)
    assert response.context["form"].refusal_text in response.content.decode()

    for n in range(IP_LIMIT):
        fail(f"admin{n}", 1, path=ADMIN_LOGIN, address="203.0.113.50")
    assert post_login("x", "y", path=ADMIN_LOGIN, address="203.0.113.50")[1].status_code == 429
    # The site's login page shares the count of the admin's.
    assert post_login("x", "y", address="203.0.113.50")[1].status_code == 429


def test_client_login_and_authenticate_are_guarded_too(officer: User) -> None:
    client = Client()
    for _ in range(LIMIT):
        assert not client.login(username="duty_officer", password="wrong")

    assert not client.login(username="duty_officer", password=PASSWORD)
    assert authenticate(None, username="duty_officer", password=PASSWORD) is None


def test_wrong_api_tokens_count_against_the_address(officer: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.77")
    for n in range(IP_LIMIT):
        response = client.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer wrong-{n}")
        assert response.status_code == 401

    response = client.get("/api/v1/cases", HTTP_AUTHORIZATION="Bearer wrong-again")

    assert response.status_code == 429
    assert response.json()["detail"]
    assert post_login("duty_officer", PASSWORD, address="203.0.113.77")[1].status_code == 429


def test_a_right_api_token_is_not_counted(officer: User) -> None:
    out = io.StringIO()
    call_command("issue_token", "duty_officer", stdout=out)
    token = out.getvalue().strip()
    client = Client(REMOTE_ADDR="203.0.113.78")

    for _ in range(IP_LIMIT + 1):
        response = client.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code != 429

    assert ApiToken.objects.get().last_used_at is not None
    assert not LoginThrottle.objects.filter(key="203.0.113.78").exists()


def test_unlock_account_lifts_a_lock(officer: User, caplog: pytest.LogCaptureFixture) -> None:
    fail("duty_officer", LIMIT)
    out = io.StringIO()

    with caplog.at_level(logging.WARNING, logger="command_center.login_guard"):
        call_command("unlock_account", "Duty_Officer", stdout=out)

    assert "Unlocked" in out.getvalue()
    assert "unlocked early" in caplog.text
    assert account_row().locked_until is None
    client, _response = post_login("duty_officer", PASSWORD)
    assert logged_in(client)


def test_unlock_account_of_an_unlocked_account_says_so(officer: User) -> None:
    out = io.StringIO()
    call_command("unlock_account", "duty_officer", stdout=out)
    assert "was not locked" in out.getvalue()


def test_unlock_account_lifts_an_address_throttle(officer: User) -> None:
    for n in range(IP_LIMIT):
        fail(f"guess{n}", 1)
    assert post_login("duty_officer", PASSWORD)[1].status_code == 429

    call_command("unlock_account", "--address", "192.0.2.10", stdout=io.StringIO())

    assert post_login("duty_officer", PASSWORD)[1].status_code == 302


def test_unlock_account_needs_a_target(db: None) -> None:
    with pytest.raises(CommandError):
        call_command("unlock_account", stdout=io.StringIO())


def test_locks_are_listed_and_lifted_in_the_admin(officer: User) -> None:
    fail("duty_officer", LIMIT)
    admin = User.objects.create_superuser("admin_ops", password=PASSWORD)
    client = Client()
    client.force_login(admin)

    listing = client.get("/admin/command_center/loginthrottle/")
    assert listing.status_code == 200
    assert "duty_officer" in listing.content.decode()

    row = account_row()
    response = client.post(
        "/admin/command_center/loginthrottle/",
        {"action": "unlock", "_selected_action": [row.pk]},
    )

    assert response.status_code == 302
    assert account_row().locked_until is None


def test_a_zero_limit_turns_the_account_guard_off(settings: Any, officer: User) -> None:
    settings.LOGIN_FAILURE_LIMIT = 0
    fail("duty_officer", LIMIT + 1, address="198.51.100.20")
    fail("duty_officer", 1, address="198.51.100.21")

    client, _response = post_login("duty_officer", PASSWORD, address="198.51.100.22")

    assert logged_in(client)


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_in_separate_connections_share_one_count(settings: Any) -> None:
    """Each thread has its own database connection, as each ASGI process does: no failure
    is lost to a concurrent one, and the limit locks exactly once."""
    settings.LOGIN_FAILURE_LIMIT = 1000
    settings.LOGIN_IP_FAILURE_LIMIT = 0
    threads, per_thread = 4, 8
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                login_failure_record(username="shared", address="")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert not errors, errors
    assert account_row("shared").failures == threads * per_thread

    LoginThrottle.objects.all().delete()
    settings.LOGIN_FAILURE_LIMIT = 5
    start = threading.Barrier(threads)
    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert not errors, errors
    row = account_row("shared")
    assert row.lock_count == 1
    assert row.locked_until is not None


def test_a_forged_forwarded_for_header_does_not_escape_the_address_throttle(
    officer: User,
) -> None:
    # Behind nginx, uvicorn puts the trusted proxy's X-Forwarded-For into REMOTE_ADDR; the
    # header itself, which any client can send, is never read by the guard.
    for n in range(IP_LIMIT):
        Client(REMOTE_ADDR="192.0.2.99", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}").post(
            LOGIN, {"username": f"guess{n}", "password": "wrong"}
        )

    response = Client(REMOTE_ADDR="192.0.2.99", HTTP_X_FORWARDED_FOR="10.9.9.200").post(
        LOGIN, {"username": "duty_officer", "password": PASSWORD}
    )

    assert response.status_code == 429
