"""Login throttling and lockout, shared by every process through the database.

Two counters guard each password login: one per account (the username as typed, so an
unknown name locks like a real one and the answer never tells which exist) and one per
client address (many failures across usernames). Both count failures in a window that
starts at the first failure; reaching the limit locks the account for
`LOGIN_LOCKOUT_MINUTES`, or throttles the address for `LOGIN_FAILURE_WINDOW_MINUTES`.
Attempts refused while locked are not counted, so a lock is never extended by them. A
successful login clears its account's count, never its address's (one valid account must
not let an address try others' passwords without end).

The counters are rows (`LoginThrottle`) updated under a row lock, so that every ASGI
process and machine sees the same count.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from command_center.models import LoginThrottle

logger = logging.getLogger("command_center.login_guard")
Kind = LoginThrottle.Kind
KEY_LENGTH = LoginThrottle._meta.get_field("key").max_length or 150
# Rows with no lock and no failure for this long are deleted as new failures come in.
KEEP_IDLE = timedelta(days=1)


@dataclass(frozen=True)
class Refusal:
    """Why a login is refused before its password is checked, and until when."""

    kind: LoginThrottle.Kind
    until: datetime

    def minutes_left(self, now: datetime | None = None) -> int:
        seconds = (self.until - (now or timezone.now())).total_seconds()
        return max(1, -(-int(seconds) // 60))


def account_key(username: str | None) -> str:
    """The account counter's key: the username as typed, case-folded and trimmed, so that
    `Command` and `command` share one count whatever the database's collation."""
    return (username or "").strip().casefold()[:KEY_LENGTH]


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address, or "" when unknown.

    `REMOTE_ADDR` only: behind nginx, uvicorn (`--proxy-headers --forwarded-allow-ips`)
    has already replaced it with the `X-Forwarded-For` address given by a trusted proxy,
    and a header from anyone else is ignored there. Reading the header here would let a
    client pick its own address and escape the throttle.
    """
    if request is None:
        return ""
    address = str(request.META.get("REMOTE_ADDR") or "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def _limits(kind: LoginThrottle.Kind) -> tuple[int, timedelta]:
    """(failures that lock, how long the lock lasts) for a kind of counter; limit 0: off."""
    window = timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    if kind == Kind.ACCOUNT:
        return settings.LOGIN_FAILURE_LIMIT, timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    return settings.LOGIN_IP_FAILURE_LIMIT, window


def _targets(username: str | None, address: str) -> list[tuple[LoginThrottle.Kind, str]]:
    targets = []
    if _limits(Kind.ACCOUNT)[0] > 0 and account_key(username):
        targets.append((Kind.ACCOUNT, account_key(username)))
    if _limits(Kind.ADDRESS)[0] > 0 and address:
        targets.append((Kind.ADDRESS, address))
    return targets


def login_refusal(
    *, username: str | None, address: str, now: datetime | None = None
) -> Refusal | None:
    """The lock that refuses a login of `username` from `address` now, if any (the
    address's first: it answers 429 whatever the username)."""
    now = now or timezone.now()
    targets = _targets(username, address)
    if not targets:
        return None
    match = Q()
    for kind, key in targets:
        match |= Q(kind=kind, key=key)
    locks: dict[str, datetime] = {}
    for found, until in LoginThrottle.objects.filter(match, locked_until__gt=now).values_list(
        "kind", "locked_until"
    ):
        if until is not None:
            locks[found] = until
    for kind in (Kind.ADDRESS, Kind.ACCOUNT):
        if kind in locks:
            return Refusal(kind=kind, until=locks[kind])
    return None


def address_refusal(address: str, now: datetime | None = None) -> Refusal | None:
    """The throttle on `address` alone (for the API and the login pages' 429)."""
    refusal = login_refusal(username=None, address=address, now=now)
    return refusal if refusal and refusal.kind == Kind.ADDRESS else None


def login_failure_record(
    *, username: str | None, address: str, now: datetime | None = None
) -> list[Refusal]:
    """Count a failed login against its account and its address; lock what reaches its limit.

    Returns the locks this failure set (each is also logged). A counter already locked is
    left alone: attempts refused during a lock do not extend it.
    """
    now = now or timezone.now()
    window = timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    new_locks: list[Refusal] = []
    with transaction.atomic():
        for kind, key in _targets(username, address):
            limit, lock_for = _limits(kind)
            LoginThrottle.objects.get_or_create(kind=kind, key=key)
            # The row lock makes concurrent failures in several processes count one by one.
            row = LoginThrottle.objects.select_for_update().get(kind=kind, key=key)
            if row.locked_until and row.locked_until > now:
                continue
            if row.first_failure_at is None or now - row.first_failure_at > window:
                row.failures = 0
                row.first_failure_at = now
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= limit:
                row.locked_until = now + lock_for
                row.lock_count += 1
                row.failures = 0
                row.first_failure_at = None
                new_locks.append(Refusal(kind=kind, until=row.locked_until))
                logger.warning(
                    "login %s locked: %s after %d failed logins in %d min, until %s",
                    kind,
                    key,
                    limit,
                    settings.LOGIN_FAILURE_WINDOW_MINUTES,
                    row.locked_until.isoformat(),
                )
            row.save()
        LoginThrottle.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now - KEEP_IDLE),
            last_failure_at__lt=now - KEEP_IDLE,
        ).delete()
    return new_locks


def login_success_record(*, username: str | None) -> None:
    """A successful login clears its account's failures (not a lock, nor its address's)."""
    key = account_key(username)
    if key:
        LoginThrottle.objects.filter(kind=Kind.ACCOUNT, key=key).update(
            failures=0, first_failure_at=None
        )


def throttle_unlock(*, kind: LoginThrottle.Kind, key: str, by: str = "") -> bool:
    """Lift the lock and the failures of one account or address early; whether it was
    locked. `by` names who did it, for the log."""
    now = timezone.now()
    with transaction.atomic():
        was_locked = LoginThrottle.objects.filter(kind=kind, key=key, locked_until__gt=now).exists()
        LoginThrottle.objects.filter(kind=kind, key=key).update(
            locked_until=None, failures=0, first_failure_at=None
        )
    if was_locked:
        logger.warning("login %s unlocked early: %s%s", kind, key, f" by {by}" if by else "")
    return was_locked


def account_unlock(*, username: str, by: str = "") -> bool:
    """Lift the lock of `username`'s account early (see `throttle_unlock`)."""
    return throttle_unlock(kind=Kind.ACCOUNT, key=account_key(username), by=by)
