"""API endpoints of early warning: readings in, warnings out, public opinion."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router

from alerts import selectors_risk as selectors
from alerts.domain.indicators import ParsedReading, ReadingError, reading_parse
from alerts.models import OpinionItem
from alerts.policy import check_send_readings, reads_opinion
from alerts.schemas_risk import (
    OpinionIn,
    OpinionOut,
    ReadingIn,
    ReadingsIn,
    ReadingsOut,
    WarningDetailOut,
    WarningListOut,
    WarningListQuery,
    WarningMoveIn,
)
from alerts.services import risk as services
from alerts.services.common import local_day
from command_center.responses import json_response
from incidents.errors import Forbidden, Invalid
from incidents.policy import actor_for

router = Router(tags=["early warning"])


def parse_reading(item: ReadingIn, *, today: date) -> ParsedReading:
    return reading_parse(
        source=item.source,
        external_id=item.id,
        credit_code=item.subject.credit_code,
        project=item.subject.project,
        indicator=item.indicator,
        period=item.period,
        value=item.value,
        today=today,
        reported_at=item.reported_at,
    )


@router.post(
    "/indicators", response={200: ReadingsOut, 201: ReadingsOut}, summary="Send indicator readings"
)
def indicators_ingest(request: HttpRequest, payload: ReadingsIn) -> HttpResponse:
    """A batch of readings: all stored (201; 200 when every one was already held) or, if any
    is refused, none (422, each refusal named by its position). Idempotent by `source` +
    `id`: a reading sent again is counted as a duplicate; sent again with a different value
    it is refused. An enterprise the hub does not know is registered by its credit code."""
    actor = actor_for(request.user)
    check_send_readings(actor)
    if len(payload.readings) > settings.INDICATOR_BATCH_MAX:
        raise Invalid(
            _("Too many readings in one request."),
            [{"field": "readings", "message": f"at most {settings.INDICATOR_BATCH_MAX}"}],
        )
    today = local_day(timezone.now())
    parsed: list[ParsedReading] = []
    errors = []
    for i, item in enumerate(payload.readings):
        try:
            parsed.append(parse_reading(item, today=today))
        except ReadingError as exc:
            errors.append({"field": f"readings.{i}.{exc.field}", "message": exc.message})
    if errors:
        raise Invalid(_("Some readings were refused; none was stored."), errors)
    result = services.readings_ingest(actor=actor, readings=parsed)
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "subjects": result.subjects,
        "registered": result.registered,
    }
    return json_response(body, status=201 if result.accepted else 200)


@router.get("/warnings", response=WarningListOut, summary="List early warnings")
def warning_list(request: HttpRequest, filters: Query[WarningListQuery]) -> dict[str, Any]:
    actor = actor_for(request.user)
    qs = selectors.warning_list(
        actor,
        selectors.WarningFilters(
            state=filters.state.value if filters.state else None,
            level=filters.level.value if filters.level else None,
            unit=filters.unit,
            overdue=filters.overdue,
        ),
    )
    start = (filters.page - 1) * filters.page_size
    names = selectors.rule_names(actor.district_id)
    now = timezone.now()
    return {
        "count": qs.count(),
        "page": filters.page,
        "page_size": filters.page_size,
        "results": [
            selectors.warning_summary(w, names, now=now)
            for w in qs[start : start + filters.page_size]
        ],
    }


@router.get("/warnings/{warning_id}", response=WarningDetailOut, summary="One early warning")
def warning_detail(request: HttpRequest, warning_id: int) -> dict[str, Any]:
    actor = actor_for(request.user)
    return selectors.warning_detail(services.warning_get(actor, warning_id), actor)


@router.post(
    "/warnings/{warning_id}/transitions",
    response=WarningDetailOut,
    summary="Accept, close or reassign a warning",
)
def warning_transition(request: HttpRequest, warning_id: int, payload: WarningMoveIn) -> Any:
    """`accept`: the unit intervenes (meets the clock); `close` with an `outcome` and a
    `note` (`case_opened` names the `case_number`); `reassign` (command) to `unit`."""
    actor = actor_for(request.user)
    warning = services.warning_transition(
        actor=actor,
        warning_id=warning_id,
        move=services.WarningMove(
            action=payload.action,
            note=payload.note,
            outcome=payload.outcome,
            unit=payload.unit,
            case_number=payload.case_number,
        ),
    )
    return selectors.warning_detail(services.warning_get(actor, warning.pk), actor)


@router.post(
    "/opinions", response={200: OpinionOut, 201: OpinionOut}, summary="Report public opinion"
)
def opinion_record(request: HttpRequest, payload: OpinionIn) -> HttpResponse:
    """One item of online public opinion (舆情), linked to an enterprise (`credit_code`), a
    project (`project`) or an incident (`incident`). Idempotent by `source` + `id`."""
    actor = actor_for(request.user)
    subject = payload.subject
    item, created = services.opinion_record(
        actor=actor,
        item=services.OpinionInput(
            source=payload.source,
            external_id=payload.id,
            text=payload.text,
            link=payload.link,
            reach=payload.reach,
            published_at=payload.published_at,
            credit_code=(subject.credit_code or "").strip().upper(),
            project=(subject.project or "").strip(),
            incident_id=subject.incident,
        ),
    )
    return json_response(
        selectors.opinion_summary(item, created=created), status=201 if created else 200
    )


@router.get("/opinions", response=list[OpinionOut], summary="Recent public opinion")
def opinion_list(request: HttpRequest) -> list[dict[str, Any]]:
    actor = actor_for(request.user)
    if not reads_opinion(actor):
        raise Forbidden(_("Only district-wide roles read public opinion."))
    items = OpinionItem.objects.filter(district_id=actor.district_id).select_related(
        "subject__enterprise", "subject__project"
    )[:200]
    return [selectors.opinion_summary(i) for i in items]
