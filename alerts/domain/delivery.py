"""Delivery rules for SMS: the status order, provider error classes, retry backoff.

Plain Python, no Django: the outbox service and the webhook views apply these.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class SmsStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


FINAL_STATUSES = frozenset({SmsStatus.DELIVERED, SmsStatus.UNDELIVERED, SmsStatus.FAILED})
_RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.SENT: 2,
    SmsStatus.DELIVERED: 3,
    SmsStatus.UNDELIVERED: 3,
    SmsStatus.FAILED: 3,
}

# Twilio's message statuses, as our statuses. Anything the provider holds but has not yet
# handed to a carrier counts as `sent` (we handed it over); the rest map one to one.
PROVIDER_STATUSES = {
    "accepted": SmsStatus.SENT,
    "scheduled": SmsStatus.SENT,
    "queued": SmsStatus.SENT,
    "sending": SmsStatus.SENT,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.UNDELIVERED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}

# Provider error codes that say this recipient cannot be reached: move to the next person.
# Twilio: 21211 invalid 'To', 21408 region not enabled, 21610 unsubscribed (STOP),
# 21612 cannot route, 21614 not a mobile number, 30003 unreachable handset, 30004 blocked,
# 30005 unknown number, 30006 landline or unreachable carrier.
# Alibaba Cloud: illegal number, number on the recipient's blacklist, daily per-number cap.
PERMANENT_ERROR_CODES = frozenset(
    {
        "21211",
        "21408",
        "21610",
        "21612",
        "21614",
        "30003",
        "30004",
        "30005",
        "30006",
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.DAY_LIMIT_CONTROL",
    }
)


def is_permanent(code: str | int | None) -> bool:
    """Whether a provider error code means the recipient cannot be reached."""
    return code is not None and str(code) in PERMANENT_ERROR_CODES


def status_moves(current: str, new: str) -> bool:
    """Whether a status report may replace the current status.

    Reports come late, twice and out of order: a status moves only forward, and a final
    status (delivered, undelivered, failed) is never replaced.
    """
    cur, nxt = SmsStatus(current), SmsStatus(new)
    if cur in FINAL_STATUSES:
        return False
    return _RANK[nxt] > _RANK[cur]


def retry_at(attempts: int, now: datetime, *, base: float = 5.0, cap: float = 120.0) -> datetime:
    """When to try again after `attempts` failed tries: doubling from `base`, at most `cap`."""
    delay = min(cap, base * 2 ** min(32, max(0, attempts - 1)))
    return now + timedelta(seconds=delay)
