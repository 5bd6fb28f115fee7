"""API of the monthly statistics and the unit rankings (the same figures as the pages)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router

from command_center import reports
from command_center.report_params import (
    ParamError,
    monthly_window,
    query_params,
    ranking_month,
)
from command_center.responses import json_response
from incidents.errors import Invalid
from incidents.policy import actor_for

router = Router(tags=["reports"])


def _refused(exc: ParamError) -> Invalid:
    return Invalid(_("The request is not valid."), [{"field": exc.field, "message": exc.message}])


@router.get("/reports/monthly", summary="Monthly statistics")
def monthly(request: HttpRequest) -> HttpResponse:
    """`?month=YYYY-MM` (default: this month) or `?from=YYYY-MM&to=YYYY-MM` (at most 24
    months): cases received, on construction projects, workers and amount owed, each against
    the same period a year before (`yoy`, percent, null when there is nothing to compare);
    cases by channel; closure rate overall and per unit (target 0.95); long-open cases; fund
    advanced and recovered. Computed from the event log up to the period's end."""
    actor = actor_for(request.user)
    try:
        window = monthly_window(query_params(request), now=timezone.now())
    except ParamError as exc:
        raise _refused(exc) from None
    report = reports.monthly_report(district_id=actor.district_id, window=window)
    return json_response(reports.monthly_json(report))


@router.get("/reports/ranking", summary="Unit ranking of a month")
def ranking(request: HttpRequest) -> HttpResponse:
    """`?month=YYYY-MM` (default: the last finished month): per responsible unit, cases,
    self-resolved, self-resolution rate (0 to 1), fund advances, points deducted, overdue
    clocks, score and rank (best first; ties share a rank), and the strike the unit ranked last
    received once the month is closed."""
    actor = actor_for(request.user)
    try:
        month = ranking_month(query_params(request), now=timezone.now())
    except ParamError as exc:
        raise _refused(exc) from None
    return json_response(
        reports.ranking_json(district_id=actor.district_id, month=month, now=timezone.now())
    )
