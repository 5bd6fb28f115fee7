"""Use cases of the one window: the only code that writes cases, clocks, fund and blacklist.

Each service takes keyword arguments, runs in one transaction, writes its events in it and
leaves publishing to `transaction.on_commit`. Rules come from `incidents.domain`; who may do
what from `incidents.policy`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.domain import routing, workdays
from incidents.domain.dedup import OpenCase, find_merge_target
from incidents.domain.lifecycle import (
    CLOCK_STARTED_BY,
    CLOCKS_STOPPED_BY,
    OPEN_STATES,
    REASON_REQUIRED,
    TERMINAL_STATES,
    Action,
    AdvanceRefusal,
    CaseState,
    IllegalTransition,
    advance_refusal,
    next_state,
)
from incidents.errors import Conflict, Forbidden, Invalid, NotFound
from incidents.events import event_record
from incidents.models import (
    ACTION_LABELS,
    STATE_LABELS,
    ApiToken,
    BlacklistEntry,
    CalendarOverride,
    Case,
    CaseCounter,
    Clock,
    DispatchSlip,
    District,
    Enterprise,
    FundAccount,
    FundEntry,
    IdempotencyRecord,
    Project,
    Report,
    RoutingRule,
    Unit,
    UnitPenalty,
    Window,
)
from incidents.policy import Actor, check_action, check_register, visible_cases

T = TypeVar("T")
ADVANCE_PENALTY_POINTS = Decimal("2")


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


# --- intake ---


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


def district_calendar(district_id: int, years: set[int]) -> workdays.WorkCalendar:
    """The working calendar of a district: the public calendar and its overrides."""
    overrides = CalendarOverride.objects.filter(district_id=district_id, day__year__in=years)
    return workdays.china_calendar(
        years,
        extra_holidays=[o.day for o in overrides if not o.is_workday],
        extra_workdays=[o.day for o in overrides if o.is_workday],
    )


def _unit_kinds(district_id: int) -> dict[str, str]:
    return dict(
        Unit.objects.filter(district_id=district_id, active=True).values_list("code", "kind")
    )


def _rules(district_id: int) -> list[routing.Rule]:
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


def _start_clock(case: Case, kind: str, *, started_at: datetime, due_at: datetime) -> Clock:
    return Clock.objects.create(case=case, kind=kind, started_at=started_at, due_at=due_at)


def _stop_clocks(case: Case, stops: dict[str, str], *, now: datetime) -> None:
    for kind, status in stops.items():
        Clock.objects.filter(
            case=case, kind=kind, status__in=[Clock.Status.RUNNING, Clock.Status.OVERDUE]
        ).update(status=status, stopped_at=now)


def _issue_slip(
    case: Case,
    *,
    unit: Unit,
    assisting: list[Unit],
    actor_id: int | None,
    now: datetime,
) -> DispatchSlip:
    count = DispatchSlip.objects.filter(case=case).count()
    slip = DispatchSlip.objects.create(
        case=case,
        number=f"ZB-{case.number}-{count + 1}",
        unit=unit,
        assisting=",".join(u.code for u in assisting),
        issued_at=now,
        issued_by_id=actor_id,
    )
    case.responsible_unit = unit
    case.dispatched_at = now
    case.assisting_units.set(assisting)
    return slip


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
            _rules(district.pk),
            project_type=intake.project.type if intake.project else None,
            town=town.code,
            builder=builder.code if builder else None,
            unit_kinds=_unit_kinds(district.pk),
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
        calendar = district_calendar(district.pk, {received_at.year, received_at.year + 1})
        dispatch_clock = _start_clock(
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
                "routing": decision.reason,
            },
        )
        slip = None
        if decision.responsible is not None:
            units = {
                u.code: u
                for u in Unit.objects.filter(
                    district=district, code__in=[decision.responsible, *decision.assisting]
                )
            }
            slip = _issue_slip(
                case,
                unit=units[decision.responsible],
                assisting=[units[c] for c in decision.assisting],
                actor_id=actor.user_id,
                now=now,
            )
            case.state = CaseState.DISPATCHED
            case.revision += 1
            case.save()
            dispatch_clock.status = Clock.Status.MET
            dispatch_clock.stopped_at = now
            dispatch_clock.save(update_fields=["status", "stopped_at"])
            event_record(
                at=now,
                district=district,
                case=case,
                kind="case.dispatched",
                actor=actor,
                before=CaseState.REGISTERED,
                after=CaseState.DISPATCHED,
                data={
                    "unit": decision.responsible,
                    "assisting": list(decision.assisting),
                    "slip": slip.number,
                },
            )
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


# --- lifecycle ---


@dataclass(frozen=True)
class TransitionInput:
    action: Action
    reason: str = ""
    unit: str | None = None
    assisting_units: tuple[str, ...] = ()
    amount: Decimal | None = None
    override: bool = False
    into: str | None = None


def case_get_for_update(actor: Actor, number: str) -> Case:
    case = visible_cases(actor).filter(number=number).first()
    if case is None:
        raise NotFound(_("No case %(number)s.") % {"number": number})
    return Case.objects.select_for_update().get(pk=case.pk)


def case_transition(
    *,
    actor: Actor,
    case_number: str,
    change: TransitionInput,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Case:
    """Take one lifecycle action on a case.

    Raises `NotFound` (not visible), `Forbidden` (role or unit may not), `Conflict` (the state
    machine, a stale revision, the fund balance) or `Invalid` (missing or bad parameters).
    Nothing changes when it raises.
    """
    now = now or timezone.now()
    action = change.action
    with transaction.atomic():
        case = case_get_for_update(actor, case_number)
        check_action(actor, case, action)
        if expected_revision is not None and case.revision != expected_revision:
            raise Conflict(_("The case changed since you loaded it; reload and try again."))
        before = CaseState(case.state)
        try:
            after = next_state(before, action)
        except IllegalTransition:
            raise Conflict(
                _("Action “%(action)s” is not allowed while the case is “%(state)s”.")
                % {"action": ACTION_LABELS[action], "state": STATE_LABELS[before]}
            ) from None
        if action in REASON_REQUIRED and not change.reason.strip():
            raise Invalid(
                _("Action “%(action)s” needs a reason.") % {"action": ACTION_LABELS[action]},
                [{"field": "reason", "message": _("This field is required.")}],
            )
        data: dict[str, Any] = {}
        handler = _ACTION_HANDLERS.get(action)
        if handler is not None:
            data = handler(actor, case, change, now)
        _stop_clocks(case, CLOCKS_STOPPED_BY.get(action, {}), now=now)
        kind = CLOCK_STARTED_BY.get(action)
        if kind is not None:
            _start_clock(case, kind, started_at=now, due_at=_due(case, kind, now))
        if after in TERMINAL_STATES:
            _stop_clocks(case, {k: Clock.Status.CANCELLED for k in Clock.Kind.values}, now=now)
            if after == CaseState.CLOSED:
                case.closed_at = now
        case.state = after
        case.revision += 1
        case.save()
        event_record(
            at=now,
            district=case.district_id,
            case=case,
            kind=f"case.{action.value}",
            actor=actor,
            reason=change.reason,
            before=before,
            after=after,
            data=data,
        )
        return case


def _due(case: Case, kind: str, now: datetime) -> datetime:
    tz = local_tz()
    if kind == Clock.Kind.COMMITMENT:
        return workdays.commitment_due(now, settings.COMMITMENT_DAYS, tz)
    calendar = district_calendar(case.district_id, {now.year, now.year + 1})
    return workdays.advance_due(now, settings.ADVANCE_WORKING_DAYS, calendar, tz)


def _require_amount(change: TransitionInput, *, allow_zero: bool = False) -> Decimal:
    amount = change.amount
    if amount is None or amount < 0 or (amount == 0 and not allow_zero):
        raise Invalid(
            _("A positive amount is needed."),
            [{"field": "amount", "message": _("Give the amount in yuan, greater than 0.")}],
        )
    return amount


def _on_dispatch(
    actor: Actor, case: Case, change: TransitionInput, now: datetime
) -> dict[str, Any]:
    if not change.unit:
        raise Invalid(
            _("Dispatch needs a unit."),
            [{"field": "unit", "message": _("This field is required.")}],
        )
    codes = [change.unit, *change.assisting_units]
    units = {
        u.code: u
        for u in Unit.objects.filter(district_id=case.district_id, code__in=codes, active=True)
    }
    missing = [c for c in codes if c not in units]
    if missing:
        raise Invalid(
            _("Unknown unit."),
            [
                {"field": "unit", "message": _("Unknown unit %(code)s.") % {"code": c}}
                for c in missing
            ],
        )
    previous = case.responsible_unit.code if case.responsible_unit else None
    slip = _issue_slip(
        case,
        unit=units[change.unit],
        assisting=[units[c] for c in change.assisting_units if c != change.unit],
        actor_id=actor.user_id,
        now=now,
    )
    return {
        "unit": change.unit,
        "previous_unit": previous,
        "assisting": list(change.assisting_units),
        "slip": slip.number,
    }


def _on_accept(actor: Actor, case: Case, change: TransitionInput, now: datetime) -> dict[str, Any]:
    case.accepted_at = now
    case.commitment_letter_number = f"CN-{case.number}"
    return {"commitment_letter": case.commitment_letter_number}


def _on_resolve(actor: Actor, case: Case, change: TransitionInput, now: datetime) -> dict[str, Any]:
    amount = _require_amount(change, allow_zero=True)
    case.amount_paid = amount
    return {"amount_paid": str(amount)}


def _on_confirm_facts(
    actor: Actor, case: Case, change: TransitionInput, now: datetime
) -> dict[str, Any]:
    amount = _require_amount(change) if change.amount is not None else case.amount_owed
    case.confirmed_amount = amount
    case.facts_confirmed_at = now
    return {"confirmed_amount": str(amount)}


def _on_advance(actor: Actor, case: Case, change: TransitionInput, now: datetime) -> dict[str, Any]:
    amount = _require_amount(change)
    clock = Clock.objects.filter(case=case, kind=Clock.Kind.ADVANCE).order_by("-id").first()
    passed = clock is not None and clock.due_at < now
    refusal = advance_refusal(
        clock_passed=passed,
        is_command=actor.is_command,
        override=change.override,
        reason=change.reason,
    )
    if refusal == AdvanceRefusal.NOT_COMMAND:
        raise Forbidden(_("Only joint command staff may advance wages from the petition account."))
    if refusal == AdvanceRefusal.NEEDS_OVERRIDE:
        raise Conflict(_("The advance-payment clock has not passed yet; an override is needed."))
    if refusal == AdvanceRefusal.NEEDS_REASON:
        raise Conflict(_("An early advance payment needs a reason."))
    limit = case.confirmed_amount or case.amount_owed
    already = _fund_total(case, FundEntry.Kind.ADVANCE)
    if already + amount > limit:
        raise Invalid(
            _("The advance exceeds the confirmed amount."),
            [
                {
                    "field": "amount",
                    "message": _("At most %(amount)s yuan may be advanced.")
                    % {"amount": limit - already},
                }
            ],
        )
    if case.responsible_unit_id is None:
        raise Conflict(_("The case has no responsible unit to charge the advance to."))
    entry = fund_move(
        district_id=case.district_id,
        kind=FundEntry.Kind.ADVANCE,
        amount=amount,
        unit_id=case.responsible_unit_id,
        case=case,
        actor=actor,
        note=change.reason,
        now=now,
    )
    UnitPenalty.objects.create(
        unit_id=case.responsible_unit_id,
        case=case,
        points=ADVANCE_PENALTY_POINTS,
        reason="advance from the petition special account",
        at=now,
    )
    return {
        "amount": str(amount),
        "override": bool(change.override and not passed),
        "balance_after": str(entry.balance_after),
        "penalty_points": str(ADVANCE_PENALTY_POINTS),
    }


def _on_recovery(
    actor: Actor, case: Case, change: TransitionInput, now: datetime
) -> dict[str, Any]:
    amount = _require_amount(change)
    outstanding = _fund_total(case, FundEntry.Kind.ADVANCE) - _fund_total(
        case, FundEntry.Kind.RECOVERY
    )
    if amount > outstanding:
        raise Invalid(
            _("The recovery exceeds what is outstanding."),
            [
                {
                    "field": "amount",
                    "message": _("At most %(amount)s yuan is outstanding.")
                    % {"amount": outstanding},
                }
            ],
        )
    entry = fund_move(
        district_id=case.district_id,
        kind=FundEntry.Kind.RECOVERY,
        amount=amount,
        unit_id=case.responsible_unit_id,
        case=case,
        actor=actor,
        note=change.reason,
        now=now,
    )
    return {
        "amount": str(amount),
        "outstanding": str(outstanding - amount),
        "balance_after": str(entry.balance_after),
    }


def _on_close(actor: Actor, case: Case, change: TransitionInput, now: datetime) -> dict[str, Any]:
    if case.state == CaseState.RECOVERING:
        outstanding = _fund_total(case, FundEntry.Kind.ADVANCE) - _fund_total(
            case, FundEntry.Kind.RECOVERY
        )
        if outstanding > 0:
            raise Conflict(
                _("%(amount)s yuan advanced is not recovered yet.") % {"amount": outstanding}
            )
    return {}


def _on_merge(actor: Actor, case: Case, change: TransitionInput, now: datetime) -> dict[str, Any]:
    target = visible_cases(actor).filter(number=change.into).first() if change.into else None
    if target is None or target.pk == case.pk:
        raise Invalid(
            _("Merge needs another open case."),
            [{"field": "into", "message": _("Unknown case.")}],
        )
    if not target.is_open:
        raise Conflict(_("Case %(number)s is not open.") % {"number": target.number})
    case.merged_into = target
    Report.objects.filter(case=case).update(case=target)
    event_record(
        at=now,
        district=case.district_id,
        case=target,
        kind="case.report_merged",
        actor=actor,
        reason=change.reason,
        before=target.state,
        after=target.state,
        data={"from_case": case.number},
    )
    return {"into": target.number}


_ACTION_HANDLERS: dict[
    Action, Callable[[Actor, Case, TransitionInput, datetime], dict[str, Any]]
] = {
    Action.DISPATCH: _on_dispatch,
    Action.ACCEPT: _on_accept,
    Action.RESOLVE: _on_resolve,
    Action.CONFIRM_FACTS: _on_confirm_facts,
    Action.ADVANCE_PAYMENT: _on_advance,
    Action.RECORD_RECOVERY: _on_recovery,
    Action.CLOSE: _on_close,
    Action.MERGE: _on_merge,
}


def cases_bulk_transition(
    *, actor: Actor, case_numbers: list[str], change: TransitionInput
) -> dict[str, str | None]:
    """Apply one action to many cases (bulk dispatch, bulk reassignment), each on its own.

    Returns, per case number, None when done or the reason it was refused.
    """
    outcome: dict[str, str | None] = {}
    for number in case_numbers:
        try:
            case_transition(actor=actor, case_number=number, change=change)
            outcome[number] = None
        except (Conflict, Forbidden, Invalid, NotFound) as exc:
            outcome[number] = exc.detail
    return outcome


# --- clocks ---


def clocks_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark passed clocks overdue and write an event for each; returns how many.

    Reads only running clocks that are due (a partial index), so its cost follows the clocks
    due, not the cases. The conditional UPDATE makes concurrent sweepers safe: each clock is
    claimed by exactly one of them.
    """
    now = now or timezone.now()
    marked = 0
    while True:
        due = list(
            Clock.objects.filter(status=Clock.Status.RUNNING, due_at__lt=now)
            .select_related("case")
            .order_by("due_at")[:batch]
        )
        if not due:
            return marked
        for clock in due:
            with transaction.atomic():
                claimed = Clock.objects.filter(pk=clock.pk, status=Clock.Status.RUNNING).update(
                    status=Clock.Status.OVERDUE, overdue_at=now
                )
                if not claimed:
                    continue
                event_record(
                    at=now,
                    district=clock.case.district_id,
                    case=clock.case,
                    kind="clock.overdue",
                    actor=None,
                    before=clock.case.state,
                    after=clock.case.state,
                    data={"clock": clock.kind, "due_at": clock.due_at.isoformat()},
                )
                marked += 1
        if len(due) < batch:
            return marked


