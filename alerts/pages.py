"""HTML pages of alerting: the alert list, the duty roster, daily reports, acknowledging."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from alerts import selectors
from alerts.models import Alert, period_label
from alerts.policy import alerts_visible, roster_units
from alerts.services import (
    alert_acknowledge_as,
    daily_report_status,
    local_day,
    roster_for_day,
    roster_import,
    sensitive_period,
    zero_report_file,
)
from command_center.csv_import import decode_csv
from incidents.domain.lifecycle import Role
from incidents.errors import Forbidden, NotFound, ServiceError
from incidents.web import page_actor

ROSTER_MAX_BYTES = 2 * 1024 * 1024


class RosterUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Roster CSV file"))


class DailyReportForm(forms.Form):
    nothing_to_report = forms.BooleanField(
        label=gettext_lazy("Nothing to report today"), required=False, initial=True
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=2000, widget=forms.Textarea
    )


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    state = request.GET.get("state", "")
    qs = alerts_visible(actor)
    if state in Alert.State.values:
        qs = qs.filter(state=state)
    rows = list(selectors.alert_rows(qs).order_by("-raised_at")[:100])
    return render(
        request,
        "alerts/alert_list.html",
        {"alerts": rows, "state": state, "states": Alert.State.choices},
    )


@login_required
@require_POST
def alert_ack(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Acknowledge an alert for one's unit (or as command staff) from the web."""
    actor = page_actor(request)
    try:
        acknowledged = alert_acknowledge_as(
            actor=actor, alert_id=alert_id, via="web", now=timezone.now()
        )
    except NotFound:
        raise Http404(_("No such alert.")) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None
    if acknowledged:
        messages.success(request, _("Alert acknowledged."))
    else:
        messages.info(request, _("The alert was no longer waiting."))
    target = request.POST.get("next", "")
    safe = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe else "alert-list")


@login_required
@require_http_methods(["GET", "POST"])
def roster(request: HttpRequest) -> HttpResponse:
    """Who is on duty on a day; command staff upload roster files here."""
    actor = page_actor(request)
    try:
        day = date.fromisoformat(request.GET.get("day", "")) if request.GET.get("day") else None
    except ValueError:
        day = None
        messages.error(request, _("Give the day as YYYY-MM-DD."))
    day = day or local_day(timezone.now())
    form = RosterUploadForm()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not actor.is_command:
            raise PermissionDenied(_("Only command staff import rosters."))
        form = RosterUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > ROSTER_MAX_BYTES:
                errors = [_("The file is larger than 2 MB; split it.")]
            else:
                try:
                    text = decode_csv(upload.read())
                except UnicodeDecodeError:
                    errors = [_("The file is neither UTF-8 nor GBK text; save it as CSV UTF-8.")]
                else:
                    result = roster_import(district_id=actor.district_id, text=text)
                    errors = result.errors
                    if not errors:
                        messages.success(
                            request,
                            _("Roster imported: %(shifts)d duties, %(new)d new officers.")
                            % {"shifts": result.shifts, "new": result.officers_created},
                        )
                        return redirect(f"{request.path}?day={day.isoformat()}")
        status = 400
    units = roster_units(actor)
    period = sensitive_period(actor.district_id, day)
    context = {
        "day": day,
        "rows": roster_for_day(actor.district_id, day, units),
        "period": period_label(period.name if period else None),
        "form": form,
        "errors": errors,
        "can_import": actor.is_command,
    }
    return render(request, "alerts/roster.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def daily_reports(request: HttpRequest) -> HttpResponse:
    """Today's daily reports: who has filed; a unit's liaison files theirs here."""
    actor = page_actor(request)
    form = DailyReportForm()
    status = 200
    if request.method == "POST":
        form = DailyReportForm(request.POST)
        if form.is_valid():
            try:
                _report, created = zero_report_file(
                    actor=actor,
                    nothing_to_report=form.cleaned_data["nothing_to_report"],
                    note=form.cleaned_data["note"],
                )
            except ServiceError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                messages.success(
                    request,
                    _("Daily report filed.") if created else _("Today's report was already filed."),
                )
                return redirect("daily-reports")
        else:
            status = 400
    today = local_day(timezone.now())
    report_status = daily_report_status(actor.district_id, today)
    context = {
        "status": report_status,
        "period": period_label(report_status.period),
        "form": form,
        "can_file": Role.LIAISON in actor.roles and actor.unit_id is not None,
        "own_filed": any(r.unit_id == actor.unit_id for r in report_status.filed),
    }
    return render(request, "alerts/daily_reports.html", context, status=status)
