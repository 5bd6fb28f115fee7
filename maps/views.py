"""The command map page (`/maps/`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from incidents.views_incidents import live_labels
from incidents.web import page_actor
from maps import rendering
from maps.forms import MapFilterForm
from maps.pages import command_map_spec, legend


@login_required
@require_GET
def command_map(request: HttpRequest) -> HttpResponse:
    """`/maps/`: the command map with its filters; bad filters are shown, with a 400."""
    actor = page_actor(request)
    form = MapFilterForm(request.GET or None, district_id=actor.district_id)
    valid = not form.is_bound or form.is_valid()
    spec = command_map_spec(
        actor, form.feed_params(), heat=bool(valid and form.is_bound and form.cleaned_data["heat"])
    )
    context = {
        "form": form,
        "map": rendering.build_map(spec),
        "labels": live_labels(actor.district_id),
        "live": spec.live == "own",
        "legend": legend(),
    }
    return render(request, "maps/command_map.html", context, status=200 if valid else 400)
