"""Alerts: paging a unit's people, escalating when nobody acknowledges, acknowledgements.

An alert pages its unit's people stage by stage (`alerts.domain.duty.ladder`). Each stage's
messages go through the outbox in the same transaction; `escalate_at` is when the next stage
fires. The escalation sweep and an acknowledgement both change the alert by a conditional
UPDATE (on `stage`, and on `state` being open), so an escalation fires once, and never
after the alert was acknowledged, however many workers sweep.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alerts.domain import duty
from alerts.domain.duty import Reason, Rung
from alerts.domain.messages import PARAM_MAX_CHARS, MessageError, phone_masked
from alerts.models import Alert, AlertSettings, DutyShift, Officer
from alerts.policy import alerts_visible, check_acknowledge
from alerts.services.common import (
    alert_settings,
    local_day,
    public_link,
    sensitive_period,
)
from alerts.services.outbox import sms_queue
from incidents.domain.incidents import Level
from incidents.errors import NotFound
from incidents.events import event_record
from incidents.models import Case, Clock, Incident, Unit
from incidents.policy import Actor

log = logging.getLogger(__name__)

FIRST_TEMPLATE = {
    Reason.INCIDENT_OPENED: "incident_opened",
    Reason.LEVEL_RAISED: "incident_level_raised",
    Reason.CLOCK_OVERDUE: "clock_overdue",
    Reason.ZERO_REPORT_MISSING: "zero_report_missing",
    Reason.STEP_LATE: "step_late",
    Reason.WARNING_RAISED: "warning_raised",
    Reason.WARNING_OVERDUE: "warning_overdue",
}
LATER_TEMPLATE = {
    Reason.INCIDENT_OPENED: "incident_escalated",
    Reason.LEVEL_RAISED: "incident_escalated",
    Reason.CLOCK_OVERDUE: "clock_escalated",
    Reason.ZERO_REPORT_MISSING: "zero_report_missing",
    Reason.STEP_LATE: "step_escalated",
    Reason.WARNING_RAISED: "warning_escalated",
    Reason.WARNING_OVERDUE: "warning_escalated",
}
_TEMPLATE_PARAMS = {
    "incident_opened": ("level", "code", "town", "kind", "people", "link"),
    "incident_level_raised": ("level", "code", "town", "kind", "people", "link"),
    "incident_escalated": ("code", "level", "unit", "minutes", "link"),
    "clock_overdue": ("code", "clock", "link"),
    "clock_escalated": ("code", "clock", "minutes", "link"),
    "zero_report_missing": ("unit", "day", "link"),
    "step_late": ("code", "step", "due", "link"),
    "step_escalated": ("code", "step", "minutes", "link"),
    "warning_raised": ("level", "code", "subject", "due", "link"),
    "warning_overdue": ("level", "code", "due", "link"),
    "warning_escalated": ("level", "code", "minutes", "link"),
}
COMMAND_NAME = "联合指挥部"  # who an alert with no unit is about, in an SMS


def _zh(label: Any) -> str:
    """SMS go to field officers in Chinese, whatever language the request came in."""
    with translation.override("zh-hans"):
        return str(label)


# --- raising ------------------------------------------------------------------------------


def incident_alerts_raise(*, incident: Incident, reason: Reason, now: datetime) -> list[Alert]:
    """Page the plan's departments and the incident's town about an opened or graver incident.

    Call inside the transaction that opened the incident or raised its level.
    """
    from incidents.domain.incidents import Kind
    from incidents.models import KIND_LABELS

    settings_row = alert_settings(incident.district_id)
    units = {u.pk: u for u in settings_row.paged_units.filter(active=True)}
    units[incident.town_id] = incident.town
    # Whoever is paged takes part: their people can open the room the SMS links to.
    incident.units.add(*units)
    params = {
        "level": incident.level,
        "code": incident.code,
        "town": incident.town.name_zh,
        "kind": _zh(KIND_LABELS[Kind(incident.kind)]),
        "people": str(incident.people_count),
        "link": public_link(f"/i/{incident.pk}"),
    }
    key_part = "opened" if reason is Reason.INCIDENT_OPENED else f"level-{incident.level}"
    sensitive = sensitive_period(incident.district_id, local_day(now)) is not None
    raised = []
    for unit in sorted(units.values(), key=lambda u: u.pk):
        alert = alert_raise(
            district_id=incident.district_id,
            key=f"incident:{incident.pk}:{key_part}:unit:{unit.pk}",
            reason=reason,
            unit=unit,
            incident=incident,
            level=Level(incident.level),
            params=params,
            now=now,
            settings_row=settings_row,
            sensitive=sensitive,
        )
        if alert is not None:
            raised.append(alert)
    return raised


def clock_alert_key(clock_id: int) -> str:
    """The key of the alert about a late deadline (one per clock)."""
    return f"clock:{clock_id}:overdue"


def clock_alert_raise(*, clock: Clock, now: datetime) -> Alert | None:
    """Page the responsible unit's liaison about a case deadline that has passed."""
    case = clock.case
    unit = case.responsible_unit
    if unit is None:
        return None
    return alert_raise(
        district_id=case.district_id,
        key=clock_alert_key(clock.pk),
        reason=Reason.CLOCK_OVERDUE,
        unit=unit,
        case=case,
        params={
            "code": case.number,
            "clock": _zh(Clock.Kind(clock.kind).label),
            "link": public_link(f"/c/{case.number}"),
        },
        now=now,
    )


