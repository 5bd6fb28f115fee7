"""Running checklists: starting them, moving their steps, and finding the late ones.

A checklist copies the steps of the version it starts from (`ChecklistStep`), each with its
owning unit resolved (the incident's town for `town`; none for the joint command) and its
due time fixed from the start. Every start and every move writes an event in the
incident's streams and the owning unit's, so rooms and dashboards see it live.

Late steps are found by a sweep (`checklists_sweep`, beside the clock sweep): each late step
is claimed once by a conditional UPDATE on `late_at`, writes `checklist.step_late` and pages
its owner through the SMS alerts (primary on duty, then leader, then command; the joint
command's own steps page command).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.domain.duty import Reason, Rung
from alerts.domain.messages import MessageError
from alerts.models import DutyShift
from alerts.services.common import alert_settings, local_day, public_link, sensitive_period
from alerts.services.outbox import sms_queue
from alerts.services.paging import alert_raise, alerts_cancel
from incidents.domain.identifiers import mask_numbers_in_text
from incidents.domain.incidents import OPEN_STATUSES, Level
from incidents.errors import Conflict, Invalid, NotFound
from incidents.events import event_record
from incidents.models import Incident, Unit
from incidents.policy import Actor
from playbooks.domain.checklist import (
    FINISHED,
    REASON_REQUIRED,
    IllegalStepMove,
    StepState,
    next_state,
    progress,
)
from playbooks.domain.templates import COMMAND, TOWN, Evidence, Trigger
from playbooks.models import (
    OPEN_STATES,
    Checklist,
    ChecklistStep,
    PlaybookTemplate,
    PlaybookVersion,
)
from playbooks.policy import check_checklist_add, check_step_move, visible_checklists
from playbooks.services.attachments import attachment_check

log = logging.getLogger(__name__)

REMARK_MAX_CHARS = 2000
NUMBER_MAX = Decimal("1000000000000")
STEP_PARAM_CHARS = 20  # a step's title in an SMS is cut to this
_OPEN_STATUSES = [s.value for s in OPEN_STATUSES]


def _field_error(field_name: str, message: str) -> Invalid:
    return Invalid(message, [{"field": field_name, "message": message}])


# --- starting -----------------------------------------------------------------------------


def _owner_unit(owner: str, units: dict[str, Unit], incident: Incident | None) -> Unit | None:
    if owner == COMMAND:
        return None
    if owner == TOWN:
        return incident.town if incident is not None else None
    # A unit removed since the template was written: the joint command takes its step.
    return units.get(owner)


def _start(
    *,
    template: PlaybookTemplate,
    now: datetime,
    actor: Actor | None,
    incident: Incident | None = None,
    period: str = "",
) -> Checklist | None:
    """Start one checklist from the template's current version; None if it ran already."""
    version = (
        PlaybookVersion.objects.filter(template=template, version=template.version).first()
        if template.version
        else None
    )
    if version is None:
        log.warning("playbook %s has no version to start", template.key)
        return None
    units = {u.code: u for u in Unit.objects.filter(district_id=template.district_id)}
    try:
        with transaction.atomic():
            checklist = Checklist.objects.create(
                district_id=template.district_id,
                template=template,
                version=version,
                name=template.name,
                incident=incident,
                period=period,
                started_at=now,
                started_by_id=actor.user_id if actor else None,
            )
    except IntegrityError:
        return None  # started meanwhile (another worker, or an earlier activation)
    steps = ChecklistStep.objects.bulk_create(
        ChecklistStep(
            checklist=checklist,
            position=n,
            key=raw["key"],
            title_zh=raw["title_zh"],
            title_en=raw["title_en"],
            owner=raw["owner"],
            owner_unit=_owner_unit(raw["owner"], units, incident),
            due_at=now + timedelta(minutes=raw["due_minutes"]),
            required=raw["required"],
            note=raw["note"],
            sms=raw["sms"],
            evidence=raw["evidence"],
            evidence_label=raw["evidence_label"],
        )
        for n, raw in enumerate(version.definition["steps"])
    )
    owners = {s.owner_unit_id for s in steps if s.owner_unit_id}
    if incident is not None:
        # A step's owner takes part: its people can open the room and move their step.
        incident.units.add(*owners)
    texts = _notify_owners(checklist, steps, now)
    event_record(
        at=now,
        district=checklist.district_id,
        incident=incident,
        kind="checklist.started",
        actor=actor,
        units=owners,
        data={
            "checklist_id": checklist.pk,
            "name": checklist.name,
            "template": template.key,
            "version": version.version,
            "started_by_id": actor.user_id if actor else None,
            "period": period or None,
            "steps": len(steps),
            "progress": checklist_progress(steps),
            "sms": texts,
        },
    )
    return checklist


