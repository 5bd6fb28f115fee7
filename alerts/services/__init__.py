"""The alert services: the only writers of outbox rows, alerts, rosters and daily reports."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from alerts.services.common import alert_settings, local_day, sensitive_period
from alerts.services.inbound import InboundResult, sms_inbound
from alerts.services.outbox import (
    outbox_claim,
    outbox_kick,
    outbox_send,
    sms_queue,
    sms_status_report,
)
from alerts.services.paging import (
    alert_acknowledge,
    alert_acknowledge_as,
    alert_escalate,
    alert_raise,
    alerts_acknowledge_for_unit,
    alerts_escalate,
    clock_alert_raise,
    incident_alerts_raise,
)
from alerts.services.rosters import RosterImport, roster_for_day, roster_import
from alerts.services.zero_reports import daily_report_status, zero_report_file, zero_reports_check
from incidents.models import District


def alerts_tick(*, now: datetime | None = None) -> int:
    """The periodic sweep: escalations due, and missing daily reports; returns alerts moved."""
    now = now or timezone.now()
    moved = alerts_escalate(now=now)
    for district_id in District.objects.values_list("pk", flat=True):
        moved += zero_reports_check(district_id=district_id, now=now)
    return moved


__all__ = [
    "InboundResult",
    "RosterImport",
    "alert_acknowledge",
    "alert_acknowledge_as",
    "alert_escalate",
    "alert_raise",
    "alert_settings",
    "alerts_acknowledge_for_unit",
    "alerts_escalate",
    "alerts_tick",
    "clock_alert_raise",
    "daily_report_status",
    "incident_alerts_raise",
    "local_day",
    "outbox_claim",
    "outbox_kick",
    "outbox_send",
    "roster_for_day",
    "roster_import",
    "sensitive_period",
    "sms_inbound",
    "sms_queue",
    "sms_status_report",
    "zero_report_file",
    "zero_reports_check",
]