def zero_report_alert_key(unit_id: int, day: date) -> str:
    """The key of the alert about a unit's missing daily report (one per unit and day)."""
    return f"zero:{unit_id}:{day.isoformat()}"


def zero_report_alert_raise(*, unit: Unit, day: date, now: datetime) -> Alert | None:
    """Page a unit's leader about its missing daily report."""
    return alert_raise(
        district_id=unit.district_id,
        key=zero_report_alert_key(unit.pk, day),
        reason=Reason.ZERO_REPORT_MISSING,
        unit=unit,
        params={
            "unit": unit.name_zh,
            "day": f"{day.month}月{day.day}日",
            "link": public_link("/alerts/daily-reports/"),
        },
        now=now,
    )


def alert_raise(
    *,
    district_id: int,
    key: str,
    reason: Reason,
    unit: Unit | None,
    params: dict[str, str],
    now: datetime,
    incident: Incident | None = None,
    case: Case | None = None,
    level: Level | None = None,
    settings_row: AlertSettings | None = None,
    sensitive: bool | None = None,
) -> Alert | None:
    """Raise one alert (once per `key`) and page its first stage; None if it was raised.

    `sensitive` says whether a sensitive period is in force (looked up when not given).
    An alert with no `unit` is about something the joint command itself owns: it pages
    command alone.
    """
    if Alert.objects.filter(key=key).exists():
        return None
    if sensitive is None:
        sensitive = sensitive_period(district_id, local_day(now)) is not None
    ladder = (
        duty.ladder(reason, level=level, sensitive=sensitive)
        if unit is not None
        else (frozenset({Rung.COMMAND}),)
    )
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                district_id=district_id,
                key=key,
                reason=reason.value,
                unit=unit,
                incident=incident,
                case=case,
                level=level.value if level else "",
                sensitive=sensitive,
                ladder=[sorted(r.value for r in stage) for stage in ladder],
                params=params,
                raised_at=now,
            )
    except IntegrityError:
        return None  # raised meanwhile by another worker
    _page(alert, now, settings_row or alert_settings(district_id), why="raised")
    return alert


# --- paging -------------------------------------------------------------------------------


def _recipients(alert: Alert, rung: Rung, day: date) -> list[Officer]:
    officers = Officer.objects.filter(active=True)
    if rung is Rung.COMMAND:
        return list(officers.filter(district_id=alert.district_id, unit__isnull=True))
    if alert.unit_id is None:
        return []  # an alert about the joint command's own work pages command alone
    if rung is Rung.LIAISON:
        return list(officers.filter(unit_id=alert.unit_id, is_liaison=True))
    return [
        shift.officer
        for shift in DutyShift.objects.filter(
            unit_id=alert.unit_id, day=day, rung=rung.value, officer__active=True
        ).select_related("officer")
    ]


