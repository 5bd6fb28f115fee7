"""API endpoints of mass incidents and of the live sockets' tickets: thin, like the rest."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router

from command_center.responses import json_response
from incidents import selectors, services
from incidents.domain.lifecycle import Role
from incidents.policy import actor_for
from incidents.schemas import (
    EventListOut,
    EventsQuery,
    IncidentIn,
    IncidentListOut,
    IncidentListQuery,
    IncidentOut,
    IncidentTransitionIn,
    WsTicketOut,
)

router = Router(tags=["incidents"])


@router.post("/incidents", response={201: IncidentOut}, summary="Report a mass incident")
def incident_report(request: HttpRequest, payload: IncidentIn) -> HttpResponse:
    """Command staff, the 110 link, or the people of a case of 30 or more workers open a mass
    incident. Its level comes from the district's level table. Send `Idempotency-Key` to make
    retries safe."""
    actor = actor_for(request.user)
    source = "police_110" if Role.INTEGRATION in actor.roles else "command"

    def run() -> tuple[int, Any]:
        incident = services.incident_report(actor=actor, data=payload.to_input(), source=source)
        return 201, selectors.incident_detail(selectors.incident_get(actor, incident.pk), actor)

    status, body = services.idempotent(
        user_id=actor.user_id,
        key=request.headers.get("Idempotency-Key"),
        fingerprint=services.request_fingerprint({"incident": payload.model_dump(mode="json")}),
        run=run,
    )
    return json_response(body, status=status)


@router.get("/incidents", response=IncidentListOut, summary="List mass incidents")
def incident_list(request: HttpRequest, query: Query[IncidentListQuery]) -> dict[str, Any]:
    actor = actor_for(request.user)
    qs = selectors.incidents_visible(actor, status=query.status)
    now = timezone.now()
    page = qs[query.offset : query.offset + query.limit]
    return {
        "count": qs.count(),
        "results": [selectors.incident_summary(i, now=now) for i in page],
    }


@router.get("/incidents/{int:incident_id}", response=IncidentOut, summary="One mass incident")
def incident_get(request: HttpRequest, incident_id: int) -> dict[str, Any]:
    actor = actor_for(request.user)
    return selectors.incident_detail(selectors.incident_get(actor, incident_id), actor)


@router.get(
    "/incidents/{int:incident_id}/events",
    response=EventListOut,
    summary="An incident room's events after an id (the socket's frames)",
)
def incident_events(
    request: HttpRequest, incident_id: int, query: Query[EventsQuery]
) -> dict[str, Any]:
    actor = actor_for(request.user)
    incident = selectors.incident_get(actor, incident_id)
    frames = selectors.incident_timeline(incident, after=query.after, limit=query.limit + 1)
    more = len(frames) > query.limit
    frames = frames[: query.limit]
    return {
        "events": frames,
        "last_id": frames[-1]["id"] if frames else query.after,
        "more": more,
    }


@router.post(
    "/incidents/{int:incident_id}/transitions",
    response=IncidentOut,
    summary="Act on a mass incident",
)
def incident_transition(
    request: HttpRequest, incident_id: int, payload: IncidentTransitionIn
) -> dict[str, Any]:
    """`activate`, `contain`, `close` (with a reason), `set_level` (with `level` and a
    reason), `update` (`people_count`, `description`), `link_cases` (`case_numbers`) or
    `take_command`."""
    actor = actor_for(request.user)
    services.incident_transition(
        actor=actor,
        incident_id=incident_id,
        change=payload.to_input(),
        expected_revision=payload.expected_revision,
    )
    return selectors.incident_detail(selectors.incident_get(actor, incident_id), actor)


@router.post(
    "/ws-ticket",
    response={201: WsTicketOut},
    tags=["live"],
    summary="A one-time ticket to open a live socket without a session",
)
def ws_ticket(request: HttpRequest) -> HttpResponse:
    """Connect within a minute to `/ws/dashboard/?ticket=…` or `/ws/incidents/{id}/?ticket=…`;
    the ticket is spent on first use."""
    actor = actor_for(request.user)
    ticket, expires = services.ws_ticket_issue(user_id=actor.user_id)
    return json_response(
        {
            "ticket": ticket,
            "expires_at": selectors.iso(expires),
            "dashboard": f"/ws/dashboard/?ticket={ticket}",
            "incident_room": f"/ws/incidents/{{id}}/?ticket={ticket}",
        },
        status=201,
    )
