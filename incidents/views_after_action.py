"""Pages of an incident's after-action report (事后评估报告): HTML, the edit and sign forms, PDF.

The page and the PDF show the same sections, built once here (`report_sections`) in the
reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.models import REASON_LABELS
from incidents.errors import Conflict, NotFound, ServiceError
from incidents.labels import EVENT_DATA_LABELS, EVENT_LABELS
from incidents.models import KIND_LABELS, STATE_LABELS, AfterActionReport
from incidents.models import STATUS_LABELS as INCIDENT_STATUS_LABELS
from incidents.pdf import FontMissing, Section, render_report
from incidents.policy import Actor
from incidents.services.after_action import (
    EDITORS,
    LESSONS_MAX_CHARS,
    NOTE_MAX_CHARS,
    after_action_edit,
    after_action_facts,
    after_action_get,
    after_action_news,
    after_action_refresh,
    after_action_sign,
)
from incidents.web import page_actor
from playbooks.domain.templates import COMMAND
from playbooks.models import STATE_LABELS as STEP_STATE_LABELS

TIME = "%Y-%m-%d %H:%M"


class LessonsForm(forms.Form):
    lessons = forms.CharField(
        label=gettext_lazy("Lessons learned"),
        required=False,
        max_length=LESSONS_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    sign_off_note = forms.CharField(
        label=gettext_lazy("Sign-off remark"), required=False, max_length=NOTE_MAX_CHARS
    )
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class SignForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Sign-off remark"), required=False, max_length=NOTE_MAX_CHARS
    )
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


# --- presenting the facts ------------------------------------------------------------------


def _time(value: datetime | None) -> str:
    return timezone.localtime(value).strftime(TIME) if value else ""


def _label(table: dict[Any, Any], key: Any) -> str:
    label = table.get(key)
    return str(label) if label is not None else str(key or "")


def _detail_label(key: str) -> str:
    extra = {
        "title": _("step"),
        "name": _("playbook"),
        "steps": _("steps"),
        "people_count_before": _("people before"),
        "commander_before": _("commander before"),
        "response_seconds": _("response (seconds)"),
        "workers_count": _("workers"),
        "amount_owed": _("amount owed"),
        "owner": _("owner"),
    }
    label = EVENT_DATA_LABELS.get(key)
    return str(label) if label is not None else str(extra.get(key, key))


def _what(item: dict[str, Any]) -> str:
    """One timeline entry in words: what happened, to which case, the move, the details."""
    parts = [_label(EVENT_LABELS, item["kind"])]
    if item["case_number"]:
        parts.append(item["case_number"])
    if item["kind"].startswith("case.") and item["after"] and item["before"] != item["after"]:
        parts.append(f"→ {_label(STATE_LABELS, item['after'])}")
    elif item["kind"] == "checklist.step_moved" and item["after"]:
        parts.append(f"→ {_step_state(item['after'])}")
    text = " · ".join(parts)
    details = "; ".join(f"{_detail_label(k)}: {v}" for k, v in item["details"])
    if details:
        text += f" ({details})"
    if item["reason"]:
        text += "\n" + _("Reason: %(reason)s") % {"reason": item["reason"]}
    return text


def _step_state(value: str) -> str:
    return _label({s.value: lbl for s, lbl in STEP_STATE_LABELS.items()}, value)


def _duration(minutes: int | None) -> str:
    if minutes is None:
        return ""
    return _("%(hours)d h %(minutes)d min") % {"hours": minutes // 60, "minutes": minutes % 60}


def _seconds(value: int | None) -> str:
    if value is None:
        return ""
    return _("%(minutes)d min %(seconds)d s") % {"minutes": value // 60, "seconds": value % 60}


def report_sections(report: AfterActionReport, facts: dict[str, Any]) -> list[Section]:
    """The report's sections in the active language: the same on the page and in the PDF."""
    summary = facts["summary"]
    yes, no = _("yes"), _("no")
    reasons = {r.value: label for r, label in REASON_LABELS.items()}
    kinds = {k.value: label for k, label in KIND_LABELS.items()}
    alerts = facts["alerts"]
    totals = alerts["totals"]
    money = facts["money"]
    sections = [
        Section(
            title=_("Summary"),
            columns=(_("Item"), _("Value")),
            widths=(40, 142),
            rows=[
                (_("Incident"), f"{summary['title']} ({summary['code']})"),
                (_("Kind"), _label(kinds, summary["kind"])),
                (_("Town"), summary["town_name"]),
                (
                    _("Location"),
                    f"{summary['location']['lat']:.5f}, {summary['location']['lng']:.5f}",
                ),
                (_("Highest level"), summary["level"]),
                (_("Most people reported"), str(summary["people"])),
                (_("Reported"), _time(summary["reported_at"])),
                (_("Response activated"), _time(summary["activated_at"])),
                (_("Contained"), _time(summary["contained_at"])),
                (_("Closed"), _time(summary["closed_at"])),
                (_("Duration"), _duration(summary["duration_minutes"])),
                (_("Outcome"), summary["outcome"]),
            ],
        ),
        Section(
            title=_("Timeline"),
            columns=(_("Time"), _("Who"), _("What")),
            widths=(28, 26, 128),
            rows=[
                (_time(item["at"]), item["who"] or _("system"), _what(item))
                for item in facts["timeline"]
            ],
            empty=_("No events."),
        ),
        Section(
            title=_("Playbook steps"),
            columns=(
                _("Step"),
                _("Owner"),
                _("Due"),
                _("Done"),
                _("State"),
                _("Late"),
                _("Minutes late"),
            ),
            widths=(52, 26, 26, 26, 20, 14, 18),
            rows=[
                (
                    s["title"],
                    _("joint command") if s["owner"] == COMMAND else s["owner_name"],
                    _time(s["due_at"]),
                    _time(s["done_at"]),
                    _step_state(s["state"]),
                    yes if s["late"] else no,
                    str(s["minutes_late"]) if s["late"] else "",
                )
                for s in facts["steps"]
            ],
            empty=_("No playbook was started."),
        ),
        Section(
            title=_("SMS alerts"),
            columns=(
                _("Reason"),
                _("Unit"),
                _("Raised"),
                _("Sent"),
                _("Delivered"),
                _("Failed"),
                _("Acknowledged"),
                _("By / via"),
                _("Response"),
            ),
            widths=(26, 22, 24, 12, 16, 12, 24, 26, 20),
            rows=[
                (
                    _label(reasons, a["reason"]),
                    a["unit_name"],
                    _time(a["raised_at"]),
                    str(a["sent"]),
                    str(a["delivered"]),
                    str(a["failed"]),
                    _time(a["acknowledged_at"]),
                    " / ".join(x for x in (a["acknowledged_by"], a["acknowledged_via"]) if x),
                    _seconds(a["response_seconds"]),
                )
                for a in alerts["items"]
            ],
            empty=_("No SMS alert."),
        ),
        Section(
            title=_("Alert totals"),
            columns=(_("Item"), _("Value")),
            widths=(60, 122),
            rows=[
                (_("Alerts"), str(totals["alerts"])),
                (_("SMS sent"), str(totals["sent"])),
                (_("SMS delivered"), str(totals["delivered"])),
                (_("SMS failed"), str(totals["failed"])),
                (_("Alerts acknowledged"), str(totals["acknowledged"])),
                (_("Alerts nobody acknowledged"), str(totals["exhausted"])),
                (_("Median response"), _seconds(totals["median_response_seconds"])),
            ],
        ),
        Section(
            title=_("Money (yuan)"),
            columns=(_("Item"), _("Amount")),
            widths=(60, 122),
            rows=[
                (_("Wages owed"), money["owed"]),
                (_("Paid on site"), money["paid"]),
                (_("Advanced from the petition account"), money["advanced"]),
                (_("Recovered"), money["recovered"]),
                (_("Still owed to the workers"), money["outstanding"]),
                (_("Advanced, not yet recovered"), money["unrecovered"]),
            ],
        ),
        Section(
            title=_("Linked cases"),
            columns=(
                _("Case"),
                _("State"),
                _("Owed"),
                _("Paid"),
                _("Advanced"),
                _("Recovered"),
                _("Outstanding"),
            ),
            widths=(40, 30, 24, 22, 22, 22, 22),
            rows=[
                (
                    c["number"],
                    _label(STATE_LABELS, c["state"]),
                    c["owed"],
                    c["paid"],
                    c["advanced"],
                    c["recovered"],
                    c["outstanding"],
                )
                for c in facts["cases"]
            ],
            empty=_("No linked case."),
        ),
        Section(
            title=_("Lessons learned"),
            text=report.lessons,
            empty=_("Not written yet."),
        ),
        Section(title=_("Sign-off"), text=_sign_off_text(report)),
    ]
    return sections