def _page(alert: Alert, now: datetime, settings_row: AlertSettings, *, why: str) -> None:
    """Page the alert's current stage, passing on at once past stages with nobody on duty.

    Writes one event: `alert.raised` or `alert.escalated` naming who was paged (and the
    rungs skipped for want of anyone), or `alert.exhausted` when nobody is left to page.
    """
    day = local_day(now)
    skipped: list[str] = []
    first_stage = alert.stage
    while True:
        stage = alert.stage
        rungs = [Rung(r) for r in alert.ladder[stage]]
        people: dict[int, Officer] = {}
        for rung in rungs:
            found = _recipients(alert, rung, day)
            if not found:
                skipped.append(rung.value)
            people.update((o.pk, o) for o in found)
        if people:
            break
        if stage + 1 >= len(alert.ladder):
            Alert.objects.filter(pk=alert.pk).update(state=Alert.State.EXHAUSTED, escalate_at=None)
            alert.state = Alert.State.EXHAUSTED
            alert_event(alert, "alert.exhausted", now, stage=stage, nobody_on_duty=skipped, why=why)
            return
        alert.stage = stage + 1
        Alert.objects.filter(pk=alert.pk).update(stage=alert.stage)
    reason = Reason(alert.reason)
    # Whoever is paged first gets the alert itself; later people get the escalation.
    paged_before = alert.stage > 0 and alert.messages.exists()
    template = LATER_TEMPLATE[reason] if paged_before else FIRST_TEMPLATE[reason]
    params = _params(alert, template, now)
    validity = timedelta(minutes=settings_row.validity_minutes)
    refused: list[str] = []
    for officer in people.values():
        try:
            _queue_page(alert, officer, template, params, validity, now)
        except MessageError:
            # Never let a message that cannot be sent block the decision that wanted it:
            # the alert stands, shows on the dashboard and escalates if nobody acts.
            log.exception("SMS for alert %s to officer %s refused", alert.pk, officer.pk)
            refused.append(officer.name)
    alert.escalate_at = now + duty.escalation_delay(
        sensitive=alert.sensitive,
        normal_minutes=settings_row.escalate_minutes,
        sensitive_minutes=settings_row.escalate_minutes_sensitive,
    )
    Alert.objects.filter(pk=alert.pk).update(escalate_at=alert.escalate_at)
    alert_event(
        alert,
        "alert.raised" if first_stage == 0 and why == "raised" else "alert.escalated",
        now,
        stage=alert.stage,
        rungs=[r.value for r in rungs],
        recipients=[{"name": o.name, "to": phone_masked(o.phone)} for o in people.values()],
        nobody_on_duty=skipped,
        refused=refused,
        escalate_at=alert.escalate_at.isoformat(),
        why=why,
    )


def _queue_page(
    alert: Alert,
    officer: Officer,
    template: str,
    params: dict[str, str],
    validity: timedelta,
    now: datetime,
) -> None:
    sms_queue(
        district_id=alert.district_id,
        key=f"alert:{alert.pk}:stage:{alert.stage}:officer:{officer.pk}",
        to=officer.phone,
        template=template,
        params=params,
        reason=alert.reason,
        validity=validity,
        now=now,
        alert=alert,
        stage=alert.stage,
        officer=officer,
        incident=alert.incident,
        case=alert.case,
    )


