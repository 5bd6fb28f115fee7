"""API endpoints of alerting: alerts and their messages, rosters, daily reports, CAP export."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router

from alerts import selectors
from alerts.domain.cap import cap_alert_xml
from alerts.domain.messages import phone_masked
from alerts.models import Alert, SmsMessage
from alerts.policy import alerts_visible, roster_units
from alerts.schemas import (
    AlertListOut,
    AlertListQuery,
    AlertOut,
    DailyReportsOut,
    RosterOut,
    RosterQuery,
    ZeroReportIn,
    ZeroReportOut,
)
from alerts.services import (
    alert_acknowledge_as,
    daily_report_status,
    local_day,
    roster_for_day,
    sensitive_period,
    zero_report_file,
)
from command_center.responses import json_response
from incidents import selectors as incident_selectors
from incidents.policy import actor_for
from incidents.selectors import iso

router = Router(tags=["alerts"])


def _sms(message: SmsMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "reference": message.reference,
        "officer": message.officer.name if message.officer else None,
        "to": phone_masked(message.to),
        "template": message.template,
        "stage": message.stage,
        "status": message.status,
        "provider": message.provider,
        "provider_id": message.provider_id,
        "attempts": message.attempts,
        "error_code": message.error_code,
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
        "status_at": iso(message.status_at),
        "expires_at": iso(message.expires_at),
    }


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "reason": alert.reason,
        "unit": alert.unit.code if alert.unit else None,
        "incident_id": alert.incident_id,
        "case_number": alert.case.number if alert.case else None,
        "level": alert.level,
        "sensitive": alert.sensitive,
        "stage": alert.stage,
        "ladder": alert.ladder,
        "state": alert.state,
        "raised_at": iso(alert.raised_at),
        "escalate_at": iso(alert.escalate_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by.name if alert.acknowledged_by else None,
        "acknowledged_via": alert.acknowledged_via,
        "messages": [_sms(m) for m in alert.messages.all()],
    }


@router.get("/alerts", response=AlertListOut, summary="SMS alerts and their messages")
def alert_list(request: HttpRequest, query: Query[AlertListQuery]) -> dict[str, Any]:
    """Command staff and reviewers see the district's alerts, others their unit's. Phone
    numbers are masked."""
    actor = actor_for(request.user)
    qs = alerts_visible(actor)
    if query.state:
        qs = qs.filter(state=query.state)
    if query.incident:
        qs = qs.filter(incident_id=query.incident)
    page = selectors.alert_rows(qs).order_by("-raised_at")[
        query.offset : query.offset + query.limit
    ]
    return {"count": qs.count(), "results": [_alert(a) for a in page]}


@router.post(
    "/alerts/{int:alert_id}/acknowledge", response=AlertOut, summary="Acknowledge an alert"
)
def alert_ack(request: HttpRequest, alert_id: int) -> dict[str, Any]:
    """The unit's liaison or command staff acknowledge an alert; its escalation stops.
    Acknowledging one that is no longer open changes nothing."""
    actor = actor_for(request.user)
    alert_acknowledge_as(actor=actor, alert_id=alert_id, via="api", now=timezone.now())
    return _alert(selectors.alert_rows(Alert.objects.filter(pk=alert_id)).get())


@router.get("/roster", response=RosterOut, summary="Who is on duty on a day")
def roster(request: HttpRequest, query: Query[RosterQuery]) -> dict[str, Any]:
    actor = actor_for(request.user)
    day = query.day or local_day(timezone.now())
    units = roster_units(actor)
    if query.unit:
        units = units.filter(code=query.unit)
    period = sensitive_period(actor.district_id, day)
    rows = roster_for_day(actor.district_id, day, units)
    return {
        "day": day.isoformat(),
        "sensitive_period": period.name if period else None,
        "units": [
            {
                "unit": row.unit.code,
                "primary": row.primary.name if row.primary else None,
                "backup": row.backup.name if row.backup else None,
                "leader": row.leader.name if row.leader else None,
            }
            for row in rows
        ],
    }


def _report(report: Any) -> dict[str, Any]:
    return {
        "unit": report.unit.code,
        "day": report.day.isoformat(),
        "nothing_to_report": report.nothing_to_report,
        "note": report.note,
        "filed_by": report.filed_by.get_username(),
        "filed_at": iso(report.filed_at),
    }


@router.post(
    "/daily-reports",
    response={200: ZeroReportOut, 201: ZeroReportOut},
    summary="File the unit's daily report (零报告)",
)
def daily_report_file(request: HttpRequest, payload: ZeroReportIn) -> HttpResponse:
    """A unit's liaison files today's report; `nothing_to_report: true` is a report. Filing
    again the same day returns the first report with 200."""
    actor = actor_for(request.user)
    report, created = zero_report_file(
        actor=actor, nothing_to_report=payload.nothing_to_report, note=payload.note
    )
    return json_response(_report(report), status=201 if created else 200)


@router.get("/daily-reports", response=DailyReportsOut, summary="Today's daily reports")
def daily_reports(request: HttpRequest) -> dict[str, Any]:
    actor = actor_for(request.user)
    status = daily_report_status(actor.district_id, local_day(timezone.now()))
    return {
        "day": status.day.isoformat(),
        "sensitive_period": status.period,
        "due_hour": status.due_hour,
        "filed": [_report(r) for r in status.filed],
        "missing": [u.code for u in status.missing],
    }


@router.get(
    "/incidents/{int:incident_id}/cap.xml",
    response={200: None},
    summary="The incident as an OASIS CAP 1.2 alert",
    tags=["incidents"],
)
def incident_cap(request: HttpRequest, incident_id: int) -> HttpResponse:
    """One CAP 1.2 `<alert>` (scope Restricted) with Chinese and English `<info>`: its code,
    level, kind, town, people and place; never anyone's name or number. The first version is
    an Alert; later ones are Updates referring to it."""
    actor = actor_for(request.user)
    incident = incident_selectors.incident_get(actor, incident_id)
    return HttpResponse(
        cap_alert_xml(selectors.incident_cap(incident)),
        content_type="application/cap+xml; charset=utf-8",
    )