# --- petition special account ---


def _fund_total(case: Case, kind: str) -> Decimal:
    total = FundEntry.objects.filter(case=case, kind=kind).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0")


def fund_move(
    *,
    district_id: int,
    kind: str,
    amount: Decimal,
    unit_id: int | None = None,
    case: Case | None = None,
    actor: Actor | None = None,
    note: str = "",
    now: datetime | None = None,
) -> FundEntry:
    """Move money in or out of the petition special account and write its ledger line.

    An advance is refused (`Conflict`) when the balance is short; the check and the debit are
    one conditional UPDATE, so concurrent advances cannot overdraw the account.
    """
    if amount <= 0:
        raise Invalid(_("Amounts must be positive."))
    with transaction.atomic():
        account = FundAccount.objects.filter(district_id=district_id).first()
        if account is None:
            raise Conflict(_("This district has no petition special account."))
        rows = FundAccount.objects.filter(pk=account.pk)
        if kind == FundEntry.Kind.ADVANCE:
            moved = rows.filter(balance__gte=amount).update(balance=F("balance") - amount)
            if not moved:
                raise Conflict(
                    _("The petition special account balance is too low for this advance.")
                )
        else:
            rows.update(balance=F("balance") + amount)
        account.refresh_from_db(fields=["balance"])
        entry = FundEntry.objects.create(
            account=account,
            kind=kind,
            amount=amount,
            unit_id=unit_id,
            case=case,
            balance_after=account.balance,
            actor_id=actor.user_id if actor else None,
            note=note,
            at=now or timezone.now(),
        )
        event_record(
            at=now,
            district=district_id,
            case=case,
            kind=f"fund.{kind}",
            actor=actor,
            data={"amount": str(amount), "balance_after": str(account.balance), "entry": entry.pk},
        )
        return entry