def _params(alert: Alert, template: str, now: datetime) -> dict[str, str]:
    values = dict(alert.params)
    values.setdefault("unit", alert.unit.name_zh if alert.unit else COMMAND_NAME)
    values["minutes"] = str(max(1, int((now - alert.raised_at).total_seconds() // 60)))
    # Names from reference data are cut to what a template variable may hold.
    return {
        name: values[name] if name == "link" else str(values[name])[:PARAM_MAX_CHARS]
        for name in _TEMPLATE_PARAMS[template]
    }


def alert_event(alert: Alert, kind: str, now: datetime, **data: Any) -> None:
    """An event about `alert`, in its incident's or case's streams and its unit's."""
    event_record(
        at=now,
        district=alert.district_id,
        kind=kind,
        actor=None,
        incident=alert.incident,
        case=alert.case,
        units=[alert.unit_id] if alert.unit_id else [],
        data={
            "alert_id": alert.pk,
            "reason": alert.reason,
            "unit_id": alert.unit_id,
            "unit": alert.unit.code if alert.unit else None,
            **data,
        },
    )


# --- escalating ---------------------------------------------------------------------------


def alert_escalate(alert_id: int, *, expected_stage: int, now: datetime, why: str) -> bool:
    """Move an open alert from `expected_stage` to the next one; False if that already
    happened, or the alert was acknowledged or exhausted meanwhile."""
    with transaction.atomic():
        claimed = Alert.objects.filter(
            pk=alert_id, state=Alert.State.OPEN, stage=expected_stage
        ).update(stage=F("stage") + 1, escalate_at=None)
        if not claimed:
            return False
        alert = Alert.objects.select_related("unit", "incident", "case").get(pk=alert_id)
        if alert.stage >= len(alert.ladder):
            Alert.objects.filter(pk=alert_id).update(
                state=Alert.State.EXHAUSTED, stage=expected_stage
            )
            alert.stage = expected_stage
            alert_event(alert, "alert.exhausted", now, stage=expected_stage, why=why)
            return True
        _page(alert, now, alert_settings(alert.district_id), why=why)
    return True


def alerts_escalate(*, now: datetime | None = None, batch: int = 200) -> int:
    """Escalate every open alert whose time is up; returns how many moved.

    Several sweepers may run at once: each alert moves for exactly one of them.
    """
    now = now or timezone.now()
    moved = 0
    due = list(
        Alert.objects.filter(state=Alert.State.OPEN, escalate_at__lte=now)
        .order_by("escalate_at")
        .values_list("pk", "stage")[:batch]
    )
    for alert_id, stage in due:
        if alert_escalate(alert_id, expected_stage=stage, now=now, why="not_acknowledged"):
            moved += 1
    return moved


# --- acknowledging ------------------------------------------------------------------------


def alert_acknowledge(
    *,
    alert_id: int,
    now: datetime,
    via: str,
    officer: Officer | None = None,
    user: User | None = None,
) -> bool:
    """Acknowledge an open alert (stops its escalation); False if it was not open."""
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert_id, state=Alert.State.OPEN).update(
            state=Alert.State.ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=officer,
            acknowledged_via=via,
            escalate_at=None,
        )
        if not done:
            return False
        alert = Alert.objects.select_related("unit", "incident", "case").get(pk=alert_id)
        alert_event(
            alert,
            "alert.acknowledged",
            now,
            stage=alert.stage,
            by=officer.name if officer else (user.get_username() if user else None),
            via=via,
            response_seconds=int((now - alert.raised_at).total_seconds()),
        )
    return True


def alert_acknowledge_as(*, actor: Actor, alert_id: int, via: str, now: datetime) -> bool:
    """A person acknowledges an alert (from a page or the API); False if it was not open.

    `NotFound` for an alert they may not see, `Forbidden` for one they may not acknowledge.
    """
    alert = alerts_visible(actor).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("No such alert."))
    check_acknowledge(actor, alert)
    return alert_acknowledge(
        alert_id=alert.pk,
        now=now,
        via=via,
        officer=Officer.objects.filter(user_id=actor.user_id).first(),
        user=User.objects.get(pk=actor.user_id),
    )


def alerts_acknowledge_for_unit(
    *, incident_id: int, unit_id: int | None, user: User | None, now: datetime
) -> int:
    """Acknowledging an incident in its room acknowledges the open alerts of one's unit."""
    if unit_id is None:
        return 0
    ids = Alert.objects.filter(
        incident_id=incident_id, unit_id=unit_id, state=Alert.State.OPEN
    ).values_list("pk", flat=True)
    officer = Officer.objects.filter(user=user).first() if user is not None else None
    return sum(
        alert_acknowledge(alert_id=pk, now=now, via="room", officer=officer, user=user)
        for pk in list(ids)
    )


def alerts_cancel(
    *, now: datetime, why: str, incident: Incident | None = None, keys: list[str] | None = None
) -> int:
    """Stop the open alerts about a matter that has ended (an incident closed, a late
    deadline met): nobody is paged about it any more. Returns how many stopped."""
    qs = Alert.objects.filter(state=Alert.State.OPEN)
    if incident is not None:
        qs = qs.filter(incident=incident)
    elif keys is not None:
        qs = qs.filter(key__in=keys)
    else:
        return 0
    stopped = 0
    for alert in qs.select_related("unit", "incident", "case"):
        with transaction.atomic():
            done = Alert.objects.filter(pk=alert.pk, state=Alert.State.OPEN).update(
                state=Alert.State.CANCELLED, escalate_at=None
            )
            if done:
                alert_event(alert, "alert.cancelled", now, stage=alert.stage, why=why)
                stopped += 1
    return stopped
