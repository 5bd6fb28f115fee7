"""HTML pages of early warning: the warning list, one warning and its actions, public opinion."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from alerts import selectors_risk as selectors
from alerts.domain.risk import LEVELS, Outcome, WarningAction
from alerts.models import LEVEL_LABELS, OUTCOME_LABELS, WARNING_STATE_LABELS, OpinionItem
from alerts.policy import reads_opinion
from alerts.services import risk as services
from incidents.errors import Forbidden, NotFound, ServiceError
from incidents.models import Unit
from incidents.web import page_actor

PAGE_ROWS = 100


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"), choices=[(o.value, lbl) for o, lbl in OUTCOME_LABELS.items()]
    )
    note = forms.CharField(
        label=gettext_lazy("What was found"), max_length=2000, widget=forms.Textarea
    )
    case_number = forms.CharField(
        label=gettext_lazy("Case number (when a case was registered)"),
        max_length=32,
        required=False,
    )


class OpinionForm(forms.Form):
    source = forms.SlugField(label=gettext_lazy("Source"), max_length=40, initial="cyberspace")
    text = forms.CharField(label=gettext_lazy("Text"), max_length=2000, widget=forms.Textarea)
    link = forms.URLField(
        label=gettext_lazy("Link"), max_length=500, required=False, assume_scheme="https"
    )
    reach = forms.IntegerField(label=gettext_lazy("Reach"), min_value=0, max_value=10**10)
    published_at = forms.DateTimeField(label=gettext_lazy("Published at"))
    credit_code = forms.CharField(
        label=gettext_lazy("Enterprise credit code"), max_length=18, required=False
    )
    project = forms.CharField(label=gettext_lazy("Project code"), max_length=40, required=False)
    incident = forms.IntegerField(
        label=gettext_lazy("Incident number"), min_value=1, required=False
    )


@login_required
def warning_list(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    state = request.GET.get("state", "")
    level = request.GET.get("level", "")
    filters = selectors.WarningFilters(
        state=state if state in WARNING_STATE_LABELS else None,
        level=level if level in LEVEL_LABELS else None,
    )
    rows = list(selectors.warning_list(actor, filters)[:PAGE_ROWS])
    names = selectors.rule_names(actor.district_id)
    now = timezone.now()
    for row in rows:
        row.reason_names = [names.get(r["rule"], r["rule"]) for r in row.reasons]  # type: ignore[attr-defined]
        row.is_overdue = selectors.is_overdue(row, now)  # type: ignore[attr-defined]
    return render(
        request,
        "alerts/warning_list.html",
        {
            "warnings": rows,
            "board": selectors.warning_board(actor),
            "state": filters.state or "",
            "level": filters.level or "",
            "states": [(s.value, lbl) for s, lbl in WARNING_STATE_LABELS.items()],
            "levels": [(lv.value, LEVEL_LABELS[lv]) for lv in LEVELS],
        },
    )


@login_required
def warning_detail(request: HttpRequest, warning_id: int) -> HttpResponse:
    actor = page_actor(request)
    try:
        warning = services.warning_get(actor, warning_id)
    except NotFound:
        raise Http404(_("No such warning.")) from None
    body = selectors.warning_detail(warning, actor)
    return render(
        request,
        "alerts/warning_detail.html",
        {
            "warning": warning,
            "body": body,
            "actions": body["actions"],
            "close_form": CloseForm(),
            "units": Unit.objects.filter(district_id=actor.district_id, active=True)
            if "reassign" in body["actions"]
            else [],
        },
    )


@login_required
@require_POST
def warning_move(request: HttpRequest, warning_id: int) -> HttpResponse:
    """Accept, close or reassign a warning from its page."""
    actor = page_actor(request)
    try:
        action = WarningAction(request.POST.get("action", ""))
    except ValueError:
        messages.error(request, _("Unknown action."))
        return redirect("warning-detail", warning_id=warning_id)
    move = services.WarningMove(action=action, unit=request.POST.get("unit") or None)
    if action is WarningAction.CLOSE:
        form = CloseForm(request.POST)
        if not form.is_valid():
            for field_errors in form.errors.values():
                for message in field_errors:
                    messages.error(request, str(message))
            return redirect("warning-detail", warning_id=warning_id)
        move = services.WarningMove(
            action=action,
            outcome=Outcome(form.cleaned_data["outcome"]),
            note=form.cleaned_data["note"],
            case_number=form.cleaned_data["case_number"] or None,
        )
    try:
        services.warning_transition(actor=actor, warning_id=warning_id, move=move)
    except NotFound:
        raise Http404(_("No such warning.")) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None
    except ServiceError as exc:
        messages.error(request, exc.detail)
        for problem in exc.errors:
            messages.error(request, f"{problem.get('field', '')}: {problem.get('message', '')}")
    else:
        messages.success(request, _("Warning updated."))
    return redirect("warning-detail", warning_id=warning_id)


@login_required
@require_http_methods(["GET", "POST"])
def opinions(request: HttpRequest) -> HttpResponse:
    """Recent public opinion, and a form to report an item (command staff, liaisons)."""
    actor = page_actor(request)
    form = OpinionForm()
    status = 200
    if request.method == "POST":
        form = OpinionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.opinion_record(
                    actor=actor,
                    item=services.OpinionInput(
                        source=data["source"],
                        text=data["text"],
                        link=data["link"],
                        reach=data["reach"],
                        published_at=data["published_at"],
                        credit_code=(data["credit_code"] or "").strip().upper(),
                        project=(data["project"] or "").strip(),
                        incident_id=data["incident"],
                    ),
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.detail) from None
            except ServiceError as exc:
                form.add_error(None, exc.detail)
                for error in exc.errors:
                    form.add_error(None, f"{error.get('field', '')}: {error.get('message', '')}")
            else:
                messages.success(request, _("Public opinion item recorded."))
                return redirect("opinions")
        status = 422
    items = (
        OpinionItem.objects.filter(district_id=actor.district_id)
        .select_related("subject__enterprise", "subject__project", "incident")
        .order_by("-published_at")[:PAGE_ROWS]
        if reads_opinion(actor)
        else OpinionItem.objects.none()
    )
    return render(request, "alerts/opinions.html", {"form": form, "items": items}, status=status)