def fund_balance_by_unit(district_id: int) -> list[dict[str, Any]]:
    """Per unit: advanced, recovered and still outstanding."""
    rows = (
        FundEntry.objects.filter(account__district_id=district_id, unit__isnull=False)
        .values("unit__code")
        .annotate(
            advanced=Sum("amount", filter=Q(kind=FundEntry.Kind.ADVANCE), default=Decimal("0")),
            recovered=Sum("amount", filter=Q(kind=FundEntry.Kind.RECOVERY), default=Decimal("0")),
        )
        .order_by("unit__code")
    )
    return [
        {
            "unit": r["unit__code"],
            "advanced": r["advanced"],
            "recovered": r["recovered"],
            "outstanding": r["advanced"] - r["recovered"],
        }
        for r in rows
    ]


# --- blacklist ---


def blacklist_add(
    *,
    actor: Actor,
    reason: str,
    credit_code: str | None = None,
    person_name: str = "",
    person_id_number: str = "",
    case_numbers: list[str] | None = None,
    now: datetime | None = None,
) -> BlacklistEntry:
    """Put an employer or a responsible person on the blacklist (command staff, inspectors)."""
    if not actor.roles & {"command", "inspector"}:
        raise Forbidden(_("Only command staff and labour inspectors may blacklist."))
    _require_reason(reason)
    if not credit_code and not person_name.strip():
        raise Invalid(
            _("Name an employer or a person."),
            [{"field": "credit_code", "message": _("This field is required.")}],
        )
    now = now or timezone.now()
    with transaction.atomic():
        enterprise = None
        if credit_code:
            enterprise = Enterprise.objects.filter(
                district_id=actor.district_id, credit_code=credit_code
            ).first()
            if enterprise is None:
                raise Invalid(
                    _("Unknown employer."),
                    [{"field": "credit_code", "message": _("Unknown employer.")}],
                )
        cases = list(visible_cases(actor).filter(number__in=case_numbers or []))
        unknown = set(case_numbers or []) - {c.number for c in cases}
        if unknown:
            raise Invalid(
                _("Unknown cases."),
                [
                    {"field": "case_numbers", "message": _("No case %(number)s.") % {"number": n}}
                    for n in sorted(unknown)
                ],
            )
        entry = BlacklistEntry.objects.create(
            district_id=actor.district_id,
            enterprise=enterprise,
            person_name=person_name.strip(),
            person_id_number=person_id_number,
            reason=reason,
            listed_by_id=actor.user_id,
            listed_at=now,
        )
        entry.cases.set(cases)
        event_record(
            at=now,
            district=actor.district_id,
            kind="blacklist.listed",
            actor=actor,
            reason=reason,
            after=entry.status,
            data={
                "entry": entry.pk,
                "credit_code": credit_code,
                "person": person_name,
                "cases": [c.number for c in cases],
            },
        )
        return entry


