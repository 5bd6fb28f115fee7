"""Password logins through the login guard (command_center/login_guard.py).

The lock is enforced in the authentication backend, so every path that checks a password
(the login page, the admin's login, `Client.login`, anything calling `authenticate`) is
refused while the account or the client address is locked; failures and successes are
counted from Django's `user_login_failed` and `user_logged_in` signals. The login pages add
the presentation: a locked account's message, and 429 for a throttled address.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import ngettext

from command_center.login_guard import (
    Kind,
    Refusal,
    address_refusal,
    client_address,
    login_failure_record,
    login_refusal,
    login_success_record,
)

# Set on the request when the guard refused a login before checking its password, so the
# refusal is shown, and not counted as one more failure.
REFUSAL_ATTRIBUTE = "login_guard_refusal"


def _username(username: str | None, credentials: dict[str, Any]) -> str | None:
    if username is not None:
        return username
    value = credentials.get(get_user_model().USERNAME_FIELD)
    return None if value is None else str(value)


class GuardedModelBackend(ModelBackend):
    """Django's username and password backend, refusing locked accounts and addresses
    before the password is checked (so a refusal says nothing about the password)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        refusal = login_refusal(
            username=_username(username, kwargs), address=client_address(request)
        )
        if refusal is not None:
            if request is not None:
                setattr(request, REFUSAL_ATTRIBUTE, refusal)
            # authenticate() stops at PermissionDenied: no other backend is asked.
            raise PermissionDenied
        return super().authenticate(request, username, password, **kwargs)

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # ModelBackend's async path does not go through authenticate(); this one must.
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)


@receiver(user_login_failed, dispatch_uid="login_guard_failed")
def _count_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None and getattr(request, REFUSAL_ATTRIBUTE, None) is not None:
        return
    login_failure_record(
        username=_username(None, credentials) or credentials.get("username"),
        address=client_address(request),
    )


@receiver(user_logged_in, dispatch_uid="login_guard_succeeded")
def _clear_failures(sender: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
    login_success_record(username=user.get_username())


def refusal_message(refusal: Refusal) -> str:
    """What a refused person reads: when to try again, never whether the password was right."""
    minutes = refusal.minutes_left()
    if refusal.kind == Kind.ADDRESS:
        return ngettext(
            "Too many failed logins from your network. Try again in %(minutes)d minute.",
            "Too many failed logins from your network. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "This account is locked after too many failed logins. Try again in %(minutes)d "
        "minute, or ask command staff to unlock it.",
        "This account is locked after too many failed logins. Try again in %(minutes)d "
        "minutes, or ask command staff to unlock it.",
        minutes,
    ) % {"minutes": minutes}


class GuardedFormMixin:
    """An authentication form that says why a login is refused when the guard refused it
    (or when this very failure set the lock)."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    refusal_text: str = ""

    def get_invalid_login_error(self) -> forms.ValidationError:
        refusal: Refusal | None = getattr(self.request, REFUSAL_ATTRIBUTE, None)
        if refusal is None:
            refusal = login_refusal(
                username=self.cleaned_data.get("username"),
                address=client_address(self.request),
            )
        if refusal is None:
            return super().get_invalid_login_error()  # type: ignore[misc]
        self.refusal_text = refusal_message(refusal)
        return forms.ValidationError(self.refusal_text, code="locked")


class GuardedAuthenticationForm(GuardedFormMixin, AuthenticationForm):
    pass


class GuardedAdminAuthenticationForm(GuardedFormMixin, AdminAuthenticationForm):
    pass


def throttled_login(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Answer 429 to a login POST from an address that failed too often (no password is
    checked); other requests pass to `view`."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            refusal = address_refusal(client_address(request))
            if refusal is not None:
                response = render(
                    request,
                    "registration/login_throttled.html",
                    {"message": refusal_message(refusal)},
                    status=429,
                )
                response["Retry-After"] = str(refusal.minutes_left() * 60)
                return response
        return view(request, *args, **kwargs)

    return guarded