def checklists_start_for_incident(
    *, incident: Incident, now: datetime, actor: Actor | None = None
) -> list[Checklist]:
    """Start the district's active playbooks that match the incident's kind and level and
    have not run for it yet (on activation, and when an active incident's level changes).

    Call inside the transaction that changed the incident.
    """
    started = []
    for template in PlaybookTemplate.objects.filter(
        district_id=incident.district_id, active=True, trigger=Trigger.INCIDENT.value
    ).order_by("key"):
        if incident.kind not in (template.kinds or []) or incident.level not in (
            template.levels or []
        ):
            continue
        if Checklist.objects.filter(incident=incident, template=template).exists():
            continue
        checklist = _start(template=template, now=now, actor=actor, incident=incident)
        if checklist is not None:
            started.append(checklist)
    return started


def checklist_add(*, actor: Actor, incident_id: int, template_key: str) -> Checklist:
    """Command staff start another playbook on an open incident, whatever it matches."""
    # Imported here: the incident services start checklists, so they import this module.
    from incidents.services.incidents import incident_get_for_update

    check_checklist_add(actor)
    with transaction.atomic():
        incident = incident_get_for_update(actor, incident_id)
        if incident.status not in _OPEN_STATUSES:
            raise Invalid(_("The incident is closed."))
        template = PlaybookTemplate.objects.filter(
            district_id=actor.district_id,
            key=template_key,
            active=True,
            trigger=Trigger.INCIDENT.value,
        ).first()
        if template is None:
            raise _field_error("template", _("No such playbook."))
        checklist = _start(template=template, now=timezone.now(), actor=actor, incident=incident)
        if checklist is None:
            raise Conflict(_("This playbook is already running for the incident."))
        return checklist


def period_checklists_start(*, district_id: int, now: datetime) -> list[Checklist]:
    """On a sensitive period's days, make sure its playbooks (trigger `sensitive_period`)
    have started, once per period."""
    period = sensitive_period(district_id, local_day(now))
    if period is None:
        return []
    key = f"{period.name[:40]}:{period.starts_on.isoformat()}"
    started = []
    for template in PlaybookTemplate.objects.filter(
        district_id=district_id, active=True, trigger=Trigger.SENSITIVE_PERIOD.value
    ):
        if Checklist.objects.filter(
            district_id=district_id, period=key, template=template
        ).exists():
            continue
        with transaction.atomic():
            checklist = _start(template=template, now=now, actor=None, period=key)
        if checklist is not None:
            started.append(checklist)
    return started


def _notify_owners(checklist: Checklist, steps: list[ChecklistStep], now: datetime) -> int:
    """SMS each step's owning unit's primary officer on duty, for the steps that ask for it."""
    incident = checklist.incident
    if incident is None:
        return 0
    wanted = [s for s in steps if s.sms and s.owner_unit_id]
    if not wanted:
        return 0
    shifts = DutyShift.objects.filter(
        unit_id__in={s.owner_unit_id for s in wanted},
        day=local_day(now),
        rung=Rung.PRIMARY.value,
        officer__active=True,
    ).select_related("officer")
    on_duty: dict[int, list[Any]] = {}
    for shift in shifts:
        on_duty.setdefault(shift.unit_id, []).append(shift.officer)
    validity = timedelta(minutes=alert_settings(checklist.district_id).validity_minutes)
    queued = 0
    for step in wanted:
        for officer in on_duty.get(step.owner_unit_id or 0, []):
            try:
                sms_queue(
                    district_id=checklist.district_id,
                    key=f"step:{step.pk}:opened:officer:{officer.pk}",
                    to=officer.phone,
                    template="step_opened",
                    params={
                        "code": incident.code,
                        "level": incident.level,
                        "step": step.title_zh[:STEP_PARAM_CHARS],
                        "due": timezone.localtime(step.due_at).strftime("%H:%M"),
                        "link": public_link(f"/i/{incident.pk}"),
                    },
                    reason="step_opened",
                    validity=validity,
                    now=now,
                    officer=officer,
                    incident=incident,
                )
                queued += 1
            except MessageError:
                log.exception("SMS for step %s to officer %s refused", step.pk, officer.pk)
    return queued