def _blacklist_entry(actor: Actor, entry_id: int) -> BlacklistEntry:
    entry = (
        BlacklistEntry.objects.select_for_update()
        .filter(pk=entry_id, district_id=actor.district_id)
        .first()
    )
    if entry is None:
        raise NotFound(_("No blacklist entry %(id)s.") % {"id": entry_id})
    return entry


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise Invalid(
            _("A reason is required."),
            [{"field": "reason", "message": _("This field is required.")}],
        )


def _blacklist_move(
    actor: Actor, entry: BlacklistEntry, status: BlacklistEntry.Status, reason: str
) -> BlacklistEntry:
    """Save `entry` in its new status and write the event (inside the caller's transaction)."""
    before = entry.status
    entry.status = status
    entry.save()
    event_record(
        district=actor.district_id,
        kind=f"blacklist.{status.value}",
        actor=actor,
        reason=reason,
        before=before,
        after=status,
        data={"entry": entry.pk},
    )
    return entry


def blacklist_appeal(*, actor: Actor, entry_id: int, reason: str) -> BlacklistEntry:
    """Record an appeal against a listing (the entry stays in force meanwhile)."""
    if not actor.roles & {"command", "inspector", "clerk"}:
        raise Forbidden(_("Your role may not record appeals."))
    _require_reason(reason)
    with transaction.atomic():
        entry = _blacklist_entry(actor, entry_id)
        if entry.status != BlacklistEntry.Status.LISTED:
            raise Conflict(_("Only a listed entry can be appealed."))
        entry.appeal_reason = reason
        entry.appealed_at = timezone.now()
        return _blacklist_move(actor, entry, BlacklistEntry.Status.APPEALED, reason)


