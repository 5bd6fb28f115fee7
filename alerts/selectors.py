"""Reads of alerts, rosters and daily reports, filtered by what the person may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation

from alerts.domain.cap import CapIncident, cap_reference
from alerts.domain.delivery import SmsStatus
from alerts.models import Alert, DutyShift, SmsMessage
from alerts.policy import alerts_visible
from alerts.services.common import FOUR_DEPARTMENTS, local_day, sensitive_period
from alerts.services.zero_reports import DailyReportStatus, daily_report_status
from incidents.domain.incidents import Kind
from incidents.models import KIND_LABELS, Event, Incident, Unit
from incidents.policy import Actor

BOARD_ROWS = 10


def alert_rows(qs: QuerySet[Alert]) -> QuerySet[Alert]:
    """Alerts with what their rows show: unit, subject, who acknowledged, and messages."""
    return qs.select_related("unit", "incident", "case", "acknowledged_by").prefetch_related(
        Prefetch("messages", queryset=SmsMessage.objects.select_related("officer").order_by("pk"))
    )


def incident_alerts(actor: Actor, incident: Incident) -> list[Alert]:
    return list(alert_rows(alerts_visible(actor).filter(incident=incident)).order_by("pk"))


@dataclass(frozen=True)
class AlertBoard:
    period: str | None
    co_location: list[dict[str, Any]]
    waiting: list[Alert]
    waiting_count: int
    exhausted: list[Alert]
    exhausted_count: int
    given_up_today: int
    reports: DailyReportStatus | None


def alert_board(actor: Actor, *, now: datetime | None = None) -> AlertBoard:
    """What the dashboard shows of alerting: the period in force and who is co-located,
    alerts waiting for an acknowledgement, alerts nobody acknowledged, SMS given up today,
    and daily reports in a sensitive period."""
    now = now or timezone.now()
    day = local_day(now)
    period = sensitive_period(actor.district_id, day)
    visible = alerts_visible(actor)
    waiting = visible.filter(state=Alert.State.OPEN)
    exhausted = visible.filter(state=Alert.State.EXHAUSTED, raised_at__gte=now - timedelta(days=1))
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    given_up = SmsMessage.objects.filter(
        district_id=actor.district_id,
        status=SmsStatus.FAILED,
        status_at__gte=start,
        alert__in=visible,
    ).count()
    co_location: list[dict[str, Any]] = []
    if period is not None:
        shifts = DutyShift.objects.filter(
            day=day, unit__district_id=actor.district_id, unit__code__in=FOUR_DEPARTMENTS
        ).select_related("unit", "officer")
        by_unit: dict[Unit, dict[str, str]] = {}
        for shift in shifts:
            by_unit.setdefault(shift.unit, {})[shift.rung] = shift.officer.name
        co_location = [
            {"unit": unit, **rungs}
            for unit, rungs in sorted(by_unit.items(), key=lambda x: x[0].code)
        ]
    return AlertBoard(
        period=period.name if period else None,
        co_location=co_location,
        waiting=list(alert_rows(waiting).order_by("-raised_at")[:BOARD_ROWS]),
        waiting_count=waiting.count(),
        exhausted=list(alert_rows(exhausted).order_by("-raised_at")[:BOARD_ROWS]),
        exhausted_count=exhausted.count(),
        given_up_today=given_up,
        reports=daily_report_status(actor.district_id, day) if period is not None else None,
    )


def incident_cap(incident: Incident) -> CapIncident:
    """The CAP 1.2 facts of an incident, as of its latest change."""
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "localhost"
    sender = f"{incident.district.code}@{host}"
    first_id = f"{incident.district.code}-{incident.code}-r0"
    last_change = (
        Event.objects.filter(incident=incident, kind__startswith="incident.")
        .exclude(kind__in=["incident.chat", "incident.acknowledged"])
        .order_by("-id")
        .values_list("at", flat=True)
        .first()
    ) or incident.reported_at
    kind = Kind(incident.kind)
    label = KIND_LABELS[kind]
    with translation.override("zh-hans"):
        kind_zh = str(label)
    with translation.override("en"):
        kind_en = str(label)
    return CapIncident(
        identifier=f"{incident.district.code}-{incident.code}-r{incident.revision}",
        sender=sender,
        sent=last_change.replace(microsecond=0),
        msg_type="Alert" if incident.revision == 0 else "Update",
        references=(
            ()
            if incident.revision == 0
            else (cap_reference(sender, first_id, incident.reported_at.replace(microsecond=0)),)
        ),
        level=incident.level,
        status=incident.status,
        kind_label_zh=kind_zh,
        kind_label_en=kind_en,
        town_zh=incident.town.name_zh,
        town_en=incident.town.name_en,
        people_count=incident.people_count,
        code=incident.code,
        lat=incident.lat,
        lng=incident.lng,
        web=f"{settings.PUBLIC_BASE_URL}/i/{incident.pk}",
        kinds=(kind.value,),
    )
