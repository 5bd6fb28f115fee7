"""The SMS outbox: queueing in the caller's transaction, claiming, sending, status reports.

A message is a row written in the transaction that decided to send it, with a unique key
(so one decision never queues two messages). After commit a worker is woken; workers claim
rows with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; a conditional UPDATE on either
database), send at the rate every worker shares, and record the outcome. A worker that dies
after claiming leaves rows whose lease runs out; the next claimant asks the provider
whether an interrupted attempt got through before sending it again.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.backends import get_backend
from alerts.backends.base import OutgoingSms, SendResult, SmsBackend, SmsError
from alerts.domain.delivery import (
    PROVIDER_STATUSES,
    SmsStatus,
    is_permanent,
    retry_at,
    status_moves,
)
from alerts.domain.messages import phone_masked, render
from alerts.models import Alert, Officer, SmsMessage
from alerts.ratelimit import LocalRateLimiter, RedisRateLimiter, rate_limiter
from incidents.events import event_record
from incidents.models import Case, Incident

log = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/alerts/twilio/status"
LONGEST_REFERENCE = "M" + "9" * 12
ERROR_EXPIRED = "expired"
# Times a message the provider could not deliver (for a passing reason) is sent again.
RESENDS = 2


def sms_queue(
    *,
    district_id: int,
    key: str,
    to: str,
    template: str,
    params: dict[str, str],
    reason: str,
    validity: timedelta,
    now: datetime,
    alert: Alert | None = None,
    stage: int = 0,
    officer: Officer | None = None,
    incident: Incident | None = None,
    case: Case | None = None,
) -> SmsMessage:
    """Queue one SMS in the caller's transaction; a worker sends it after commit.

    `key` names the decision: queueing the same key again returns the first message.
    The body is rendered here (`MessageError` for a bad template or parameters); the
    reference that ends every body is the row's own ("M<id>"), so it is filled in after
    the insert.
    """
    existing = SmsMessage.objects.filter(key=key).first()
    if existing is not None:
        return existing
    # Refuse a bad message before inserting it, with the longest reference it could get.
    render(template, {**params, "ref": LONGEST_REFERENCE})
    message = SmsMessage(
        district_id=district_id,
        key=key,
        alert=alert,
        stage=stage,
        officer=officer,
        to=to,
        template=template,
        params=params,
        body="",
        reason=reason,
        incident=incident,
        case=case,
        created_at=now,
        next_attempt_at=now,
        expires_at=now + validity,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return SmsMessage.objects.get(key=key)
    message.params = {**params, "ref": message.reference}
    message.body = render(template, message.params)
    SmsMessage.objects.filter(pk=message.pk).update(params=message.params, body=message.body)
    transaction.on_commit(outbox_kick)
    return message


# --- waking a sender ----------------------------------------------------------------------

_wake = threading.Event()


def outbox_kick() -> None:
    """Have a worker send soon: a Celery task in production, the embedded loop otherwise."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _wake.set()
        return
    from alerts.tasks import send_outbox

    try:
        send_outbox.delay()
    except Exception:
        # The broker is down: the periodic sweep sends the message; nothing is lost.
        log.warning("could not queue the SMS send task; the sweep will send", exc_info=True)


def outbox_kicked() -> bool:
    """Whether a commit queued messages since the last call (the embedded loop polls it)."""
    kicked = _wake.is_set()
    _wake.clear()
    return kicked


# --- claiming and sending -----------------------------------------------------------------


def _claimable(now: datetime) -> Q:
    return Q(status=SmsStatus.QUEUED, next_attempt_at__lte=now) | Q(
        status=SmsStatus.SENDING, lease_until__lt=now
    )