def blacklist_remove(*, actor: Actor, entry_id: int, reason: str) -> BlacklistEntry:
    """Take an entry off the blacklist: command staff only, and never the person who listed it."""
    if not actor.is_command:
        raise Forbidden(_("Only joint command staff may remove a blacklist entry."))
    _require_reason(reason)
    with transaction.atomic():
        entry = _blacklist_entry(actor, entry_id)
        if entry.status == BlacklistEntry.Status.REMOVED:
            raise Conflict(_("The entry is already removed."))
        if entry.listed_by_id == actor.user_id:
            raise Forbidden(_("Removal needs a different person from the one who listed it."))
        entry.removed_by_id = actor.user_id
        entry.removed_at = timezone.now()
        entry.removal_reason = reason
        return _blacklist_move(actor, entry, BlacklistEntry.Status.REMOVED, reason)


# --- integrations ---


def token_issue(*, user_id: int, name: str = "") -> str:
    """Create a bearer token for a user and return it; only its hash is kept."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user_id=user_id,
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        prefix=key[:8],
        name=name,
    )
    return key


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    *, user_id: int, key: str | None, fingerprint: str, run: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """Run `run` once per (user, key): a retry with the same key gets the first answer.

    `run` returns (status, body) and is executed in the same transaction as the record, so
    either both are stored or neither. The same key with a different body is refused.
    """
    if not key:
        return run()
    if len(key) > 200:
        raise Invalid(_("Idempotency-Key is too long (at most 200 characters)."))
    previous = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
    if previous is None:
        try:
            with transaction.atomic():
                status, body = run()
                IdempotencyRecord.objects.create(
                    user_id=user_id, key=key, request_hash=fingerprint, status=status, body=body
                )
                return status, body
        except IntegrityError:
            # Another request with the same key committed first: answer as it did.
            previous = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
            if previous is None:
                raise
    if previous.request_hash != fingerprint:
        raise Invalid(_("This Idempotency-Key was used with a different request."))
    return previous.status, previous.body


def idempotency_purge(*, now: datetime | None = None) -> int:
    """Forget idempotency answers older than `IDEMPOTENCY_KEY_TTL_HOURS`; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
