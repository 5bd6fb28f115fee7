"""Daily reports in sensitive periods (零报告): filing them, and chasing the missing ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import ZeroReport
from alerts.services.common import alert_settings, local_day, local_tz, sensitive_period
from alerts.services.paging import alerts_cancel, zero_report_alert_key, zero_report_alert_raise
from incidents.domain.identifiers import mask_numbers_in_text
from incidents.domain.lifecycle import Role
from incidents.errors import Forbidden, Invalid
from incidents.events import event_record
from incidents.models import Unit
from incidents.policy import Actor

NOTE_MAX_CHARS = 2000


@dataclass(frozen=True)
class DailyReportStatus:
    day: date
    period: str | None
    due_hour: int
    filed: list[ZeroReport]
    missing: list[Unit]


def zero_report_file(
    *, actor: Actor, nothing_to_report: bool, note: str = "", now: datetime | None = None
) -> tuple[ZeroReport, bool]:
    """File the actor's unit's report for today; returns (report, created).

    Filing again the same day changes nothing and returns the first report.
    """
    now = now or timezone.now()
    if actor.unit_id is None or Role.LIAISON not in actor.roles:
        raise Forbidden(_("Only a unit's liaison files its daily report."))
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise Invalid(_("At most 2000 characters."), [{"field": "note", "message": _("Too long.")}])
    if not nothing_to_report and not note:
        raise Invalid(
            _("Say what there is to report, or report that there is nothing."),
            [{"field": "note", "message": _("Required when there is something to report.")}],
        )
    day = local_day(now)
    existing = ZeroReport.objects.filter(unit_id=actor.unit_id, day=day).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            report = ZeroReport.objects.create(
                district_id=actor.district_id,
                unit_id=actor.unit_id,
                day=day,
                nothing_to_report=nothing_to_report,
                note=note,
                filed_by_id=actor.user_id,
                filed_at=now,
            )
            event_record(
                at=now,
                district=actor.district_id,
                kind="zero_report.filed",
                actor=actor,
                units=[actor.unit_id],
                data={
                    "unit_id": actor.unit_id,
                    "day": day.isoformat(),
                    "nothing_to_report": nothing_to_report,
                    "note": mask_numbers_in_text(note),
                },
            )
            alerts_cancel(
                keys=[zero_report_alert_key(actor.unit_id, day)], now=now, why="report_filed"
            )
    except IntegrityError:
        return ZeroReport.objects.get(unit_id=actor.unit_id, day=day), False
    return report, True


def daily_report_status(district_id: int, day: date) -> DailyReportStatus:
    """Who has filed and who has not, for `day` (whatever the period)."""
    settings_row = alert_settings(district_id)
    period = sensitive_period(district_id, day)
    filed = list(ZeroReport.objects.filter(district_id=district_id, day=day).select_related("unit"))
    filed_units = {r.unit_id for r in filed}
    missing = [
        u for u in settings_row.zero_report_units.filter(active=True) if u.pk not in filed_units
    ]
    return DailyReportStatus(
        day=day,
        period=period.name if period else None,
        due_hour=settings_row.zero_report_hour,
        filed=filed,
        missing=missing,
    )


def zero_reports_check(*, district_id: int, now: datetime | None = None) -> int:
    """In a sensitive period, after the due hour, page the leader of each unit that has not
    filed today (once per unit and day); returns how many alerts were raised."""
    now = now or timezone.now()
    day = local_day(now)
    status = daily_report_status(district_id, day)
    if status.period is None or now.astimezone(local_tz()).hour < status.due_hour:
        return 0
    raised = 0
    for unit in status.missing:
        with transaction.atomic():
            if zero_report_alert_raise(unit=unit, day=day, now=now) is not None:
                event_record(
                    at=now,
                    district=district_id,
                    kind="zero_report.missing",
                    actor=None,
                    units=[unit.pk],
                    data={"unit_id": unit.pk, "unit": unit.code, "day": day.isoformat()},
                )
                raised += 1
    return raised
