"""HTML pages of mass incidents: the list, the report form and the incident room."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.models import LEVEL_LABELS as WARNING_LEVEL_LABELS
from alerts.selectors import incident_alerts
from incidents import selectors, services
from incidents.domain import incidents as rules
from incidents.domain.lifecycle import Role
from incidents.errors import Forbidden, NotFound, ServiceError
from incidents.forms_incidents import IncidentActionForm, IncidentForm
from incidents.labels import EVENT_LABELS
from incidents.models import INCIDENT_ACTION_LABELS, KIND_LABELS, STATUS_LABELS, Case, Incident
from incidents.policy import (
    Actor,
    check_report_incident,
    check_room_post,
    visible_cases,
)
from incidents.web import page_actor
from maps.pages import incident_map_spec, nearby, picker_map_spec
from maps.rendering import build_map
from playbooks.domain.checklist import StepState
from playbooks.models import STATE_LABELS as STEP_STATE_LABELS
from playbooks.selectors import incident_checklists, playbooks_to_add, step_role

TIMELINE_LENGTH = 300


def _incident(actor: Actor, incident_id: int) -> Incident:
    try:
        return selectors.incident_get(actor, incident_id)
    except NotFound:
        raise Http404(_("No such incident.")) from None


def may_report_from(actor: Actor, case: Case | None, threshold: int | None = None) -> bool:
    """Whether `actor` may report a mass incident (from `case`, when given) on a page."""
    if threshold is None:
        threshold = services.incident_settings(actor.district_id).offer_from_workers
    try:
        check_report_incident(actor, [case] if case else [], threshold)
    except Forbidden:
        return False
    return Role.INTEGRATION not in actor.roles  # the 110 link reports through the API


def live_labels(district_id: int) -> dict[str, Any]:
    """What the page's script needs to show frames in the reader's language."""
    return {
        "units": {u.code: u.name for u in selectors.units_of(district_id)},
        "events": {kind: str(label) for kind, label in EVENT_LABELS.items()},
        "status": {s.value: str(label) for s, label in STATUS_LABELS.items()},
        "kinds": {k.value: str(label) for k, label in KIND_LABELS.items()},
        "connected": _("live"),
        "reconnecting": _("reconnecting…"),
        "offline": _("disconnected; reload the page"),
        "nobody": _("nobody"),
        "step_states": {s.value: str(label) for s, label in STEP_STATE_LABELS.items()},
        "late": _("late"),
        "levels": {lv.value: str(label) for lv, label in WARNING_LEVEL_LABELS.items()},
    }


@login_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    status = request.GET.get("status") or "open"
    if status not in {"open", *STATUS_LABELS}:
        status = "open"
    incidents = list(selectors.incidents_visible(actor, status=status)[:200])
    now = timezone.now()
    return render(
        request,
        "incidents/incident_list.html",
        {
            "incidents": [selectors.incident_summary(i, now=now) | {"obj": i} for i in incidents],
            "status": status,
            "statuses": [
                ("open", _("open")),
                *((s.value, label) for s, label in STATUS_LABELS.items()),
            ],
            "may_report": may_report_from(actor, None),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    """Report a mass incident; `?case=NUMBER` starts from a case of many workers."""
    actor = page_actor(request)
    case = None
    number = request.GET.get("case") or request.POST.get("from_case")
    if number:
        case = visible_cases(actor).filter(number=number).select_related("town").first()
        if case is None:
            raise Http404(_("No such case."))
    if not may_report_from(actor, case):
        raise PermissionDenied(_("You may not report a mass incident."))
    status = 200
    error = None
    if request.method == "POST":
        form = IncidentForm(request.POST, actor=actor)
        if form.is_valid() and form.incident is not None:
            try:
                incident = services.incident_report(actor=actor, data=form.incident)
            except ServiceError as exc:
                form.add_service_errors(exc.errors)
                error, status = exc.detail, exc.status
            else:
                messages.success(request, _("Mass incident reported."))
                return redirect("incident-room", incident_id=incident.pk)
        else:
            status = 400
    else:
        initial: dict[str, Any] = {"kind": rules.Kind.SITE_GATHERING.value}
        if case is not None:
            initial.update(
                {
                    "town": case.town.code,
                    "lat": case.lat if case.lat is not None else case.town.lat,
                    "lng": case.lng if case.lng is not None else case.town.lng,
                    "people_count": case.workers_count,
                    "case_numbers": case.number,
                    "title": _("Workers of case %(number)s gathering") % {"number": case.number},
                }
            )
        form = IncidentForm(initial=initial, actor=actor)
    return render(
        request,
        "incidents/incident_new.html",
        {
            "form": form,
            "from_case": case,
            "error": error,
            "map": build_map(picker_map_spec(actor)),
        },
        status=status,
    )


def _timeline_item(frame: dict[str, Any], unit_names: dict[str, str]) -> dict[str, Any]:
    unit = frame["data"].get("unit") if frame["kind"].startswith("alert.") else None
    after = frame.get("after") or ""
    return {
        **frame,
        "label": EVENT_LABELS.get(frame["kind"], frame["kind"]),
        "unit_name": unit_names.get(unit, unit) if unit else None,
        "after_label": (
            STEP_STATE_LABELS.get(StepState(after))
            if frame["kind"] == "checklist.step_moved" and after in StepState._value2member_map_
            else None
        ),
    }


def _room_context(actor: Actor, incident: Incident) -> dict[str, Any]:
    detail = selectors.incident_detail(incident, actor)
    frames = selectors.incident_timeline(incident, limit=TIMELINE_LENGTH)
    labels = live_labels(incident.district_id)
    return {
        "incident": incident,
        "detail": detail,
        "timeline": [_timeline_item(f, labels["units"]) for f in frames],
        "after": frames[-1]["id"] if frames else 0,
        "members": selectors.room_members(incident.pk),
        "actions": [
            {"value": a, "label": INCIDENT_ACTION_LABELS[rules.Action(a)]}
            for a in detail["allowed_actions"]
        ],
        "may_post": _may_post(actor, incident),
        "labels": labels,
        "levels": [lv.value for lv in rules.Level],
        "alerts": incident_alerts(actor, incident),
        "checklists": incident_checklists(actor, incident, now=timezone.now()),
        "playbooks_to_add": playbooks_to_add(actor, incident),
        "step_role": step_role(actor),
        "step_states": [(s.value, label) for s, label in STEP_STATE_LABELS.items()],
        "map": build_map(incident_map_spec(actor, incident)),
        "nearby": nearby(actor, incident),
    }


def _may_post(actor: Actor, incident: Incident) -> bool:
    try:
        check_room_post(actor, incident)
    except Forbidden:
        return False
    return True


@login_required
@require_GET
def incident_room(request: HttpRequest, incident_id: int) -> HttpResponse:
    actor = page_actor(request)
    incident = _incident(actor, incident_id)
    return render(request, "incidents/incident_room.html", _room_context(actor, incident))


@login_required
@require_POST
def incident_act(request: HttpRequest, incident_id: int) -> HttpResponse:
    """One action on an incident from the room's controls; a refusal re-renders the room."""
    actor = page_actor(request)
    form = IncidentActionForm(request.POST)
    error: str | None = None
    status = 400
    if form.is_valid() and form.change is not None:
        try:
            services.incident_transition(
                actor=actor,
                incident_id=incident_id,
                change=form.change,
                expected_revision=form.expected_revision,
            )
        except NotFound:
            raise Http404(_("No such incident.")) from None
        except ServiceError as exc:
            form.add_service_errors(exc.errors)
            error, status = exc.detail, exc.status
        else:
            label = INCIDENT_ACTION_LABELS[rules.Action(form.change.action)]
            messages.success(request, _("%(action)s: done.") % {"action": label})
            return redirect("incident-room", incident_id=incident_id)
    return room_refused(request, actor, incident_id, form=form, error=error, status=status)


def room_refused(
    request: HttpRequest,
    actor: Actor,
    incident_id: int,
    *,
    form: Any,
    status: int,
    error: str | None = None,
) -> HttpResponse:
    """The room again, saying why the action posted from it was not taken."""
    incident = _incident(actor, incident_id)
    context = _room_context(actor, incident)
    context.update({"action_error": error, "failed_form": form})
    return render(request, "incidents/incident_room.html", context, status=status)
