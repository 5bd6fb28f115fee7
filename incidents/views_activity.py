"""Activity log pages (ICS 214 style) of an incident and of a unit, and their CSV export.

`?from=YYYY-MM-DD&to=YYYY-MM-DD` choose the local days (at most `MAX_DAYS`); `?format=csv`
downloads the same rows (UTF-8 with a BOM for Excel, formula-like cells neutralised).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from command_center.exports import csv_response
from incidents.activity import (
    MAX_DAYS,
    ActivityLog,
    ActivitySubject,
    activity_log,
    activity_period,
    activity_subject,
    day_bounds,
)
from incidents.domain.streams import incident_stream, unit_stream
from incidents.errors import Forbidden, Invalid, NotFound
from incidents.models import Unit
from incidents.policy import Actor
from incidents.web import page_actor

CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _subject(actor: Actor, stream: str) -> ActivitySubject:
    try:
        return activity_subject(actor=actor, stream=stream)
    except NotFound as exc:
        raise Http404(exc.detail) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None


@login_required
@require_GET
def incident_activity(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The incident's log; by default from the day it was reported (at most `MAX_DAYS` days
    back) to the day it closed, or today."""
    actor = page_actor(request)
    subject = _subject(actor, incident_stream(incident_id))
    incident = subject.incident
    if incident is None:  # the stream named an incident, so `activity_subject` found one
        raise Http404(_("No such incident."))
    last = timezone.localdate(incident.closed_at) if incident.closed_at else timezone.localdate()
    first = max(timezone.localdate(incident.reported_at), last - timedelta(days=MAX_DAYS - 1))
    return _log_page(request, actor, subject, default=(first, last))


@login_required
@require_GET
def unit_activity(request: HttpRequest, unit_code: str) -> HttpResponse:
    """A unit's log; by default today's."""
    actor = page_actor(request)
    unit = Unit.objects.filter(district_id=actor.district_id, code=unit_code).first()
    if unit is None:
        raise Http404(_("No such unit."))
    subject = _subject(actor, unit_stream(unit.pk))
    today = timezone.localdate()
    return _log_page(request, actor, subject, default=(today, today))


def _log_page(
    request: HttpRequest,
    actor: Actor,
    subject: ActivitySubject,
    *,
    default: tuple[date, date],
) -> HttpResponse:
    first, last = default
    context: dict[str, Any] = {"subject": subject, "max_days": MAX_DAYS}
    try:
        start_day, end_day = activity_period(
            request.GET.get("from"), request.GET.get("to"), default_start=first, default_end=last
        )
    except Invalid as exc:
        context.update(
            {
                "error": exc.detail,
                "start_day": request.GET.get("from", ""),
                "end_day": request.GET.get("to", ""),
            }
        )
        return render(request, "incidents/activity_log.html", context, status=400)
    start, end = day_bounds(start_day, end_day)
    log = activity_log(actor=actor, stream=subject.stream, start=start, end=end)
    if request.GET.get("format") == "csv":
        return _csv(log, start_day, end_day)
    context.update(
        {
            "log": log,
            "start_day": start_day.isoformat(),
            "end_day": end_day.isoformat(),
            "prepared_at": timezone.localtime(),
        }
    )
    return render(request, "incidents/activity_log.html", context)


def _csv(log: ActivityLog, start_day: date, end_day: date) -> HttpResponse:
    subject = log.subject
    name = (
        f"incident-{subject.incident.pk}"
        if subject.incident is not None
        else f"unit-{subject.unit.code if subject.unit else 'unknown'}"
    )
    response = csv_response(
        f"activity-{name}-{start_day:%Y%m%d}-{end_day:%Y%m%d}",
        [_("Time"), _("Who"), _("Unit"), _("What"), _("Details")],
        [
            [row.at.strftime(CSV_TIME_FORMAT), row.who, row.unit, row.what, row.summary]
            for row in log.rows
        ],
    )
    if log.truncated:
        response["X-Activity-Truncated"] = "true"
    return response
