"""What the room, the dashboard and the API show of checklists."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.domain.incidents import Status
from incidents.domain.lifecycle import Role
from incidents.errors import NotFound
from incidents.models import Incident
from incidents.policy import Actor, visible_incidents
from playbooks.domain.checklist import FINISHED, StepState
from playbooks.domain.templates import Trigger
from playbooks.models import Checklist, ChecklistStep, PlaybookTemplate
from playbooks.policy import step_moves, visible_checklists
from playbooks.services.checklists import checklist_progress, step_facts, step_is_late

DASHBOARD_MAX = 50
PERIOD_CHECKLIST_SHOWN = timedelta(days=31)
_STEPS = Prefetch(
    "steps",
    queryset=ChecklistStep.objects.select_related("owner_unit", "changed_by").order_by("position"),
)


def step_role(actor: Actor) -> dict[str, Any]:
    """What the room's script needs to offer the right step buttons as states change (the
    same rule as `check_step_move`; the server checks again on every move)."""
    return {
        "command": actor.is_command,
        "unit": actor.unit_id if Role.LIAISON in actor.roles else None,
    }


def step_row(step: ChecklistStep, *, now: datetime, actor: Actor | None = None) -> dict[str, Any]:
    """A step as the API and the room show it."""
    return {
        "id": step.pk,
        **{k: v for k, v in step_facts(step, now=now).items() if k not in {"step_id", "title"}},
        "key": step.key,
        "title": step.title_zh,
        "owner_name": step.owner_unit.name if step.owner_unit else None,
        "owner_unit_id": step.owner_unit_id,
        "required": step.required,
        "note": step.note,
        "evidence": step.evidence,
        "evidence_label": step.evidence_label,
        "remark": step.remark,
        "changed_at": timezone.localtime(step.changed_at).isoformat() if step.changed_at else None,
        "changed_by": step.changed_by.get_username() if step.changed_by else None,
        "finished_at": (
            timezone.localtime(step.finished_at).isoformat() if step.finished_at else None
        ),
        "moves": step_moves(actor, step) if actor is not None else [],
    }


def _steps(checklist: Checklist) -> list[ChecklistStep]:
    """The prefetched steps, pointing back at their checklist without a query each."""
    steps = list(checklist.steps.all())
    for step in steps:
        step.checklist = checklist
    return steps


def _checklist_row(checklist: Checklist, *, now: datetime, actor: Actor) -> dict[str, Any]:
    steps = _steps(checklist)
    return {
        "id": checklist.pk,
        "name": checklist.name,
        "template": checklist.template.key,
        "version": checklist.version.version,
        "started_at": timezone.localtime(checklist.started_at).isoformat(),
        "progress": checklist_progress(steps),
        "late": sum(1 for s in steps if step_is_late(s, now=now)),
        "steps": [step_row(s, now=now, actor=actor) for s in steps],
    }


def incident_checklists(actor: Actor, incident: Incident, *, now: datetime) -> list[dict[str, Any]]:
    """The incident's checklists, oldest first, each with its steps."""
    qs = (
        visible_checklists(actor)
        .filter(incident=incident)
        .select_related("template", "version", "incident")
        .prefetch_related(_STEPS)
        .order_by("started_at", "pk")
    )
    return [_checklist_row(c, now=now, actor=actor) for c in qs]


def incident_checklist(actor: Actor, incident_id: int) -> dict[str, Any]:
    """`GET /api/v1/incidents/{id}/checklist`: every step of the incident's checklists."""
    incident = visible_incidents(actor).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    now = timezone.now()
    checklists = incident_checklists(actor, incident, now=now)
    steps = [s for c in checklists for s in c["steps"]]
    done = sum(c["progress"]["done"] for c in checklists)
    total = sum(c["progress"]["total"] for c in checklists)
    return {
        "incident_id": incident.pk,
        "progress": {"done": done, "total": total},
        "late": sum(1 for s in steps if s["late"]),
        "checklists": [{k: v for k, v in c.items() if k != "steps"} for c in checklists],
        "steps": steps,
    }


def period_checklists(actor: Actor, *, now: datetime) -> list[dict[str, Any]]:
    """The sensitive periods' checklists the person may see, newest first (the last 20)."""
    qs = (
        visible_checklists(actor)
        .filter(incident__isnull=True)
        .select_related("template", "version")
        .prefetch_related(_STEPS)
        .order_by("-started_at", "-pk")[:20]
    )
    return [_checklist_row(c, now=now, actor=actor) for c in qs]


def playbooks_to_add(actor: Actor, incident: Incident) -> list[PlaybookTemplate]:
    """The playbooks command staff may still add to an open incident."""
    if not actor.is_command or incident.status == Status.CLOSED:
        return []
    running = Checklist.objects.filter(incident=incident).values("template_id")
    return list(
        PlaybookTemplate.objects.filter(
            district_id=incident.district_id, active=True, trigger=Trigger.INCIDENT.value
        )
        .exclude(pk__in=running)
        .order_by("name")
    )


def dashboard_checklists(actor: Actor, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each open incident's checklist progress and late steps, and the current sensitive
    period's checklists until they are finished; the ones with late steps first."""
    now = now or timezone.now()
    open_statuses = [s.value for s in Status if s is not Status.CLOSED]
    qs = (
        visible_checklists(actor)
        .filter(
            Q(incident__status__in=open_statuses)
            | Q(incident__isnull=True, started_at__gte=now - PERIOD_CHECKLIST_SHOWN)
        )
        .select_related("incident", "incident__town")
        .prefetch_related(_STEPS)
        .order_by("started_at", "pk")[:DASHBOARD_MAX]
    )
    rows: list[dict[str, Any]] = []
    for checklist in qs:
        steps = _steps(checklist)
        unfinished = sum(1 for s in steps if StepState(s.state) not in FINISHED)
        if checklist.incident is None and not unfinished:
            continue
        shown = checklist_progress(steps)
        done, total = shown["done"], shown["total"]
        rows.append(
            {
                "checklist": checklist,
                "incident": checklist.incident,
                "done": done,
                "total": total,
                "percent": int(100 * done / total) if total else 100,
                "late": [s for s in steps if step_is_late(s, now=now)],
                "unfinished": unfinished,
            }
        )
    rows.sort(key=lambda r: (-len(r["late"]), r["checklist"].started_at))
    return rows
