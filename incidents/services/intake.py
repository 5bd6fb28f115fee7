"""Intake at the one window: register a report, merge it or open, route and dispatch a case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.services.risk_facts import risk_facts_changed
from incidents.domain import routing, workdays
from incidents.domain.dedup import OpenCase, find_merge_target
from incidents.domain.lifecycle import OPEN_STATES, Action, CaseState
from incidents.errors import Invalid
from incidents.events import event_record
from incidents.models import (
    Case,
    CaseCounter,
    Clock,
    DispatchSlip,
    District,
    Enterprise,
    Project,
    Report,
    RoutingRule,
    Unit,
    Window,
)
from incidents.policy import Actor, check_register
from incidents.services.clocks import clock_start
from incidents.services.common import district_calendar, local_tz
from incidents.services.lifecycle import TransitionInput, transition_apply


@dataclass(frozen=True)
class ProjectInput:
    name: str
    type: routing.ProjectType
    builder: str | None = None


@dataclass(frozen=True)
class Intake:
    """One complaint as validated at the edge (API schema or intake form)."""

    channel: str
    complainant_name: str
    complainant_phone: str
    workers_count: int
    amount_owed: Decimal
    employer_name: str
    employer_credit_code: str
    town: str
    complainant_id_number: str = ""
    window: str | None = None
    received_at: datetime | None = None
    project: ProjectInput | None = None
    lat: float | None = None
    lng: float | None = None
    description: str = ""


@dataclass
class IntakeResult:
    case: Case
    merged: bool
    slip: DispatchSlip | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def unit_kinds_of(district_id: int) -> dict[str, str]:
    return dict(
        Unit.objects.filter(district_id=district_id, active=True).values_list("code", "kind")
    )


def routing_rules_of(district_id: int) -> list[routing.Rule]:
    return [
        routing.Rule(
            routing.ProjectType(r.project_type) if r.project_type else None,
            r.responsible,
            r.assist_territorial,
        )
        for r in RoutingRule.objects.filter(district_id=district_id)
    ]


def _next_case_number(district: District, year: int) -> str:
    counter, _created = CaseCounter.objects.get_or_create(district=district, year=year)
    # The UPDATE holds the row lock until commit, so no two cases share a number.
    CaseCounter.objects.filter(pk=counter.pk).update(last=F("last") + 1)
    counter.refresh_from_db(fields=["last"])
    return f"{district.case_prefix}-{year}-{counter.last:06d}"


def case_register(*, actor: Actor, intake: Intake, now: datetime | None = None) -> IntakeResult:
    """Register one complaint: merge it into an open case of the same employer and project,
    or open a new case, route it and dispatch it the same day.

    Raises `Invalid` for unknown codes (window, town, builder) and `Forbidden` for a role that
    may not register.
    """
    check_register(actor)
    now = now or timezone.now()
    received_at = intake.received_at or now
    district = District.objects.get(pk=actor.district_id)
    errors: list[dict[str, Any]] = []

    window = None
    if intake.window:
        window = Window.objects.filter(district=district, code=intake.window).first()
        if window is None:
            errors.append(
                {
                    "field": "window",
                    "message": _("Unknown window %(code)s.") % {"code": intake.window},
                }
            )
    town = Unit.objects.filter(
        district=district, code=intake.town, kind=Unit.Kind.TERRITORIAL, active=True
    ).first()
    if town is None:
        errors.append(
            {"field": "town", "message": _("Unknown town %(code)s.") % {"code": intake.town}}
        )
    builder = None
    if intake.project and intake.project.builder:
        builder = Unit.objects.filter(
            district=district, code=intake.project.builder, kind=Unit.Kind.SOE
        ).first()
        if builder is None:
            errors.append(
                {
                    "field": "project.builder",
                    "message": _("Unknown state-owned company %(code)s.")
                    % {"code": intake.project.builder},
                }
            )
    if errors or town is None:
        raise Invalid(_("The complaint names unknown codes."), errors)

    with transaction.atomic():
        enterprise, _created = Enterprise.objects.get_or_create(
            district=district,
            credit_code=intake.employer_credit_code,
            defaults={"name": intake.employer_name},
        )
        # Serialise intake per employer, so that two reports arriving together make one case.
        enterprise = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
        if not enterprise.name or enterprise.town_id is None:
            # Known so far only by its credit code (an indicator reading registered it), or
            # with no town: the complaint fills in what it says.
            enterprise.name = enterprise.name or intake.employer_name
            enterprise.town_id = enterprise.town_id or town.pk
            enterprise.save(update_fields=["name", "town"])
        project = None
        if intake.project:
            project, _created = Project.objects.get_or_create(
                district=district,
                name=intake.project.name,
                defaults={"type": intake.project.type, "builder": builder, "town": town},
            )
        open_cases = [
            OpenCase(c.pk, c.project_id, c.received_at)
            for c in Case.objects.filter(
                employer=enterprise, state__in=[s.value for s in OPEN_STATES]
            ).only("pk", "project_id", "received_at")
        ]
        target_id = find_merge_target(project.pk if project else None, open_cases)
        if target_id is not None:
            case = Case.objects.select_for_update().get(pk=target_id)
            report = _add_report(case, intake, window, received_at, actor)
            changed: dict[str, Any] = {}
            if intake.workers_count > case.workers_count:
                changed["workers_count"] = case.workers_count = intake.workers_count
            if intake.amount_owed > case.amount_owed:
                case.amount_owed = intake.amount_owed
                changed["amount_owed"] = str(intake.amount_owed)
            if case.project_id is None and project is not None:
                case.project = project
                changed["project"] = project.name
            case.revision += 1
            case.save()
            event_record(
                at=now,
                district=district,
                case=case,
                kind="case.report_merged",
                actor=actor,
                before=case.state,
                after=case.state,
                data={"report_id": report.pk, "channel": intake.channel, "changed": changed},
            )
            return IntakeResult(case=case, merged=True)

        decision = routing.route(
            routing_rules_of(district.pk),
            project_type=intake.project.type if intake.project else None,
            town=town.code,
            builder=builder.code if builder else None,
            unit_kinds=unit_kinds_of(district.pk),
        )
        case = Case.objects.create(
            district=district,
            number=_next_case_number(district, received_at.astimezone(local_tz()).year),
            channel=intake.channel,
            received_at=received_at,
            employer=enterprise,
            project=project,
            town=town,
            lat=intake.lat,
            lng=intake.lng,
            workers_count=intake.workers_count,
            amount_owed=intake.amount_owed,
            description=intake.description,
            routing_note=decision.reason,
            registered_by_id=actor.user_id,
            created_at=now,
        )
        _add_report(case, intake, window, received_at, actor)
        risk_facts_changed(enterprise_ids=[enterprise.pk], project_ids=[case.project_id or 0])
        calendar = district_calendar(district.pk, {received_at.year, received_at.year + 1})
        clock_start(
            case,
            Clock.Kind.DISPATCH,
            started_at=received_at,
            due_at=workdays.dispatch_due(received_at, calendar, local_tz()),
        )
        event_record(
            at=now,
            district=district,
            case=case,
            kind="case.registered",
            actor=actor,
            after=CaseState.REGISTERED,
            data={
                "channel": intake.channel,
                "town": town.code,
                "workers_count": intake.workers_count,
                "amount_owed": str(intake.amount_owed),
                "construction": project is not None,
                "routing": decision.reason,
            },
        )
        slip = None
        if decision.responsible is not None:
            # The routing table decided: dispatch through the lifecycle, the same path a
            # person's dispatch takes (its slip, clock and event).
            transition_apply(
                actor=actor,
                case=case,
                change=TransitionInput(
                    action=Action.DISPATCH,
                    unit=decision.responsible,
                    assisting_units=decision.assisting,
                ),
                now=now,
                event_kind="case.dispatched",
            )
            slip = case.slips.order_by("-id").first()
        return IntakeResult(case=case, merged=False, slip=slip)


def _add_report(
    case: Case, intake: Intake, window: Window | None, received_at: datetime, actor: Actor
) -> Report:
    return Report.objects.create(
        case=case,
        channel=intake.channel,
        window=window,
        received_at=received_at,
        complainant_name=intake.complainant_name,
        complainant_phone=intake.complainant_phone,
        complainant_id_number=intake.complainant_id_number,
        workers_count=intake.workers_count,
        amount_owed=intake.amount_owed,
        description=intake.description,
        created_by_id=actor.user_id,
    )
