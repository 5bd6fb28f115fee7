"""The daily joint situation report (每日联合情况报告): drafted each morning of a sensitive
period from the records, then completed by the duty officer's notes.

The figures are frozen at drafting: yesterday's flows (local day, Asia/Shanghai) and the
stocks as they stood at the drafting time, with the event log's head as an anchor of its
hash chain (a printed report keeps a copy the database's owner cannot rewrite). One report
per district and day, whatever the number of workers drafting at once (a unique
constraint, and `get_or_create`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.domain.risk import LEVELS as WARNING_LEVELS
from alerts.domain.risk import WarningState
from alerts.models import EarlyWarning
from alerts.selectors_risk import overdue_q
from alerts.services.common import sensitive_period
from alerts.services.zero_reports import daily_report_status
from command_center.models import SituationReport
from command_center.reports import fund_total
from incidents.activity import day_bounds
from incidents.domain.chain import anchor_text
from incidents.domain.identifiers import mask_numbers_in_text
from incidents.domain.incidents import LEVELS_ASCENDING, OPEN_STATUSES
from incidents.domain.lifecycle import OPEN_STATES
from incidents.errors import Forbidden, Invalid, NotFound
from incidents.events import event_record
from incidents.models import Case, District, Event, EventLogHead, FundAccount, Incident
from incidents.policy import DISTRICT_WIDE, Actor

NOTES_MAX_CHARS = 10_000


def situation_figures(*, district_id: int, day: date, now: datetime) -> dict[str, Any]:
    """The report's figures for `day`: flows of the day before (local), stocks at `now`.

    Money is written as strings with two decimals (JSON has no decimal type).
    """
    yesterday = day - timedelta(days=1)
    start, end = day_bounds(yesterday, yesterday)
    events = Event.objects.filter(district_id=district_id, at__gte=start, at__lt=end)

    open_incidents = Incident.objects.filter(
        district_id=district_id, status__in=[s.value for s in OPEN_STATUSES]
    )
    incidents_by_level = _by(open_incidents, "level", [lv.value for lv in LEVELS_ASCENDING])

    open_warnings = EarlyWarning.objects.filter(district_id=district_id).exclude(
        state=WarningState.CLOSED
    )
    warnings_by_level = _by(open_warnings, "level", [lv.value for lv in WARNING_LEVELS])

    advanced = fund_total(district_id, "fund.advance", start, end)
    recovered = fund_total(district_id, "fund.recovery", start, end)
    account = FundAccount.objects.filter(district_id=district_id).first()

    reports = daily_report_status(district_id, yesterday)
    required = reports.period is not None
    head = EventLogHead.objects.filter(district_id=district_id).first()
    return {
        "as_of": timezone.localtime(now).isoformat(),
        "yesterday": yesterday.isoformat(),
        "cases": {
            "registered_yesterday": events.filter(kind="case.registered").count(),
            "open_now": Case.objects.filter(
                district_id=district_id, state__in=[s.value for s in OPEN_STATES]
            ).count(),
        },
        "incidents": {
            "reported_yesterday": Incident.objects.filter(
                district_id=district_id, reported_at__gte=start, reported_at__lt=end
            ).count(),
            "open_now": sum(incidents_by_level.values()),
            "open_by_level": incidents_by_level,
        },
        "warnings": {
            "open_now": sum(warnings_by_level.values()),
            "open_by_level": warnings_by_level,
            "overdue_now": open_warnings.filter(overdue_q(now)).count(),
        },
        "fund": {
            "advanced_yesterday": f"{advanced:.2f}",
            "recovered_yesterday": f"{recovered:.2f}",
            "balance_now": f"{account.balance:.2f}" if account else None,
        },
        "zero_reports": {
            "required": required,
            "filed": len(reports.filed),
            "expected": len(reports.filed) + len(reports.missing) if required else 0,
            "missing": sorted(u.code for u in reports.missing) if required else [],
        },
        # An anchor of the tamper-evident log, printed and filed with the report
        # (`manage.py verify_events --anchor`).
        "event_log": {
            "anchor": anchor_text(head.last_event_id, head.last_hash),
        }
        if head is not None and head.last_event_id
        else None,
    }


def _by(qs: QuerySet[Any], field: str, keys: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(keys, 0)
    counts.update(dict(qs.values(field).annotate(n=Count("id")).values_list(field, "n")))
    return counts


def situation_draft(*, district_id: int, now: datetime | None = None) -> SituationReport | None:
    """Draft the district's report for today (local) if today is in a sensitive period, it
    is past `SITUATION_REPORT_HOUR` and none exists yet.

    Returns the report this call drafted; None when it drafted nothing (no period, too early,
    or drafted already, here or by another worker).
    """
    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.hour < settings.SITUATION_REPORT_HOUR:
        return None
    day = local.date()
    period = sensitive_period(district_id, day)
    if period is None:
        return None
    if SituationReport.objects.filter(district_id=district_id, day=day).exists():
        return None
    figures = situation_figures(district_id=district_id, day=day, now=now)
    with transaction.atomic():
        report, created = SituationReport.objects.get_or_create(
            district_id=district_id,
            day=day,
            defaults={"period": period.name, "figures": figures, "drafted_at": now},
        )
    return report if created else None


def situation_drafts_sweep(*, now: datetime | None = None) -> int:
    """Draft today's report in every district that needs one; returns how many were drafted."""
    now = now or timezone.now()
    if timezone.localtime(now).hour < settings.SITUATION_REPORT_HOUR:
        return 0
    return sum(
        situation_draft(district_id=pk, now=now) is not None
        for pk in District.objects.values_list("pk", flat=True)
    )


