"""Who may see a checklist and move its steps.

An incident's checklists are seen by whoever sees the incident; a sensitive period's by the
district-wide roles and the units that own one of its steps. A step is moved by its owning
unit's liaison or by command staff; only command staff reopen a finished step, act on the
steps the joint command owns, add a playbook to an incident, or touch the checklist of a
closed incident.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from incidents.domain.incidents import Status
from incidents.domain.lifecycle import Role
from incidents.errors import Forbidden
from incidents.policy import Actor, visible_incidents
from playbooks.domain.checklist import FINISHED, MOVES, StepState, may_move
from playbooks.models import Checklist, ChecklistStep


def visible_checklists(actor: Actor) -> QuerySet[Checklist]:
    qs = Checklist.objects.filter(district_id=actor.district_id)
    incidents = Q(incident__in=visible_incidents(actor).values("pk"))
    if actor.district_wide:
        return qs
    periods = Q(incident__isnull=True, steps__owner_unit_id=actor.unit_id)
    if actor.unit_id is None or Role.LIAISON not in actor.roles:
        periods = Q(pk__in=[])
    return qs.filter(pk__in=Checklist.objects.filter(incidents | periods).values("pk"))


def _refusal(actor: Actor, step: ChecklistStep, wanted: StepState) -> str | None:
    """Why `actor` may not move `step` to `wanted`, or None if they may."""
    if not actor.roles & {Role.COMMAND, Role.LIAISON}:
        return _("Only the owning unit's liaison or command staff move a step.")
    incident = step.checklist.incident
    if incident is not None and incident.status == Status.CLOSED and not actor.is_command:
        return _("The incident is closed; only command staff change its checklist.")
    current = StepState(step.state)
    if may_move(
        owner=str(step.owner_unit_id) if step.owner_unit_id else "command",
        actor_unit=str(actor.unit_id) if actor.unit_id and Role.LIAISON in actor.roles else None,
        is_command=actor.is_command,
        current=current,
        wanted=wanted,
    ):
        return None
    if current in FINISHED:
        return _("Only command staff reopen a finished step.")
    return _("Only the owning unit or command staff move this step.")


def check_step_move(actor: Actor, step: ChecklistStep, wanted: StepState) -> None:
    """`Forbidden` unless `actor` may move `step` to `wanted` (the caller checked they see it)."""
    refusal = _refusal(actor, step, wanted)
    if refusal is not None:
        raise Forbidden(refusal)


def step_moves(actor: Actor, step: ChecklistStep) -> list[str]:
    """The states `actor` may move `step` to (what the room offers as buttons)."""
    current = StepState(step.state)
    return [
        wanted.value
        for wanted in StepState
        if wanted in MOVES[current] and _refusal(actor, step, wanted) is None
    ]


def check_checklist_add(actor: Actor) -> None:
    if not actor.is_command:
        raise Forbidden(_("Only command staff add a playbook to an incident."))
