"""Pages of the daily joint situation reports: the list, and one report with its notes form.

District-wide roles (command, inspectors, reviewers) read them; command staff write the
duty officer's notes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from alerts.models import LEVEL_LABELS as WARNING_LEVEL_LABELS
from command_center.models import SituationReport
from command_center.situation import (
    NOTES_MAX_CHARS,
    situation_edit,
    situation_get,
    situation_reports,
)
from incidents.errors import Forbidden, NotFound, ServiceError
from incidents.models import Unit
from incidents.policy import Actor
from incidents.web import page_actor

Table = tuple[str, str, list[tuple[str, Any]]]


def _reports(actor: Actor) -> Any:
    try:
        return situation_reports(actor)
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None


def _report(actor: Actor, report_id: int) -> SituationReport:
    try:
        return situation_get(actor, report_id)
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None
    except NotFound:
        raise Http404(_("No such situation report.")) from None


def figure_tables(report: SituationReport) -> list[Table]:
    """The report's figures as (id, title, rows of (label, value)) tables."""
    f = report.figures
    cases, incidents = f.get("cases", {}), f.get("incidents", {})
    warnings, fund, zero = f.get("warnings", {}), f.get("fund", {}), f.get("zero_reports", {})
    warning_levels = {lv.value: str(label) for lv, label in WARNING_LEVEL_LABELS.items()}
    names = {
        u.code: u.name
        for u in Unit.objects.filter(
            district_id=report.district_id, code__in=zero.get("missing", [])
        )
    }
    missing = ", ".join(names.get(c, c) for c in zero.get("missing", [])) or "—"
    tables: list[Table] = [
        (
            "cases",
            _("Wage-arrears cases"),
            [
                (_("Registered yesterday"), cases.get("registered_yesterday")),
                (_("Open now"), cases.get("open_now")),
            ],
        ),
        (
            "incidents",
            _("Mass incidents"),
            [
                (_("Reported yesterday"), incidents.get("reported_yesterday")),
                (_("Open now"), incidents.get("open_now")),
                *(
                    (_("Open now, level %(level)s") % {"level": level}, n)
                    for level, n in incidents.get("open_by_level", {}).items()
                ),
            ],
        ),
        (
            "warnings",
            _("Early warnings"),
            [
                (_("Open now"), warnings.get("open_now")),
                *(
                    (_("Open now, %(level)s") % {"level": warning_levels.get(level, level)}, n)
                    for level, n in warnings.get("open_by_level", {}).items()
                ),
                (_("Overdue now"), warnings.get("overdue_now")),
            ],
        ),
        (
            "fund",
            _("Petition special account (yuan)"),
            [
                (_("Advanced yesterday"), fund.get("advanced_yesterday")),
                (_("Recovered yesterday"), fund.get("recovered_yesterday")),
                (_("Balance now"), fund.get("balance_now") or "—"),
            ],
        ),
        (
            "zero-reports",
            _("Daily reports yesterday"),
            [
                (_("Filed"), zero.get("filed")),
                (_("Expected"), zero.get("expected")),
                (_("Missing"), missing),
            ],
        ),
    ]
    if log := f.get("event_log"):
        tables.append(
            (
                "event-log",
                _("Event log at drafting"),
                [(_("Anchor (event:SHA-256)"), log["anchor"])],
            )
        )
    return tables


@login_required
@require_GET
def situation_list(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    reports = list(_reports(actor)[:200])
    return render(request, "command_center/situation_list.html", {"reports": reports})


@login_required
@require_http_methods(["GET", "POST"])
def situation_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """One report; command staff post the duty officer's notes to the same address."""
    actor = page_actor(request)
    report = _report(actor, report_id)
    error: str | None = None
    status = 200
    notes = report.notes
    if request.method == "POST":
        notes = request.POST.get("notes", "")
        try:
            situation_edit(actor=actor, report_id=report.pk, notes=notes)
        except Forbidden as exc:
            raise PermissionDenied(exc.detail) from None
        except ServiceError as exc:
            error, status = exc.detail, exc.status
        else:
            messages.success(request, _("Notes saved."))
            return redirect("situation-detail", report_id=report.pk)
    return render(
        request,
        "command_center/situation_detail.html",
        {
            "report": report,
            "tables": figure_tables(report),
            "may_edit": actor.is_command,
            "notes": notes,
            "notes_max": NOTES_MAX_CHARS,
            "error": error,
        },
        status=status,
    )