# --- moving steps -------------------------------------------------------------------------


@dataclass(frozen=True)
class StepMove:
    state: str
    note: str = ""
    number: Any = None
    attachment: UploadedFile | None = None
    expected_revision: int | None = None


def _remark(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _field_error("note", _("Send text."))
    text = value.strip()
    if len(text) > REMARK_MAX_CHARS:
        raise _field_error("note", _("At most 2000 characters."))
    return text


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _field_error("number", _("Give a number."))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _field_error("number", _("Give a number.")) from None
    if not number.is_finite() or not 0 <= number < NUMBER_MAX:
        raise _field_error("number", _("The number is out of range."))
    if number != number.quantize(Decimal("0.01")):
        raise _field_error("number", _("At most two decimal places."))
    return number.quantize(Decimal("0.01"))


def step_get_for_update(actor: Actor, step_id: int, *, incident_id: int | None) -> ChecklistStep:
    step = (
        ChecklistStep.objects.select_for_update(of=("self",))
        .select_related("checklist", "checklist__incident", "owner_unit")
        .filter(pk=step_id, checklist__in=visible_checklists(actor).values("pk"))
        .first()
    )
    if step is None or (incident_id is not None and step.checklist.incident_id != incident_id):
        raise NotFound(_("No such step."))
    return step


def step_move(
    *, actor: Actor, step_id: int, move: StepMove, incident_id: int | None = None
) -> ChecklistStep:
    """Move one step (open, in progress, done, skipped), with its note and evidence.

    Skipping needs a reason (the note); marking done needs the evidence the step asks for.
    With `expected_revision`, a screen that showed an older state gets `Conflict`.
    """
    try:
        wanted = StepState(move.state)
    except ValueError:
        raise _field_error(
            "state", _("Give a state: open, in_progress, done or skipped.")
        ) from None
    remark = _remark(move.note)
    number = _number(move.number)
    if move.attachment is not None:
        attachment_check(move.attachment)
    now = timezone.now()
    with transaction.atomic():
        step = step_get_for_update(actor, step_id, incident_id=incident_id)
        current = StepState(step.state)
        check_step_move(actor, step, wanted)
        if move.expected_revision is not None and move.expected_revision != step.revision:
            raise Conflict(_("The step changed since you loaded it; reload and try again."))
        if wanted is current:
            raise Conflict(_("The step is already %(state)s.") % {"state": step.state_label})
        try:
            next_state(current, wanted)
        except IllegalStepMove:
            raise _field_error(
                "state",
                _("A step that is %(current)s cannot become %(wanted)s.")
                % {"current": step.state_label, "wanted": wanted.value},
            ) from None
        if wanted in REASON_REQUIRED and not remark:
            raise _field_error("note", _("Give the reason for skipping the step."))
        if wanted is StepState.DONE:
            _check_evidence(step, remark, number, move.attachment)
        was_late = step.late_at is not None or now > step.due_at
        step.state = wanted.value
        step.changed_at = now
        step.changed_by_id = actor.user_id
        step.remark = remark
        if number is not None:
            step.number = number
        if move.attachment is not None:
            name = move.attachment.name or "attachment"
            step.attachment_name = name[-200:]
            # Stored under a name of our own: a person's file name may be too long for the
            # file system, or say more than it should.
            stored = f"step-{step.pk}-{uuid.uuid4().hex}{PurePath(name).suffix.lower()}"
            step.attachment.save(stored, move.attachment, save=False)
        if wanted in FINISHED:
            step.finished_at = now
        else:
            step.finished_at = None
            if current in FINISHED:
                step.late_at = None  # reopened: late again (and alerted again) if overdue
        step.revision += 1
        step.save()
        steps = list(step.checklist.steps.all())
        event_record(
            at=now,
            district=step.checklist.district_id,
            incident=step.checklist.incident,
            kind="checklist.step_moved",
            actor=actor,
            reason=mask_numbers_in_text(remark) if wanted in REASON_REQUIRED else "",
            before=current.value,
            after=wanted.value,
            units=[step.owner_unit_id] if step.owner_unit_id else [],
            data={
                **step_facts(step, now=now),
                "note": mask_numbers_in_text(remark),
                "was_late": was_late and wanted in FINISHED,
                "progress": checklist_progress(steps),
            },
        )
        if wanted in FINISHED:
            alerts_cancel(now=now, why="step_finished", keys=_late_alert_keys(step))
    return step


def _check_evidence(
    step: ChecklistStep, remark: str, number: Decimal | None, attachment: UploadedFile | None
) -> None:
    needs = Evidence(step.evidence)
    label = step.evidence_label
    if needs is Evidence.NOTE and not remark:
        raise _field_error("note", _("Write a note on what was done before marking it done."))
    if needs is Evidence.NUMBER and number is None and step.number is None:
        raise _field_error(
            "number",
            _("Give the figure (%(what)s) before marking it done.") % {"what": label or "—"},
        )
    if needs is Evidence.ATTACHMENT and attachment is None and not step.attachment:
        raise _field_error(
            "attachment",
            _("Attach the file (%(what)s) before marking it done.") % {"what": label or "—"},
        )


def checklist_progress(steps: list[ChecklistStep]) -> dict[str, int]:
    """Finished required steps against required steps (what a progress bar shows)."""
    done, total = progress([StepState(s.state) for s in steps], [s.required for s in steps])
    return {"done": done, "total": total}


def step_facts(step: ChecklistStep, *, now: datetime) -> dict[str, Any]:
    """What an event or the API says about a step."""
    return {
        "checklist_id": step.checklist_id,
        "step_id": step.pk,
        "step": step.key,
        "title": step.title_zh,
        "title_en": step.title_en,
        "owner": step.owner_unit.code if step.owner_unit else COMMAND,
        "due_at": timezone.localtime(step.due_at).isoformat(),
        "state": step.state,
        "late": step_is_late(step, now=now),
        "number": str(step.number) if step.number is not None else None,
        "attachment": step.attachment_name or None,
        "revision": step.revision,
    }


def step_is_late(step: ChecklistStep, *, now: datetime) -> bool:
    """Past due and not finished, while its incident is still open."""
    if StepState(step.state) in FINISHED or now <= step.due_at:
        return False
    incident = step.checklist.incident
    return incident is None or incident.status in _OPEN_STATUSES


# --- late steps ---------------------------------------------------------------------------


def _late_alert_keys(step: ChecklistStep) -> list[str]:
    return [f"step:{step.pk}:late:{n}" for n in range(step.revision + 1)]


def checklists_sweep(*, now: datetime | None = None, batch: int = 200) -> int:
    """Mark the steps that have passed their due time late, once each; returns how many.

    Each late step writes `checklist.step_late` and raises an SMS alert to its owner.
    """
    now = now or timezone.now()
    due = (
        ChecklistStep.objects.filter(
            state__in=OPEN_STATES,
            late_at__isnull=True,
            due_at__lt=now,
        )
        .filter(
            Q(checklist__incident__isnull=True) | Q(checklist__incident__status__in=_OPEN_STATUSES)
        )
        .order_by("due_at")
        .values_list("pk", flat=True)[:batch]
    )
    marked = 0
    for step_id in list(due):
        with transaction.atomic():
            claimed = ChecklistStep.objects.filter(
                pk=step_id,
                late_at__isnull=True,
                state__in=OPEN_STATES,
            ).update(late_at=now)
            if not claimed:
                continue  # finished meanwhile, or another sweeper took it
            step = ChecklistStep.objects.select_related(
                "checklist", "checklist__incident", "owner_unit"
            ).get(pk=step_id)
            _late(step, now)
            marked += 1
    return marked


def _late(step: ChecklistStep, now: datetime) -> None:
    incident = step.checklist.incident
    minutes = max(1, int((now - step.due_at).total_seconds() // 60))
    event_record(
        at=now,
        district=step.checklist.district_id,
        incident=incident,
        kind="checklist.step_late",
        actor=None,
        units=[step.owner_unit_id] if step.owner_unit_id else [],
        data={**step_facts(step, now=now), "minutes_late": minutes},
    )
    if incident is None:
        return  # a sensitive period's checklist: the dashboard shows it; no incident to page
    alert_raise(
        district_id=step.checklist.district_id,
        key=f"step:{step.pk}:late:{step.revision}",
        reason=Reason.STEP_LATE,
        unit=step.owner_unit,
        incident=incident,
        level=Level(incident.level),
        params={
            "code": incident.code,
            "step": step.title_zh[:STEP_PARAM_CHARS],
            "due": timezone.localtime(step.due_at).strftime("%H:%M"),
            "link": public_link(f"/i/{incident.pk}"),
        },
        now=now,
    )
