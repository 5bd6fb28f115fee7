"""HTML pages of the one window.

Each view is thin: it authenticates, builds the actor, parses with a form, calls one service
or selector and renders. Rules live in `incidents.services`, `incidents.policy` and
`incidents.domain`; a service's refusal is shown with its message and a 4xx status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import selectors, services
from incidents.domain.identifiers import mask_numbers_in_text
from incidents.domain.lifecycle import Action, role_may
from incidents.errors import Forbidden, NotFound, ServiceError
from incidents.forms import (
    BulkTransitionForm,
    CaseFilterForm,
    IntakeForm,
    TransitionForm,
    action_forms,
    unit_choices,
)
from incidents.labels import EVENT_DATA_LABELS, EVENT_LABELS
from incidents.models import ACTION_LABELS, STATE_LABELS, Case, Clock, DispatchSlip, FundEntry
from incidents.policy import Actor, case_offers_incident, check_register, visible_incidents
from incidents.views_incidents import may_report_from
from incidents.web import page_actor
from maps.pages import picker_map_spec
from maps.rendering import build_map

CASES_PER_PAGE = 50
TRIAGE_PER_PAGE = 100


def _case(actor: Actor, number: str) -> Case:
    try:
        return selectors.case_get(actor, number)
    except NotFound:
        raise Http404(_("No such case.")) from None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _channel_label(value: str) -> str:
    return str(Case.Channel(value).label) if value in Case.Channel.values else value


def _event_value(key: str, value: Any, unit_names: dict[str, str]) -> Any:
    """An event detail as a reader understands it: names, not codes."""
    if key in {"unit", "previous_unit"}:
        return unit_names.get(value, value)
    if key == "channel":
        return _channel_label(value)
    if key == "clock" and value in Clock.Kind.values:
        return Clock.Kind(value).label
    return value


def _safe_next(request: HttpRequest, target: str | None) -> str | None:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


# --- intake --------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    """The window clerk's intake form: the same complaint the API's intake takes."""
    actor = page_actor(request)
    try:
        check_register(actor)
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None
    status = 200
    if request.method == "POST":
        form = IntakeForm(request.POST, actor=actor)
        if form.is_valid() and form.intake is not None:
            try:
                result = services.case_register(actor=actor, intake=form.intake)
            except Forbidden as exc:
                raise PermissionDenied(exc.detail) from None
            except ServiceError as exc:
                form.add_service_errors(exc.errors)
                if not exc.errors:
                    form.add_error(None, exc.detail)
                status = exc.status
            else:
                number = result.case.number
                if result.merged:
                    messages.warning(
                        request,
                        _(
                            "This report matches open case %(number)s of the same employer "
                            "and was merged into it."
                        )
                        % {"number": number},
                        extra_tags="merged",
                    )
                elif result.slip is not None:
                    messages.success(
                        request,
                        _("Case %(number)s registered and dispatched with slip %(slip)s.")
                        % {"number": number, "slip": result.slip.number},
                    )
                else:
                    messages.info(
                        request,
                        _(
                            "Case %(number)s registered; the routing table could not decide, "
                            "so it waits in the triage queue."
                        )
                        % {"number": number},
                    )
                return redirect("case-detail", case_number=number)
        else:
            status = 400
    else:
        form = IntakeForm(actor=actor)
    picker = build_map(picker_map_spec(actor))
    return render(request, "incidents/case_new.html", {"form": form, "map": picker}, status=status)


# --- one case ------------------------------------------------------------------------------------


def _case_context(request: HttpRequest, actor: Actor, number: str) -> dict[str, Any]:
    case = _case(actor, number)
    services.personal_data_viewed(actor=actor, case=case, via="page")
    now = timezone.now()
    detail = selectors.case_detail(case, actor, now=now)
    reports = [
        {
            **report,
            "received_at": _when(report["received_at"]),
            "channel_label": _channel_label(report["channel"]),
        }
        for report in detail["reports"]
    ]
    deadlines = [
        {
            "kind": kind,
            "label": Clock.Kind(kind).label if kind in Clock.Kind.values else kind,
            "due_at": _when(clock["due_at"]),
            "stopped_at": _when(clock["stopped_at"]),
            "status": clock["status"],
            "status_label": Clock.Status(clock["status"]).label,
            "overdue": clock["status"] == Clock.Status.OVERDUE,
            "was_overdue": clock["was_overdue"],
        }
        for kind, clock in detail["deadlines"].items()
    ]
    unit_names = {u.code: u.name for u in selectors.units_of(actor.district_id)}
    events = [
        {
            "id": event.pk,
            "at": event.at,
            "kind": event.kind,
            "label": EVENT_LABELS.get(event.kind, event.kind),
            "actor": event.actor.get_username() if event.actor else None,
            "reason": mask_numbers_in_text(event.reason),
            "before": STATE_LABELS.get(event.before, event.before),
            "after": STATE_LABELS.get(event.after, event.after),
            "changed": event.before != event.after,
            "data": [
                (EVENT_DATA_LABELS[key], _event_value(key, value, unit_names))
                for key, value in event.data.items()
                if key in EVENT_DATA_LABELS and value not in (None, "", [])
            ],
        }
        for event in case.events.all()
    ]
    slips = list(case.slips.all())
    offer = services.incident_settings(actor.district_id).offer_from_workers
    return {
        "case": case,
        "detail": detail,
        "state_label": case.get_state_display(),
        "channel_label": case.get_channel_display(),
        "reports": reports,
        "deadlines": deadlines,
        "events": events,
        "fund_entries": [
            {"entry": f, "label": FundEntry.Kind(f.kind).label} for f in case.fund_entries.all()
        ],
        "slips": slips,
        "latest_slip": slips[-1] if slips else None,
        "assisting_units": list(case.assisting_units.all()),
        "employer": detail["employer"],
        "action_forms": action_forms(actor, detail["actions"], case.revision),
        "sees_personal_data": actor.sees_personal_data,
        "incidents": list(visible_incidents(actor).filter(cases=case).order_by("-reported_at")),
        "may_report_incident": case_offers_incident(case, offer)
        and may_report_from(actor, case, offer),
    }


@login_required
@require_GET
def case_detail(request: HttpRequest, case_number: str) -> HttpResponse:
    actor = page_actor(request)
    context = _case_context(request, actor, case_number)
    return render(request, "incidents/case_detail.html", context)


@login_required
@require_POST
def case_transition(request: HttpRequest, case_number: str) -> HttpResponse:
    """Take one action on a case; a refusal re-renders the case with the reason."""
    actor = page_actor(request)
    form = TransitionForm(request.POST, actor=actor)
    error: str | None = None
    status = 400
    if form.is_valid() and form.change is not None:
        try:
            services.case_transition(
                actor=actor,
                case_number=case_number,
                change=form.change,
                expected_revision=form.expected_revision,
            )
        except NotFound:
            raise Http404(_("No such case.")) from None
        except ServiceError as exc:
            form.add_service_errors(exc.errors)
            error, status = exc.detail, exc.status
        else:
            messages.success(
                request,
                _("%(action)s: done.") % {"action": ACTION_LABELS[form.change.action]},
            )
            return redirect("case-detail", case_number=case_number)
    context = _case_context(request, actor, case_number)
    context.update(
        {"transition_error": error, "failed_form": form, "failed_action": form.data.get("action")}
    )
    return render(request, "incidents/case_detail.html", context, status=status)


# --- lists ---------------------------------------------------------------------------------------


@login_required
@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    """Cases the person may see, filtered as the API filters them, 50 a page."""
    actor = page_actor(request)
    filters = {k: v for k, v in request.GET.items() if k != "page"}
    form = CaseFilterForm(filters or None, actor=actor)
    valid = form.is_valid() if form.is_bound else True
    now = timezone.now()
    paginator = Paginator(selectors.case_list(actor, form.filters(), now=now), CASES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [{"case": c, "overdue": selectors.is_overdue(c, now)} for c in page]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "count": paginator.count,
        "can_dispatch": role_may(actor.roles, Action.DISPATCH),
        "units": unit_choices(actor),
    }
    return render(request, "incidents/case_list.html", context, status=200 if valid else 400)


@login_required
@require_GET
def case_triage(request: HttpRequest) -> HttpResponse:
    """Registered cases waiting for a person to route them, overdue first."""
    actor = page_actor(request)
    paginator = Paginator(selectors.triage_queue(actor), TRIAGE_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "page": page,
        "count": paginator.count,
        "can_dispatch": role_may(actor.roles, Action.DISPATCH),
        "units": unit_choices(actor),
    }
    return render(request, "incidents/triage.html", context)


@login_required
@require_POST
def case_bulk(request: HttpRequest) -> HttpResponse:
    """Bulk dispatch or reassignment; each case's outcome is reported as a message."""
    actor = page_actor(request)
    form = BulkTransitionForm(request.POST, actor=actor)
    back = _safe_next(request, request.POST.get("next")) or reverse("case-triage")
    if not form.is_valid() or form.change is None:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for message in errors:
                messages.error(request, f"{label}: {message}" if label else str(message))
        return redirect(back)
    outcome = services.cases_bulk_transition(
        actor=actor, case_numbers=form.case_list, change=form.change
    )
    done = [number for number, refusal in outcome.items() if refusal is None]
    if done:
        messages.success(
            request,
            ngettext(
                "%(count)d case dispatched: %(numbers)s.",
                "%(count)d cases dispatched: %(numbers)s.",
                len(done),
            )
            % {"count": len(done), "numbers": ", ".join(done)},
        )
    for number, refusal in outcome.items():
        if refusal is not None:
            messages.error(
                request,
                _("%(number)s was not dispatched: %(reason)s")
                % {"number": number, "reason": refusal},
            )
    return redirect(back)


