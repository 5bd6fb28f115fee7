"""The command map page (`/maps/`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from incidents.errors import NotFound
from incidents.policy import Actor
from incidents.selectors import incident_get
from incidents.views_incidents import live_labels
from incidents.web import page_actor
from maps import rendering
from maps.forms import MapFilterForm
from maps.pages import command_map_spec, incident_map_spec, legend, picker_map_spec


def _command_spec(
    request: HttpRequest,
) -> tuple[Actor, MapFilterForm, bool, rendering.MapSpec]:
    actor = page_actor(request)
    form = MapFilterForm(request.GET or None, district_id=actor.district_id)
    valid = not form.is_bound or form.is_valid()
    heat = bool(valid and form.is_bound and form.cleaned_data["heat"])
    return actor, form, valid, command_map_spec(actor, form.feed_params(), heat=heat)


def script_response(spec: rendering.MapSpec) -> HttpResponse:
    """A map's script, built again from the same spec as the page that loads it."""
    response = HttpResponse(
        rendering.build_map(spec).script, content_type="text/javascript; charset=utf-8"
    )
    # Made for this person (their feeds, their stream's position): never shared or kept.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def command_map(request: HttpRequest) -> HttpResponse:
    """`/maps/`: the command map with its filters; bad filters are shown, with a 400."""
    actor, form, valid, spec = _command_spec(request)
    context = {
        "form": form,
        "map": rendering.build_map(spec),
        "labels": live_labels(actor.district_id),
        "live": spec.live == "own",
        "legend": legend(),
    }
    return render(request, "maps/command_map.html", context, status=200 if valid else 400)


@login_required
@require_GET
def command_map_js(request: HttpRequest) -> HttpResponse:
    return script_response(_command_spec(request)[3])


@login_required
@require_GET
def dashboard_map_js(request: HttpRequest) -> HttpResponse:
    return script_response(command_map_spec(page_actor(request), {}, embedded=True))


@login_required
@require_GET
def incident_map_js(request: HttpRequest, incident_id: int) -> HttpResponse:
    actor = page_actor(request)
    try:
        incident = incident_get(actor, incident_id)
    except NotFound:
        raise Http404 from None
    return script_response(incident_map_spec(actor, incident))


@login_required
@require_GET
def picker_map_js(request: HttpRequest) -> HttpResponse:
    return script_response(picker_map_spec(page_actor(request)))
