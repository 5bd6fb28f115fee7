"""The live dashboard: the page, and the panels its script refreshes after live events."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from command_center import dashboard
from incidents.labels import EVENT_LABELS
from incidents.models import Membership, ProvinceMembership
from incidents.policy import dashboard_stream
from incidents.views_incidents import live_labels
from incidents.web import page_actor
from maps.pages import command_map_spec
from maps.rendering import build_map


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The live dashboard for those who have one; everyone else starts at the case list
    (the provincial command at the province's page, and an administrator who belongs to no
    district at the admin)."""
    if ProvinceMembership.objects.filter(user_id=request.user.pk or 0).exists():
        return redirect("province")
    if (
        request.user.is_staff
        and not Membership.objects.filter(user_id=request.user.pk or 0).exists()
    ):
        return redirect("admin:index")
    actor = page_actor(request)
    if dashboard_stream(actor) is None:
        return redirect("case-list")
    events, head = dashboard.latest_events(actor)
    context = dashboard.summary(actor)
    context.update(
        {
            "events": [{**e, "label": EVENT_LABELS.get(e["kind"], e["kind"])} for e in events],
            "after": head,
            "labels": live_labels(actor.district_id),
            "map": build_map(command_map_spec(actor, {}, embedded=True)),
        }
    )
    return render(request, "command_center/dashboard.html", context)


@login_required
@require_GET
def panels(request: HttpRequest) -> HttpResponse:
    """The dashboard's figures alone (fetched by htmx after live events, debounced)."""
    actor = page_actor(request)
    if dashboard_stream(actor) is None:
        raise PermissionDenied
    return render(request, "command_center/_panels.html", dashboard.summary(actor))