# --- printable pages -----------------------------------------------------------------------------


@login_required
@require_GET
def slip_print(request: HttpRequest, slip_number: str) -> HttpResponse:
    """The dispatch slip (转办单), for people who may see its case."""
    actor = page_actor(request)
    slip = (
        DispatchSlip.objects.select_related("case", "unit", "issued_by")
        .filter(number=slip_number)
        .first()
    )
    if slip is None:
        raise Http404(_("No such dispatch slip."))
    case = _case(actor, slip.case.number)
    codes = [c for c in slip.assisting.split(",") if c]
    by_code = {u.code: u for u in selectors.units_of(actor.district_id).filter(code__in=codes)}
    deadlines = selectors.deadlines(case, timezone.now())
    context = {
        "slip": slip,
        "case": case,
        "assisting": [by_code[c] for c in codes if c in by_code],
        "same_day": timezone.localdate(slip.issued_at) == timezone.localdate(case.received_at),
        "commitment_days": settings.COMMITMENT_DAYS,
        "commitment_due": _when((deadlines.get("commitment") or {}).get("due_at")),
        "channel_label": case.get_channel_display(),
        # The slip goes to the unit on paper: no phone or ID number on it, for any role.
        "summary": mask_numbers_in_text(case.description),
    }
    return render(request, "incidents/slip.html", context)


@login_required
@require_GET
def commitment_letter(request: HttpRequest, case_number: str) -> HttpResponse:
    """The 7-day commitment letter (承诺函) of an accepted case."""
    actor = page_actor(request)
    case = _case(actor, case_number)
    if not case.commitment_letter_number:
        raise Http404(_("This case has no commitment letter yet."))
    deadlines = selectors.deadlines(case, timezone.now())
    reports = [selectors.report_out(r, actor) for r in case.reports.all()]
    context = {
        "case": case,
        "complainants": list(dict.fromkeys(r["complainant"]["name"] for r in reports)),
        "commitment_days": settings.COMMITMENT_DAYS,
        "commitment_due": _when((deadlines.get("commitment") or {}).get("due_at")),
    }
    return render(request, "incidents/commitment_letter.html", context)
