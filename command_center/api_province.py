"""API of the provincial command: its districts' figures and its gravest incidents."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from command_center import province
from command_center.responses import json_response
from incidents.policy import province_actor_for

router = Router(tags=["province"])


@router.get("/province/summary", summary="The province at a glance")
def summary(request: HttpRequest) -> HttpResponse:
    """For a province's command staff only. Per district (and in `total`): open cases,
    cases received this month and how many of them are closed (`closure_rate`, 0 to 1),
    workers and amount owed in open cases, cases with an overdue clock, open incidents by
    level; and `incidents`: the open incidents of level II and above in every district,
    gravest first. Live updates: the `/ws/province/` socket."""
    return json_response(province.summary_json(province_actor_for(request.user)))