def _sign_off_text(report: AfterActionReport) -> str:
    if report.state != AfterActionReport.State.SIGNED:
        text = _("Draft, not signed.")
    else:
        text = _("Signed by %(who)s at %(when)s.") % {
            "who": report.signed_by.get_username() if report.signed_by else "—",
            "when": _time(report.signed_at),
        }
    if report.sign_off_note:
        text += "\n" + report.sign_off_note
    return text


def _subtitle(report: AfterActionReport) -> str:
    return _("%(code)s · after-action report · drafted %(drafted)s · events up to #%(cutoff)s") % {
        "code": report.incident.code,
        "drafted": _time(report.drafted_at),
        "cutoff": report.cutoff_event_id,
    }


# --- pages ---------------------------------------------------------------------------------


def _report(actor: Actor, incident_id: int) -> AfterActionReport:
    try:
        return after_action_get(actor, incident_id)
    except NotFound:
        raise Http404(_("No such incident.")) from None


def _page(
    request: HttpRequest,
    actor: Actor,
    report: AfterActionReport,
    *,
    form: forms.Form | None = None,
    sign_form: forms.Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    facts = after_action_facts(report)
    may_edit = bool(actor.roles & EDITORS) and report.state == AfterActionReport.State.DRAFT
    return render(
        request,
        "incidents/after_action.html",
        {
            "report": report,
            "incident": report.incident,
            "status_label": _label(
                {s.value: lbl for s, lbl in INCIDENT_STATUS_LABELS.items()},
                report.incident.status,
            ),
            "subtitle": _subtitle(report),
            "sections": report_sections(report, facts),
            "news": after_action_news(report),
            "may_edit": may_edit,
            "form": form
            or LessonsForm(
                initial={
                    "lessons": report.lessons,
                    "sign_off_note": report.sign_off_note,
                    "revision": report.revision,
                }
            ),
            "sign_form": sign_form or SignForm(initial={"revision": report.revision}),
            "error": error,
        },
        status=status,
    )


def _not_ready(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return render(
        request, "incidents/after_action.html", {"report": None, "error": exc.detail}, status=409
    )


def _post(
    request: HttpRequest,
    incident_id: int,
    *,
    form: forms.Form | None,
    form_key: str,
    act: Callable[[Actor, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """A form posted about the report: check it, call the service, go back to the page.

    A refused form or move shows the page again, with the form as posted and the reason.
    """
    actor = page_actor(request)
    try:
        report = _report(actor, incident_id)
    except Conflict as exc:
        return _not_ready(request, exc)
    shown = {
        "form": form if form_key == "form" else None,
        "sign_form": form if form_key == "sign_form" else None,
    }
    if form is not None and not form.is_valid():
        return _page(
            request, actor, report, form=shown["form"], sign_form=shown["sign_form"], status=400
        )
    try:
        act(actor, form.cleaned_data if form is not None else {})
    except ServiceError as exc:
        report = _report(actor, incident_id)
        return _page(
            request,
            actor,
            report,
            form=shown["form"],
            sign_form=shown["sign_form"],
            error=exc.detail,
            status=exc.status,
        )
    messages.success(request, done)
    return redirect("after-action", incident_id=incident_id)


@login_required
@require_http_methods(["GET", "POST"])
def after_action_page(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The report; a POST saves the lessons learned and the sign-off remark."""
    if request.method != "POST":
        actor = page_actor(request)
        try:
            return _page(request, actor, _report(actor, incident_id))
        except Conflict as exc:
            return _not_ready(request, exc)
    return _post(
        request,
        incident_id,
        form=LessonsForm(request.POST),
        form_key="form",
        act=lambda actor, data: after_action_edit(
            actor=actor,
            incident_id=incident_id,
            lessons=data["lessons"],
            sign_off_note=data["sign_off_note"],
            expected_revision=data["revision"],
        ),
        done=_("After-action report saved."),
    )


@login_required
@require_POST
def after_action_sign_page(request: HttpRequest, incident_id: int) -> HttpResponse:
    return _post(
        request,
        incident_id,
        form=SignForm(request.POST),
        form_key="sign_form",
        act=lambda actor, data: after_action_sign(
            actor=actor,
            incident_id=incident_id,
            note=data["note"],
            expected_revision=data["revision"],
        ),
        done=_("After-action report signed."),
    )


@login_required
@require_POST
def after_action_refresh_page(request: HttpRequest, incident_id: int) -> HttpResponse:
    return _post(
        request,
        incident_id,
        form=None,
        form_key="",
        act=lambda actor, _data: after_action_refresh(actor=actor, incident_id=incident_id),
        done=_("After-action report brought up to date."),
    )


@login_required
@require_GET
def after_action_pdf(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The report as a PDF in the reader's language; 503 when the server has no CJK font."""
    actor = page_actor(request)
    try:
        report = _report(actor, incident_id)
    except Conflict as exc:
        return HttpResponse(exc.detail, status=409, content_type="text/plain; charset=utf-8")
    facts = after_action_facts(report)
    try:
        content = render_report(
            title=f"{_('After-action report')}: {report.incident.title}",
            subtitle=_subtitle(report),
            sections=report_sections(report, facts),
            footer=f"{report.incident.code} · {_('after-action report')}",
            metadata={"subject": report.incident.code},
        )
    except FontMissing as exc:
        return HttpResponse(
            _("The PDF cannot be made: the server has no Chinese font (%(why)s)")
            % {"why": str(exc)},
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="after-action-{report.incident.code}.pdf"'
    return response
