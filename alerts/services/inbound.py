"""Replies from field officers: acknowledgements, and words from the scene."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.domain.messages import MessageError, phone_masked, to_e164
from alerts.domain.replies import parse_reply
from alerts.models import Alert, Officer, SmsMessage
from alerts.services.paging import alert_acknowledge, alert_event

log = logging.getLogger(__name__)
REPLY_MAX_CHARS = 500


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # "acknowledged" | "already" | "replied" | "unknown_sender" | "no_alert"
    alert_id: int | None = None


def sms_inbound(*, sender: str, body: str, now: datetime | None = None) -> InboundResult:
    """Handle an SMS to the hub's number.

    From a known officer, "1", "收到", "OK" (optionally quoting a message reference such as
    "M123") acknowledge the alert the officer was paged for: the quoted one, else the most
    recent one still open, together with the other open alerts of the same unit about the
    same incident or case. Any other text is recorded as a reply on that alert's timeline.
    A sender who is not an officer changes nothing.
    """
    now = now or timezone.now()
    try:
        phone = to_e164(sender)
    except MessageError:
        return InboundResult("unknown_sender")
    officer = Officer.objects.filter(phone=phone, active=True).first()
    if officer is None:
        log.info("SMS from unknown number %s ignored", phone_masked(phone))
        return InboundResult("unknown_sender")
    reply = parse_reply(body[: REPLY_MAX_CHARS * 2])
    paged = SmsMessage.objects.filter(officer=officer, alert__isnull=False).select_related("alert")
    message = None
    if reply.reference is not None:
        message = paged.filter(pk=int(reply.reference[1:])).first()
    if message is None:
        message = paged.filter(alert__state=Alert.State.OPEN).order_by("-created_at").first()
    if message is None:
        message = paged.order_by("-created_at").first()
    if message is None or message.alert is None:
        return InboundResult("no_alert")
    alert = message.alert
    if not reply.acknowledges:
        with transaction.atomic():
            alert_event(
                alert, "alert.replied", now, officer=officer.name, text=reply.text[:REPLY_MAX_CHARS]
            )
        return InboundResult("replied", alert.pk)
    if alert.state != Alert.State.OPEN:
        return InboundResult("already", alert.pk)
    related = Alert.objects.filter(
        unit=alert.unit,
        state=Alert.State.OPEN,
        incident=alert.incident,
        case=alert.case,
    ).values_list("pk", flat=True)
    for alert_id in {alert.pk, *related}:
        alert_acknowledge(alert_id=alert_id, now=now, via="sms", officer=officer)
    return InboundResult("acknowledged", alert.pk)
