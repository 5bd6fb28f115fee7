"""API endpoints of the one window: thin, each parses, calls one service and renders."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from command_center.responses import json_response
from incidents import selectors, services
from incidents.errors import Invalid
from incidents.policy import Actor, actor_for
from incidents.schemas import (
    BlacklistIn,
    BlacklistListOut,
    BlacklistOut,
    BulkOut,
    BulkTransitionIn,
    CaseDetailOut,
    CaseListOut,
    CaseListQuery,
    FundOut,
    IntakeIn,
    IntakeOut,
    ReasonIn,
    TransitionIn,
    TriageOut,
    UnitListOut,
)

router = Router(tags=["cases"])


def _actor(request: HttpRequest) -> Actor:
    return actor_for(request.user)


def intake_answer(result: services.IntakeResult, actor: Actor) -> dict[str, Any]:
    """The intake response: the case, whether the report merged, its slip and deadlines."""
    case = selectors.case_get(actor, result.case.number)
    body = selectors.case_summary(case, actor)
    body.update(
        {
            "merged": result.merged,
            "dispatch_slip": result.slip.number if result.slip else None,
            "employer": selectors.employer_standing(case, actor),
            "reports_count": case.reports.count(),
        }
    )
    return body


@router.post("/cases", response={200: IntakeOut, 201: IntakeOut}, summary="Register a complaint")
def case_intake(request: HttpRequest, payload: IntakeIn) -> HttpResponse:
    """One report from any channel. 201 with a new case, or 200 with `merged: true` when it
    joins an open case of the same employer. Send `Idempotency-Key` to make retries safe."""
    actor = _actor(request)

    def run() -> tuple[int, Any]:
        result = services.case_register(actor=actor, intake=payload.to_intake())
        return (200 if result.merged else 201), intake_answer(result, actor)

    status, body = services.idempotent(
        user_id=actor.user_id,
        key=request.headers.get("Idempotency-Key"),
        fingerprint=services.request_fingerprint(payload.model_dump(mode="json")),
        run=run,
    )
    return json_response(body, status=status)


@router.get("/cases", response=CaseListOut, summary="List cases")
def case_list(request: HttpRequest, filters: Query[CaseListQuery]) -> dict[str, Any]:
    actor = _actor(request)
    if (
        filters.received_from
        and filters.received_to
        and filters.received_from > filters.received_to
    ):
        raise Invalid(
            "received_from is after received_to.",
            [{"field": "received_from", "message": "must not be after received_to"}],
        )
    qs = selectors.case_list(
        actor,
        selectors.CaseFilters(
            state=filters.state.value if filters.state else None,
            unit=filters.unit,
            town=filters.town,
            channel=filters.channel.value if filters.channel else None,
            overdue=filters.overdue,
            received_from=filters.received_from,
            received_to=filters.received_to,
        ),
    )
    start = (filters.page - 1) * filters.page_size
    page = list(qs[start : start + filters.page_size])
    return {
        "count": qs.count(),
        "page": filters.page,
        "page_size": filters.page_size,
        "results": [selectors.case_summary(c, actor) for c in page],
    }


@router.get("/cases/triage", response=TriageOut, summary="Cases waiting for a person to route them")
def case_triage(request: HttpRequest) -> dict[str, Any]:
    actor = _actor(request)
    cases = list(selectors.triage_queue(actor)[:500])
    return {"count": len(cases), "results": [selectors.case_summary(c, actor) for c in cases]}


@router.post("/cases/bulk-transitions", response=BulkOut, summary="One action on many cases")
def case_bulk_transition(request: HttpRequest, payload: BulkTransitionIn) -> dict[str, Any]:
    """Bulk dispatch or reassignment: each case succeeds or fails on its own."""
    actor = _actor(request)
    outcome = services.cases_bulk_transition(
        actor=actor, case_numbers=payload.case_numbers, change=payload.to_input()
    )
    return {
        "done": [n for n, err in outcome.items() if err is None],
        "refused": [{"case_number": n, "detail": err} for n, err in outcome.items() if err],
    }


@router.get(
    "/cases/{case_number}", response=CaseDetailOut, summary="One case with everything about it"
)
def case_detail(request: HttpRequest, case_number: str) -> dict[str, Any]:
    actor = _actor(request)
    case = selectors.case_get(actor, case_number)
    services.personal_data_viewed(actor=actor, case=case, via="api")
    return selectors.case_detail(case, actor)


@router.post(
    "/cases/{case_number}/transitions", response=CaseDetailOut, summary="Take a lifecycle action"
)
def case_transition(
    request: HttpRequest, case_number: str, payload: TransitionIn
) -> dict[str, Any]:
    actor = _actor(request)
    services.case_transition(
        actor=actor,
        case_number=case_number,
        change=payload.to_input(),
        expected_revision=payload.expected_revision,
    )
    case = selectors.case_get(actor, case_number)
    services.personal_data_viewed(actor=actor, case=case, via="api")
    return selectors.case_detail(case, actor)


@router.get("/units", response=UnitListOut, tags=["reference"], summary="Units of the district")
def unit_list(request: HttpRequest) -> dict[str, Any]:
    actor = _actor(request)
    return {
        "results": [
            {"code": u.code, "kind": u.kind, "name_zh": u.name_zh, "name_en": u.name_en}
            for u in selectors.units_of(actor.district_id)
        ]
    }


@router.get("/fund", response=FundOut, tags=["fund"], summary="Petition special account")
def fund_summary(request: HttpRequest) -> dict[str, Any]:
    actor = _actor(request)
    return selectors.fund_summary(actor)


@router.get("/blacklist", response=BlacklistListOut, tags=["blacklist"], summary="The blacklist")
def blacklist_list(request: HttpRequest) -> dict[str, Any]:
    actor = _actor(request)
    entries = list(selectors.blacklist(actor))
    services.personal_data_viewed(
        actor=actor,
        via="api",
        subject="blacklist",
        rows=sum(1 for e in entries if e.person_id_number),
    )
    return {"results": [selectors.blacklist_out(e, actor) for e in entries]}


@router.post(
    "/blacklist",
    response={201: BlacklistOut},
    tags=["blacklist"],
    summary="List an employer or person",
)
def blacklist_add(request: HttpRequest, payload: BlacklistIn) -> Status:
    actor = _actor(request)
    entry = services.blacklist_add(
        actor=actor,
        reason=payload.reason,
        credit_code=payload.credit_code,
        person_name=payload.person_name,
        person_id_number=payload.person_id_number,
        case_numbers=payload.case_numbers,
    )
    return Status(201, selectors.blacklist_out(entry, actor))


@router.post("/blacklist/{entry_id}/appeal", response=BlacklistOut, tags=["blacklist"])
def blacklist_appeal(request: HttpRequest, entry_id: int, payload: ReasonIn) -> dict[str, Any]:
    actor = _actor(request)
    entry = services.blacklist_appeal(actor=actor, entry_id=entry_id, reason=payload.reason)
    services.personal_data_viewed(
        actor=actor, via="api", subject="blacklist", rows=int(bool(entry.person_id_number))
    )
    return selectors.blacklist_out(entry, actor)


@router.post("/blacklist/{entry_id}/remove", response=BlacklistOut, tags=["blacklist"])
def blacklist_remove(request: HttpRequest, entry_id: int, payload: ReasonIn) -> dict[str, Any]:
    actor = _actor(request)
    entry = services.blacklist_remove(actor=actor, entry_id=entry_id, reason=payload.reason)
    services.personal_data_viewed(
        actor=actor, via="api", subject="blacklist", rows=int(bool(entry.person_id_number))
    )
    return selectors.blacklist_out(entry, actor)
