"""API endpoints of incident checklists: thin, like the rest."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router

from command_center.responses import json_response
from incidents.policy import actor_for
from playbooks import selectors, services
from playbooks.schemas import ChecklistAddIn, StepMoveIn

router = Router(tags=["playbooks"])


@router.get("/incidents/{int:incident_id}/checklist", summary="An incident's checklist steps")
def checklist_get(request: HttpRequest, incident_id: int) -> dict[str, Any]:
    """Every step of the playbooks running for the incident, with `id`, `title`, `owner`
    (a unit code, or `command`), `due_at`, `state` (open, in_progress, done, skipped) and
    `late`; `moves` lists the states the caller may move each step to."""
    return selectors.incident_checklist(actor_for(request.user), incident_id)


@router.post(
    "/incidents/{int:incident_id}/checklist/{int:step_id}", summary="Move a checklist step"
)
def checklist_step_move(
    request: HttpRequest, incident_id: int, step_id: int, payload: StepMoveIn
) -> dict[str, Any]:
    """`state`: open, in_progress, done or skipped (with the reason in `note`). A step that
    needs evidence takes `note` or `number` here; attachments are uploaded in the room.
    Only the owning unit's liaison or command staff move a step; `expected_revision` → 409
    if it changed meanwhile."""
    actor = actor_for(request.user)
    step = services.step_move(
        actor=actor, step_id=step_id, move=payload.to_input(), incident_id=incident_id
    )
    return selectors.step_row(step, now=timezone.now(), actor=actor)


@router.post(
    "/incidents/{int:incident_id}/checklists",
    response={201: dict[str, Any]},
    summary="Start another playbook on an incident",
)
def checklist_add(request: HttpRequest, incident_id: int, payload: ChecklistAddIn) -> HttpResponse:
    """Command staff start a playbook (by its `template` key) beside the one activation
    started."""
    actor = actor_for(request.user)
    services.checklist_add(actor=actor, incident_id=incident_id, template_key=payload.template)
    return json_response(selectors.incident_checklist(actor, incident_id), status=201)
