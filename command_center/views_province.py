"""The provincial command's pages: the province at a glance, live, and one grave incident."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from command_center import province
from incidents.errors import Forbidden, NotFound
from incidents.events import event_frame
from incidents.labels import EVENT_LABELS
from incidents.policy import Actor, province_actor_for
from incidents.views_incidents import live_labels


def province_actor(request: HttpRequest) -> Actor:
    """The provincial command's person; 403 for anyone else."""
    try:
        return province_actor_for(request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None


def _labelled(frame: dict) -> dict:
    return {**frame, "label": EVENT_LABELS.get(frame["kind"], frame["kind"])}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = province_actor(request)
    events, head = province.latest_events(actor)
    context = province.summary(actor)
    context.update(
        {
            "events": [_labelled(e) for e in events],
            "after": head,
            "labels": live_labels(0),
            "incident_districts": {
                str(row["id"]): row["district"]["name"] for row in context["incidents"]
            },
        }
    )
    return render(request, "command_center/province.html", context)


@login_required
@require_GET
def panels(request: HttpRequest) -> HttpResponse:
    """The figures alone (fetched by htmx after live events, debounced)."""
    return render(
        request, "command_center/_province_panels.html", province.summary(province_actor(request))
    )


@login_required
@require_GET
def incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    actor = province_actor(request)
    try:
        row, events = province.watched_incident(actor, incident_id)
    except NotFound:
        raise Http404 from None
    return render(
        request,
        "command_center/province_incident.html",
        {"incident": row, "events": [_labelled(event_frame(e)) for e in events]},
    )
