"""API endpoints of an incident's after-action report (事后评估报告): read, edit, refresh, sign."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field, StrictInt

from incidents.models import AfterActionReport
from incidents.policy import actor_for
from incidents.schemas import Strict
from incidents.services.after_action import (
    LESSONS_MAX_CHARS,
    NOTE_MAX_CHARS,
    after_action_edit,
    after_action_facts,
    after_action_get,
    after_action_news,
    after_action_refresh,
    after_action_sign,
)

router = Router(tags=["after-action reports"])

Note = Annotated[str, Field(max_length=NOTE_MAX_CHARS)]


class AfterActionEditIn(Strict):
    lessons: Annotated[str, Field(max_length=LESSONS_MAX_CHARS)] | None = None
    sign_off_note: Note | None = None
    revision: StrictInt


class AfterActionSignIn(Strict):
    note: Note = ""
    revision: StrictInt | None = None


class AfterActionRefreshIn(Strict):
    revision: StrictInt | None = None


class SignOffOut(Schema):
    by: str | None
    at: str | None
    note: str


class EditedOut(Schema):
    by: str | None
    at: str | None


class ReportIncidentOut(Schema):
    id: int
    code: str
    title: str


class AfterActionOut(Schema):
    incident: ReportIncidentOut
    state: str
    drafted_at: str
    cutoff_event_id: int
    events_after_cutoff: int
    lessons: str
    sign_off: SignOffOut
    edited: EditedOut
    revision: int
    facts: dict[str, Any]


def jsonable(value: Any) -> Any:
    """Facts as JSON: times in the hub's time zone, pairs as lists."""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def after_action_out(report: AfterActionReport) -> dict[str, Any]:
    facts = after_action_facts(report)
    for item in facts["timeline"]:
        item["details"] = dict(item["details"])
    incident = report.incident
    return {
        "incident": {"id": incident.pk, "code": incident.code, "title": incident.title},
        "state": report.state,
        "drafted_at": _iso(report.drafted_at),
        "cutoff_event_id": report.cutoff_event_id,
        "events_after_cutoff": after_action_news(report),
        "lessons": report.lessons,
        "sign_off": {
            "by": report.signed_by.get_username() if report.signed_by else None,
            "at": _iso(report.signed_at),
            "note": report.sign_off_note,
        },
        "edited": {
            "by": report.edited_by.get_username() if report.edited_by else None,
            "at": _iso(report.edited_at),
        },
        "revision": report.revision,
        "facts": jsonable(facts),
    }


def _fresh(request: HttpRequest, incident_id: int) -> dict[str, Any]:
    return after_action_out(after_action_get(actor_for(request.user), incident_id))


@router.get(
    "/incidents/{int:incident_id}/after-action",
    response=AfterActionOut,
    summary="An incident's after-action report",
)
def after_action_read(request: HttpRequest, incident_id: int) -> dict[str, Any]:
    """The report of a closed incident, drafted on first reading if need be (409 while the
    incident is open). Its facts come from the incident's events up to `cutoff_event_id`;
    money is in decimal strings (yuan)."""
    return _fresh(request, incident_id)


@router.patch(
    "/incidents/{int:incident_id}/after-action",
    response=AfterActionOut,
    summary="Write the lessons learned of an after-action report",
)
def after_action_update(
    request: HttpRequest, incident_id: int, payload: AfterActionEditIn
) -> dict[str, Any]:
    """Command staff and reviewers; send the `revision` you read (409 if it moved on, or once
    the report is signed)."""
    after_action_edit(
        actor=actor_for(request.user),
        incident_id=incident_id,
        lessons=payload.lessons,
        sign_off_note=payload.sign_off_note,
        expected_revision=payload.revision,
    )
    return _fresh(request, incident_id)


@router.post(
    "/incidents/{int:incident_id}/after-action/sign",
    response=AfterActionOut,
    summary="Sign an after-action report (it is frozen)",
)
def after_action_sign_off(
    request: HttpRequest, incident_id: int, payload: AfterActionSignIn
) -> dict[str, Any]:
    """Command staff and reviewers; the lessons learned must be written first (422)."""
    after_action_sign(
        actor=actor_for(request.user),
        incident_id=incident_id,
        note=payload.note,
        expected_revision=payload.revision,
    )
    return _fresh(request, incident_id)


@router.post(
    "/incidents/{int:incident_id}/after-action/refresh",
    response=AfterActionOut,
    summary="Bring an unsigned after-action report up to the latest event",
)
def after_action_bring_up_to_date(
    request: HttpRequest, incident_id: int, payload: AfterActionRefreshIn | None = None
) -> dict[str, Any]:
    """Command staff and reviewers, while the report is unsigned."""
    after_action_refresh(
        actor=actor_for(request.user),
        incident_id=incident_id,
        expected_revision=payload.revision if payload else None,
    )
    return _fresh(request, incident_id)
