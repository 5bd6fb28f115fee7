"""Integrations: bearer tokens, idempotent retries and one-time WebSocket tickets."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.errors import Invalid
from incidents.models import (
    ApiToken,
    IdempotencyRecord,
    WsTicket,
)


def token_issue(*, user_id: int, name: str = "") -> str:
    """Create a bearer token for a user and return it; only its hash is kept."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user_id=user_id,
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        prefix=key[:8],
        name=name,
    )
    return key


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    *, user_id: int, key: str | None, fingerprint: str, run: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """Run `run` once per (user, key): a retry with the same key gets the first answer.

    `run` returns (status, body) and is executed in the same transaction as the record, so
    either both are stored or neither. The same key with a different body is refused.
    """
    if not key:
        return run()
    if len(key) > 200:
        raise Invalid(_("Idempotency-Key is too long (at most 200 characters)."))
    previous = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
    if previous is None:
        try:
            with transaction.atomic():
                status, body = run()
                IdempotencyRecord.objects.create(
                    user_id=user_id, key=key, request_hash=fingerprint, status=status, body=body
                )
                return status, body
        except IntegrityError:
            # Another request with the same key committed first: answer as it did.
            previous = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
            if previous is None:
                raise
    if previous.request_hash != fingerprint:
        raise Invalid(_("This Idempotency-Key was used with a different request."))
    return previous.status, previous.body


def idempotency_purge(*, now: datetime | None = None) -> int:
    """Forget idempotency answers older than `IDEMPOTENCY_KEY_TTL_HOURS`; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def ws_ticket_issue(*, user_id: int) -> tuple[str, datetime]:
    """A one-time WebSocket ticket for `user_id`; returns the ticket and when it expires."""
    key = secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(seconds=settings.WS_TICKET_SECONDS)
    WsTicket.objects.create(
        user_id=user_id, key_hash=hashlib.sha256(key.encode()).hexdigest(), expires_at=expires
    )
    return key, expires


def ws_ticket_redeem(key: str) -> int | None:
    """Spend a ticket: the user id it was issued to, or None when unknown, used or expired.

    The spend is one conditional UPDATE, so two sockets racing with one ticket get one user.
    """
    if not key or len(key) > 100:
        return None
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    now = timezone.now()
    spent = WsTicket.objects.filter(
        key_hash=key_hash, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        return None
    return WsTicket.objects.values_list("user_id", flat=True).get(key_hash=key_hash)