def check_situation_read(actor: Actor) -> None:
    """District-wide roles (command, inspectors, reviewers) read the reports."""
    if not actor.roles & DISTRICT_WIDE:
        raise Forbidden(_("Only command staff, inspectors and reviewers read situation reports."))


def situation_reports(actor: Actor) -> QuerySet[SituationReport]:
    """The reports of the actor's district, newest first; `Forbidden` for other roles."""
    check_situation_read(actor)
    return SituationReport.objects.filter(district_id=actor.district_id).select_related("edited_by")


def situation_get(actor: Actor, report_id: int) -> SituationReport:
    """One report of the actor's district; `Forbidden` for other roles, else `NotFound`."""
    report = situation_reports(actor).filter(pk=report_id).first()
    if report is None:
        raise NotFound(_("No such situation report."))
    return report


def situation_edit(
    *, actor: Actor, report_id: int, notes: str, now: datetime | None = None
) -> SituationReport:
    """Replace the duty officer's notes of a report (command staff only) and log it.

    Raises `Forbidden` for other roles, `NotFound` for a report of another district, and
    `Invalid` for notes longer than `NOTES_MAX_CHARS`.
    """
    if not actor.is_command:
        raise Forbidden(_("Only command staff edit situation reports."))
    notes = notes.strip()
    if len(notes) > NOTES_MAX_CHARS:
        raise Invalid(
            _("At most %(n)s characters.") % {"n": NOTES_MAX_CHARS},
            [{"field": "notes", "message": _("Too long.")}],
        )
    now = now or timezone.now()
    with transaction.atomic():
        report = (
            SituationReport.objects.select_for_update()
            .filter(pk=report_id, district_id=actor.district_id)
            .first()
        )
        if report is None:
            raise NotFound(_("No such situation report."))
        # A situation report goes up the chain and to every district-wide role: no numbers.
        report.notes = mask_numbers_in_text(notes)
        report.edited_at = now
        report.edited_by_id = actor.user_id
        report.save(update_fields=["notes", "edited_at", "edited_by"])
        event_record(
            at=now,
            district=actor.district_id,
            kind="situation.edited",
            actor=actor,
            data={
                "report_id": report.pk,
                "day": report.day.isoformat(),
                "note": report.notes,
            },
        )
    return report
