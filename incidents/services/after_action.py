"""After-action reports (事后评估报告): drafted when an incident closes, edited, signed.

The report's facts come from the incident's event log up to the report's cutoff
(`incidents.domain.after_action`), so a report reads the same whenever it is opened. Command
staff and reviewers write the lessons learned and sign; a signed report is frozen. Each edit,
refresh and signature writes an event in the incident's stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.domain import after_action as facts_rules
from incidents.domain import incidents as rules
from incidents.domain.lifecycle import Role
from incidents.domain.streams import incident_stream
from incidents.errors import Conflict, Forbidden, Invalid, NotFound
from incidents.events import event_record, stream_head
from incidents.models import AfterActionReport, Event, Incident, Unit
from incidents.policy import Actor, visible_incidents
from playbooks.models import ChecklistStep

LESSONS_MAX_CHARS = 20_000
NOTE_MAX_CHARS = 300
EDITORS = frozenset({Role.COMMAND, Role.REVIEWER})
# The report's own events: never part of its facts, nor news that calls for a refresh.
OWN_KINDS = ("after_action.",)


def _field_error(field_name: str, message: str) -> Invalid:
    return Invalid(message, [{"field": field_name, "message": message}])


def after_action_draft(*, incident: Incident, now: datetime) -> AfterActionReport:
    """The incident's report, drafted up to the newest event of its stream if it has none.

    Idempotent: a second call returns the report already drafted, unchanged.
    """
    report, _created = AfterActionReport.objects.get_or_create(
        incident=incident,
        defaults={"cutoff_event_id": stream_head(incident_stream(incident.pk)), "drafted_at": now},
    )
    return report


def _visible_incident(actor: Actor, incident_id: int) -> Incident:
    incident = visible_incidents(actor).select_related("town").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def after_action_get(actor: Actor, incident_id: int) -> AfterActionReport:
    """The report of a closed incident `actor` may see, drafted now if it has none yet.

    `NotFound` for an incident the actor may not see; `Conflict` for one not closed yet.
    """
    incident = _visible_incident(actor, incident_id)
    if incident.status != rules.Status.CLOSED:
        raise Conflict(_("The incident is not closed yet: its after-action report comes later."))
    return _report_of(incident) or after_action_draft(incident=incident, now=timezone.now())


def _report_of(incident: Incident) -> AfterActionReport | None:
    report = (
        AfterActionReport.objects.select_related("signed_by", "edited_by")
        .filter(incident=incident)
        .first()
    )
    if report is not None:
        report.incident = incident
    return report


def _check_editor(actor: Actor) -> None:
    if not actor.roles & EDITORS:
        raise Forbidden(_("Only command staff and reviewers write and sign after-action reports."))


def _report_for_update(actor: Actor, incident_id: int) -> AfterActionReport:
    """The report to change, locked; its incident must be visible, closed and drafted."""
    incident = _visible_incident(actor, incident_id)
    if incident.status != rules.Status.CLOSED:
        raise Conflict(_("The incident is not closed yet: its after-action report comes later."))
    after_action_draft(incident=incident, now=timezone.now())
    report = AfterActionReport.objects.select_for_update().get(incident=incident)
    report.incident = incident
    if report.state == AfterActionReport.State.SIGNED:
        raise Conflict(_("The after-action report is signed; it can no longer change."))
    return report


def _check_revision(report: AfterActionReport, expected_revision: int | None) -> None:
    if expected_revision is not None and expected_revision != report.revision:
        raise Conflict(_("The report changed since you loaded it; reload and try again."))


def _report_event(actor: Actor, report: AfterActionReport, kind: str, **data: Any) -> Event:
    return event_record(
        district=report.incident.district_id,
        incident=report.incident,
        kind=kind,
        actor=actor,
        data={"report_id": report.pk, "revision": report.revision, **data},
    )


def after_action_edit(
    *,
    actor: Actor,
    incident_id: int,
    lessons: str | None = None,
    sign_off_note: str | None = None,
    expected_revision: int | None = None,
) -> AfterActionReport:
    """Write the lessons learned and the sign-off remark of an unsigned report.

    `None` leaves a text as it is. `Forbidden` unless command staff or a reviewer;
    `Conflict` once signed, or when `expected_revision` is not the report's revision.
    """
    _check_editor(actor)
    if lessons is not None and len(lessons) > LESSONS_MAX_CHARS:
        raise _field_error("lessons", _("At most 20,000 characters."))
    if sign_off_note is not None and len(sign_off_note.strip()) > NOTE_MAX_CHARS:
        raise _field_error("sign_off_note", _("At most 300 characters."))
    with transaction.atomic():
        report = _report_for_update(actor, incident_id)
        _check_revision(report, expected_revision)
        changed = []
        if lessons is not None and lessons.strip() != report.lessons:
            report.lessons = lessons.strip()
            changed.append("lessons")
        if sign_off_note is not None and sign_off_note.strip() != report.sign_off_note:
            report.sign_off_note = sign_off_note.strip()
            changed.append("sign_off_note")
        report.edited_by_id = actor.user_id
        report.edited_at = timezone.now()
        report.revision += 1
        report.save()
        _report_event(
            actor,
            report,
            "after_action.edited",
            changed=changed,
            lessons_chars=len(report.lessons),
        )
    return report


def after_action_refresh(
    *, actor: Actor, incident_id: int, expected_revision: int | None = None
) -> AfterActionReport:
    """Bring an unsigned report up to the newest event of the incident's stream.

    Same permissions and conflicts as `after_action_edit`.
    """
    _check_editor(actor)
    with transaction.atomic():
        report = _report_for_update(actor, incident_id)
        _check_revision(report, expected_revision)
        before = report.cutoff_event_id
        report.cutoff_event_id = stream_head(incident_stream(incident_id))
        report.revision += 1
        report.save()
        _report_event(
            actor,
            report,
            "after_action.refreshed",
            cutoff_before=before,
            cutoff=report.cutoff_event_id,
        )
    return report


def after_action_sign(
    *, actor: Actor, incident_id: int, note: str = "", expected_revision: int | None = None
) -> AfterActionReport:
    """Sign the report, which freezes it; a non-empty `note` replaces the sign-off remark.

    `Invalid` (field `lessons`) while no lessons are written; otherwise as
    `after_action_edit`.
    """
    _check_editor(actor)
    if len(note.strip()) > NOTE_MAX_CHARS:
        raise _field_error("note", _("At most 300 characters."))
    with transaction.atomic():
        report = _report_for_update(actor, incident_id)
        _check_revision(report, expected_revision)
        if not report.lessons.strip():
            raise _field_error("lessons", _("Write the lessons learned before signing."))
        now = timezone.now()
        if note.strip():
            report.sign_off_note = note.strip()
        report.state = AfterActionReport.State.SIGNED
        report.signed_by_id = actor.user_id
        report.signed_at = now
        report.revision += 1
        report.save()
        _report_event(actor, report, "after_action.signed", cutoff_event_id=report.cutoff_event_id)
    return report


# --- reading -------------------------------------------------------------------------------


def _record(event: Event, *, in_stream: bool) -> facts_rules.EventRecord:
    return facts_rules.EventRecord(
        id=event.pk,
        kind=event.kind,
        at=event.at,
        actor=event.actor.get_username() if event.actor else None,
        reason=event.reason,
        before=event.before,
        after=event.after,
        data=event.data if isinstance(event.data, dict) else {},
        case_number=event.case.number if event.case else None,
        in_stream=in_stream,
    )


def _incident_facts(incident: Incident) -> facts_rules.IncidentFacts:
    return facts_rules.IncidentFacts(
        id=incident.pk,
        code=incident.code,
        title=incident.title,
        kind=incident.kind,
        town=incident.town.code,
        lat=incident.lat,
        lng=incident.lng,
        level=incident.level,
        people_count=incident.people_count,
        reported_at=incident.reported_at,
        unit_names={u.code: u.name for u in Unit.objects.filter(district_id=incident.district_id)},
    )


def after_action_events(report: AfterActionReport) -> list[facts_rules.EventRecord]:
    """The events the report is computed from, as plain records.

    Those of the incident's stream up to the cutoff, and the earlier events of the cases
    linked to it (their registration, say), which count for money and case states.
    """
    incident = report.incident
    cutoff = report.cutoff_event_id
    stream = list(
        Event.objects.filter(entries__stream=incident_stream(incident.pk), id__lte=cutoff)
        .exclude(kind__startswith=OWN_KINDS[0])
        .select_related("actor", "case")
        .order_by("id")
    )
    numbers: set[str] = set()
    for event in stream:
        if event.kind in {"incident.reported", "incident.link_cases"}:
            numbers.update(str(n) for n in event.data.get("case_numbers") or [])
    seen = {e.pk for e in stream}
    history = list(
        Event.objects.filter(
            case__number__in=numbers, district_id=incident.district_id, id__lte=cutoff
        )
        .exclude(pk__in=seen)
        .select_related("actor", "case")
        .order_by("id")
    )
    return [
        *(_record(e, in_stream=True) for e in stream),
        *(_record(e, in_stream=False) for e in history),
    ]


def _planned_steps(incident: Incident) -> list[facts_rules.PlannedStep]:
    steps = ChecklistStep.objects.filter(checklist__incident=incident).select_related("owner_unit")
    return [
        facts_rules.PlannedStep(
            checklist_id=s.checklist_id,
            step_id=s.pk,
            key=s.key,
            title=s.title_zh,
            title_en=s.title_en,
            owner=s.owner_unit.code if s.owner_unit else "command",
            due_at=s.due_at,
        )
        for s in steps
    ]


def after_action_facts(report: AfterActionReport) -> dict[str, Any]:
    """The report's facts (summary, timeline, steps, alerts, money, cases) at its cutoff."""
    incident = report.incident
    return facts_rules.after_action_facts(
        _incident_facts(incident),
        after_action_events(report),
        _planned_steps(incident),
    )


def after_action_news(report: AfterActionReport) -> int:
    """How many events of the incident's stream came after the cutoff (a refresh adds them)."""
    return (
        Event.objects.filter(
            entries__stream=incident_stream(report.incident_id), id__gt=report.cutoff_event_id
        )
        .exclude(kind__startswith=OWN_KINDS[0])
        .count()
    )
