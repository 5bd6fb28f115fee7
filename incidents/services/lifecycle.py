"""The case lifecycle: one action at a time, through the transition table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.services.risk_facts import risk_facts_changed
from incidents.domain.identifiers import mask_numbers_in, mask_numbers_in_text
from incidents.domain.lifecycle import (
    CLOCK_STARTED_BY,
    CLOCKS_STOPPED_BY,
    FINISHED_STATES,
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
    Case,
    Clock,
    DispatchSlip,
    Event,
    FundEntry,
    Report,
    Unit,
    UnitPenalty,
)
from incidents.policy import Actor, check_action, visible_cases
from incidents.services.clocks import clock_due, clock_start, clocks_stop
from incidents.services.common import ADVANCE_PENALTY_POINTS
from incidents.services.fund import fund_move, fund_outstanding, fund_total


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
    with transaction.atomic():
        case = case_get_for_update(actor, case_number)
        check_action(actor, case, change.action)
        if expected_revision is not None and case.revision != expected_revision:
            raise Conflict(_("The case changed since you loaded it; reload and try again."))
        transition_apply(actor=actor, case=case, change=change, now=now)
        return case


def transition_apply(
    *,
    actor: Actor,
    case: Case,
    change: TransitionInput,
    now: datetime,
    event_kind: str | None = None,
) -> Event:
    """Apply one action to a case already locked in the caller's transaction.

    The state machine, the action's own rules, the clocks and the event are all here; who may
    act is not: `case_transition` checks the person, and intake lets the routing table
    dispatch. `event_kind` defaults to `case.<action>`; the routing table's own dispatch is
    recorded as `case.dispatched`, so the timeline tells it from a person's. Returns the event.
    """
    action = change.action
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
    clocks_stop(case, CLOCKS_STOPPED_BY.get(action, {}), now=now)
    kind = CLOCK_STARTED_BY.get(action)
    if kind is not None:
        clock_start(case, kind, started_at=now, due_at=clock_due(case, kind, now))
    if after in TERMINAL_STATES:
        clocks_stop(case, {k: Clock.Status.CANCELLED for k in Clock.Kind.values}, now=now)
        if after == CaseState.CLOSED:
            case.closed_at = now
        risk_facts_changed(enterprise_ids=[case.employer_id], project_ids=[case.project_id or 0])
    if case.finished_at is None and after in FINISHED_STATES:
        case.finished_at = now
    case.state = after
    case.revision += 1
    case.save()
    return event_record(
        at=now,
        district=case.district_id,
        case=case,
        kind=event_kind or f"case.{action.value}",
        actor=actor,
        # Events fan out to every role in the case's streams: no full number in them.
        reason=mask_numbers_in_text(change.reason),
        before=before,
        after=after,
        data=mask_numbers_in(data),
    )


def _require_amount(change: TransitionInput, *, allow_zero: bool = False) -> Decimal:
    amount = change.amount
    if amount is None or amount < 0 or (amount == 0 and not allow_zero):
        raise Invalid(
            _("A positive amount is needed."),
            [{"field": "amount", "message": _("Give the amount in yuan, greater than 0.")}],
        )
    return amount


def _slip_issue(
    case: Case,
    *,
    unit: Unit,
    assisting: list[Unit],
    actor_id: int | None,
    now: datetime,
) -> DispatchSlip:
    """A new transfer slip (转办单) naming the unit; each re-dispatch issues another."""
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
    slip = _slip_issue(
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
    already = fund_total(case, FundEntry.Kind.ADVANCE)
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
    outstanding = fund_outstanding(case)
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
        outstanding = fund_outstanding(case)
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