def outbox_claim(*, limit: int, now: datetime, lease: timedelta) -> list[SmsMessage]:
    """Claim up to `limit` messages for this worker, oldest due first.

    PostgreSQL skips rows another worker is claiming (`SKIP LOCKED`); the UPDATE re-checks
    that each row is still claimable, which alone keeps SQLite's serialised writers apart.
    """
    token = uuid.uuid4().hex
    with transaction.atomic():
        pending = SmsMessage.objects.filter(_claimable(now)).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        ids = list(pending.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        SmsMessage.objects.filter(_claimable(now), pk__in=ids).update(
            status=SmsStatus.SENDING,
            lease_until=now + lease,
            lease_token=token,
            attempts=F("attempts") + 1,
        )
    return list(
        SmsMessage.objects.filter(lease_token=token, status=SmsStatus.SENDING)
        .select_related("officer")
        .order_by("next_attempt_at")
    )


def outbox_send(
    *,
    limit: int = 100,
    backend: SmsBackend | None = None,
    limiter: LocalRateLimiter | RedisRateLimiter | None = None,
    clock: Callable[[], datetime] = timezone.now,
    max_batches: int | None = None,
) -> int:
    """Claim and send messages until none is due; returns how many reached the provider.

    The batch is kept small enough to be sent well within the lease at the shared rate.
    """
    backend = backend or get_backend()
    limiter = limiter or rate_limiter()
    lease = send_lease()
    rate = float(settings.SMS_RATE_PER_SECOND)
    batch = limit if rate <= 0 else max(1, min(limit, int(rate * lease.total_seconds() / 4)))
    sent = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed = outbox_claim(limit=batch, now=clock(), lease=lease)
        if not claimed:
            break
        batches += 1
        for message in claimed:
            if _send_one(message, backend, limiter, clock, lease):
                sent += 1
    return sent


def _outgoing(message: SmsMessage) -> OutgoingSms:
    return OutgoingSms(
        id=message.pk,
        to=message.to,
        body=message.body,
        template=message.template,
        params={k: str(v) for k, v in message.params.items()},
        reference=message.reference,
        status_callback=(
            f"{settings.PUBLIC_BASE_URL}{STATUS_CALLBACK_PATH}?m={message.pk}"
            if settings.PUBLIC_BASE_URL
            else None
        ),
        validity_seconds=max(1, int((message.expires_at - timezone.now()).total_seconds())),
    )


def send_lease() -> timedelta:
    """How long a claim lasts: `SMS_LEASE_SECONDS`, and always well over a provider call's
    timeout, so that a row is claimed again only once its last call has surely ended."""
    return timedelta(seconds=max(settings.SMS_LEASE_SECONDS, 3 * settings.TWILIO_TIMEOUT_SECONDS))


def _send_one(
    message: SmsMessage,
    backend: SmsBackend,
    limiter: LocalRateLimiter | RedisRateLimiter,
    clock: Callable[[], datetime],
    lease: timedelta,
) -> bool:
    """Send one claimed message; True when the provider has it (now or from before).

    The attempt starts only while this worker's lease still holds, and renews it: a batch
    that outlasts its lease loses its remaining rows to another worker instead of sending
    them twice.
    """
    now = clock()
    if message.expires_at <= now:
        _give_up(message, now)
        return False
    outgoing = _outgoing(message)
    if message.attempt_started_at is not None:
        # The last attempt ended without a recorded outcome (its worker died).
        try:
            found = backend.find_sent(outgoing, since_epoch=message.attempt_started_at.timestamp())
        except SmsError as exc:
            _retry(message, exc, now)
            return False
        if found is not None:
            _record_sent(message, found, now, recovered=True)
            return True
    limiter.acquire()
    now = clock()
    started = SmsMessage.objects.filter(
        pk=message.pk,
        lease_token=message.lease_token,
        status=SmsStatus.SENDING,
        lease_until__gt=now,
    ).update(attempt_started_at=now, lease_until=now + lease)
    if not started:
        return False  # the lease ran out: the message is, or will be, another worker's
    try:
        result = backend.send(outgoing)
    except SmsError as exc:
        if exc.permanent:
            _fail(message, exc, now)
        else:
            _retry(message, exc, now)
        return False
    except Exception as exc:
        log.exception("SMS backend %s raised unexpectedly", backend.name)
        _retry(message, SmsError(str(exc)[:200], code="backend_error"), now)
        return False
    _record_sent(message, result, clock())
    return True


def _event_data(message: SmsMessage, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": message.pk,
        "reference": message.reference,
        "alert_id": message.alert_id,
        "officer": message.officer.name if message.officer else None,
        "to": phone_masked(message.to),
        "template": message.template,
        **extra,
    }


def _record_event(message: SmsMessage, kind: str, now: datetime, **extra: Any) -> None:
    alert = message.alert
    event_record(
        at=now,
        district=message.district_id,
        kind=kind,
        actor=None,
        incident=message.incident,
        case=message.case,
        units=[alert.unit_id] if alert is not None and alert.unit_id else (),
        data=_event_data(message, **extra),
    )


def _record_sent(
    message: SmsMessage, result: SendResult, now: datetime, *, recovered: bool = False
) -> None:
    with transaction.atomic():
        moved = SmsMessage.objects.filter(
            pk=message.pk, lease_token=message.lease_token, status=SmsStatus.SENDING
        ).update(
            status=SmsStatus.SENT,
            provider=result.provider,
            provider_id=result.provider_id,
            provider_status=result.status,
            sent_at=now,
            status_at=now,
            lease_until=None,
            error_code="",
            error_message="",
        )
        if not moved:
            # A status report got here first (or the lease passed): keep its status, and
            # only fill in who the provider is.
            SmsMessage.objects.filter(pk=message.pk, provider_id="").update(
                provider=result.provider, provider_id=result.provider_id, sent_at=now
            )
            return
        _record_event(
            message,
            "sms.sent",
            now,
            provider=result.provider,
            provider_status=result.status,
            attempts=message.attempts,
            recovered=recovered,
        )


def _retry(message: SmsMessage, error: SmsError, now: datetime) -> None:
    """A transient failure: try again later, but never after the message expires.

    `attempt_started_at` stays set: a timeout or a provider error may hide a message that
    did go out, so the next attempt asks the provider first (`find_sent`).
    """
    when = retry_at(message.attempts, now)
    if error.retry_after:
        when = max(when, now + timedelta(seconds=error.retry_after))
    SmsMessage.objects.filter(pk=message.pk, lease_token=message.lease_token).update(
        status=SmsStatus.QUEUED,
        next_attempt_at=min(when, message.expires_at),
        lease_until=None,
        error_code=error.code[:40],
        error_message=str(error)[:300],
    )
    log.info("SMS %s: transient failure %s, retrying", message.reference, error.code)


def _fail(message: SmsMessage, error: SmsError, now: datetime) -> None:
    """A permanent failure: this recipient cannot be reached; the alert moves on at once."""
    _finish_failed(message, now, code=error.code, text=str(error), kind="sms.failed")


def _give_up(message: SmsMessage, now: datetime) -> None:
    """Too late to be useful: fail the message visibly and move its alert on."""
    _finish_failed(
        message,
        now,
        code=ERROR_EXPIRED,
        text=message.error_message or "not sent within its validity",
        kind="sms.given_up",
        attempts=message.attempts,
        last_error=message.error_code or None,
    )


def _finish_failed(
    message: SmsMessage, now: datetime, *, code: str, text: str, kind: str, **extra: Any
) -> None:
    with transaction.atomic():
        moved = SmsMessage.objects.filter(
            pk=message.pk, lease_token=message.lease_token, status=SmsStatus.SENDING
        ).update(
            status=SmsStatus.FAILED,
            lease_until=None,
            status_at=now,
            error_code=code[:40],
            error_message=text[:300],
        )
        if moved:
            _record_event(message, kind, now, error_code=code, **extra)
            _stage_failed(message, now)


def _stage_failed(message: SmsMessage, now: datetime) -> None:
    """When every message of an alert's current stage failed, escalate it now."""
    if message.alert_id is None:
        return
    from alerts.services.paging import alert_escalate

    alive = (
        SmsMessage.objects.filter(alert_id=message.alert_id, stage=message.stage)
        .exclude(status__in=[SmsStatus.FAILED, SmsStatus.UNDELIVERED])
        .exists()
    )
    if not alive:
        alert_escalate(message.alert_id, expected_stage=message.stage, now=now, why="failed")


# --- provider status reports --------------------------------------------------------------


def sms_status_report(
    *,
    message_id: int | None,
    provider_id: str,
    provider_status: str,
    error_code: str = "",
    now: datetime | None = None,
) -> bool:
    """Apply a delivery report; True when it changed the message.

    Reports are retried and reordered by the provider: a status only moves forward and a
    final one is never replaced, so applying a report twice, or a late `sent` after
    `delivered`, changes nothing.
    """
    now = now or timezone.now()
    new = PROVIDER_STATUSES.get(provider_status)
    if new is None:
        return False
    with transaction.atomic():
        found = SmsMessage.objects.select_for_update(of=("self",)).select_related(
            "alert", "officer"
        )
        message = None
        if message_id is not None:
            message = found.filter(pk=message_id).first()
            if message is not None and provider_id and message.provider_id not in ("", provider_id):
                message = None  # a report about another send of ours: not this row
        if message is None and provider_id:
            message = found.filter(provider_id=provider_id).first()
        if message is None or not status_moves(message.status, new):
            return False
        overtook_sender = message.status == SmsStatus.SENDING
        message.status = new.value
        message.provider_status = provider_status
        message.status_at = now
        if provider_id and not message.provider_id:
            message.provider_id = provider_id
        if overtook_sender:
            message.sent_at = now
        if error_code:
            message.error_code = error_code[:40]
        message.save(
            update_fields=[
                "status",
                "provider_status",
                "status_at",
                "provider_id",
                "error_code",
                "sent_at",
            ]
        )
        if overtook_sender:
            # The report came before the sender recorded the provider's answer: the send
            # is recorded here, and the sender's own record then changes nothing.
            _record_event(message, "sms.sent", now, provider_status=provider_status)
        if new is SmsStatus.SENT:
            return True
        _record_event(message, f"sms.{new.value}", now, error_code=error_code or None)
        # A permanent error moves the alert on; a passing one sends the text again.
        failed = new in (SmsStatus.UNDELIVERED, SmsStatus.FAILED)
        if failed and (is_permanent(error_code) or not _resend(message, now)):
            _stage_failed(message, now)
    return True


def _resend(message: SmsMessage, now: datetime) -> bool:
    """After a transient delivery failure, queue the same text again while it is worth it
    (not once the alert was acknowledged or stopped)."""
    if message.expires_at <= now:
        return False
    if message.alert is not None and message.alert.state != Alert.State.OPEN:
        return True  # nothing to resend, and nothing to escalate either
    base = message.key.split("#")[0]
    attempt = SmsMessage.objects.filter(key__startswith=f"{base}#").count() + 1
    if attempt > RESENDS:
        return False
    sms_queue(
        district_id=message.district_id,
        key=f"{base}#{attempt}",
        to=message.to,
        template=message.template,
        params={k: v for k, v in message.params.items() if k != "ref"},
        reason=message.reason,
        validity=message.expires_at - now,
        now=now,
        alert=message.alert,
        stage=message.stage,
        officer=message.officer,
        incident=message.incident,
        case=message.case,
    )
    return True
