"""The case lifecycle: one transition table is the whole state machine.

`TRANSITIONS[(state, action)] -> state` is the specification of DESIGN.md section 5 (the
closed loop of the seed). `facts_confirmed` is a named stop between the joint meeting and the
advance payment: it is the state in which the 5-working-day clock runs. Who may take an
action is in `ACTION_ROLES`; unit scope (a liaison acts on its own unit's cases) is decided
by the permission policy, not here.
"""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    INSPECTION = "inspection"
    SECTOR_REVIEW = "sector_review"
    JOINT_MEETING = "joint_meeting"
    FACTS_CONFIRMED = "facts_confirmed"
    ADVANCED = "advanced"
    RECOVERING = "recovering"
    MERGED = "merged"
    REFERRED_POLICE = "referred_police"
    REJECTED = "rejected"


class Action(StrEnum):
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RESOLVE = "resolve"
    CLOSE = "close"
    ESCALATE_INSPECTION = "escalate_inspection"
    REFER_SECTOR = "refer_sector"
    CONVENE_JOINT_MEETING = "convene_joint_meeting"
    CONFIRM_FACTS = "confirm_facts"
    ADVANCE_PAYMENT = "advance_payment"
    RECORD_RECOVERY = "record_recovery"
    REFER_POLICE = "refer_police"
    REJECT = "reject"
    MERGE = "merge"


class Role(StrEnum):
    """Roles are Django groups of the same name."""

    COMMAND = "command"
    CLERK = "clerk"
    LIAISON = "liaison"
    INSPECTOR = "inspector"
    REVIEWER = "reviewer"
    INTEGRATION = "integration"


S = CaseState
A = Action

TRANSITIONS: dict[tuple[CaseState, Action], CaseState] = {
    (S.REGISTERED, A.DISPATCH): S.DISPATCHED,
    (S.REGISTERED, A.REJECT): S.REJECTED,
    (S.REGISTERED, A.MERGE): S.MERGED,
    # Re-dispatch is a reassignment: a new slip to another unit.
    (S.DISPATCHED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, A.REJECT): S.REJECTED,
    (S.DISPATCHED, A.MERGE): S.MERGED,
    (S.ACCEPTED, A.RESOLVE): S.RESOLVED,
    (S.ACCEPTED, A.ESCALATE_INSPECTION): S.INSPECTION,
    (S.ACCEPTED, A.REFER_POLICE): S.REFERRED_POLICE,
    (S.INSPECTION, A.RESOLVE): S.RESOLVED,
    (S.INSPECTION, A.REFER_SECTOR): S.SECTOR_REVIEW,
    (S.INSPECTION, A.CONVENE_JOINT_MEETING): S.JOINT_MEETING,
    (S.INSPECTION, A.REFER_POLICE): S.REFERRED_POLICE,
    (S.SECTOR_REVIEW, A.RESOLVE): S.RESOLVED,
    (S.SECTOR_REVIEW, A.CONVENE_JOINT_MEETING): S.JOINT_MEETING,
    (S.SECTOR_REVIEW, A.REFER_POLICE): S.REFERRED_POLICE,
    (S.JOINT_MEETING, A.RESOLVE): S.RESOLVED,
    (S.JOINT_MEETING, A.CONFIRM_FACTS): S.FACTS_CONFIRMED,
    (S.JOINT_MEETING, A.REFER_POLICE): S.REFERRED_POLICE,
    (S.FACTS_CONFIRMED, A.RESOLVE): S.RESOLVED,
    (S.FACTS_CONFIRMED, A.ADVANCE_PAYMENT): S.ADVANCED,
    (S.FACTS_CONFIRMED, A.REFER_POLICE): S.REFERRED_POLICE,
    (S.ADVANCED, A.RECORD_RECOVERY): S.RECOVERING,
    (S.RECOVERING, A.RECORD_RECOVERY): S.RECOVERING,
    (S.RECOVERING, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    (S.REFERRED_POLICE, A.CLOSE): S.CLOSED,
}

TERMINAL_STATES = frozenset({S.CLOSED, S.MERGED, S.REJECTED})
# Once a case reaches one of these it never returns to an open state (resolved leads only to
# closed): the first time it does is when it finished, for the statistics.
FINISHED_STATES = TERMINAL_STATES | {S.RESOLVED}
# A case is "open" (reports merge into it, clocks may run) until it reaches one of these.
OPEN_STATES = frozenset(set(CaseState) - TERMINAL_STATES)

ACTION_ROLES: dict[Action, frozenset[Role]] = {
    A.DISPATCH: frozenset({Role.COMMAND, Role.CLERK}),
    A.ACCEPT: frozenset({Role.COMMAND, Role.LIAISON}),
    A.RESOLVE: frozenset({Role.COMMAND, Role.LIAISON, Role.INSPECTOR}),
    A.CLOSE: frozenset({Role.COMMAND, Role.CLERK}),
    A.ESCALATE_INSPECTION: frozenset({Role.COMMAND, Role.LIAISON}),
    A.REFER_SECTOR: frozenset({Role.COMMAND, Role.INSPECTOR}),
    A.CONVENE_JOINT_MEETING: frozenset({Role.COMMAND, Role.INSPECTOR}),
    A.CONFIRM_FACTS: frozenset({Role.COMMAND}),
    A.ADVANCE_PAYMENT: frozenset({Role.COMMAND}),
    A.RECORD_RECOVERY: frozenset({Role.COMMAND, Role.LIAISON}),
    A.REFER_POLICE: frozenset({Role.COMMAND, Role.INSPECTOR}),
    A.REJECT: frozenset({Role.COMMAND, Role.CLERK}),
    A.MERGE: frozenset({Role.COMMAND, Role.CLERK}),
}


class IllegalTransition(Exception):
    """The action is not allowed from the case's current state."""

    def __init__(self, state: CaseState, action: Action) -> None:
        self.state = state
        self.action = action
        super().__init__(f"Action {action.value!r} is not allowed in state {state.value!r}.")


def next_state(state: CaseState, action: Action) -> CaseState:
    """The state `action` leads to from `state`, or `IllegalTransition`."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None


def allowed_actions(state: CaseState) -> list[Action]:
    """Actions the table allows from `state`, in declaration order."""
    return [action for (from_state, action) in TRANSITIONS if from_state == state]


def role_may(roles: frozenset[Role] | set[Role], action: Action) -> bool:
    """True when one of `roles` may take `action` (unit scope is checked elsewhere)."""
    return bool(ACTION_ROLES[action] & set(roles))


# --- clocks ---------------------------------------------------------------------------------
# Which clock an action starts, and what it does to the clocks already running. A clock that
# is running or overdue when its case reaches a terminal state is cancelled.

CLOCK_STARTED_BY: dict[Action, str] = {
    A.ACCEPT: "commitment",
    A.CONFIRM_FACTS: "advance",
}

CLOCKS_STOPPED_BY: dict[Action, dict[str, str]] = {
    A.DISPATCH: {"dispatch": "met"},
    A.RESOLVE: {"commitment": "met", "advance": "cancelled"},
    A.ADVANCE_PAYMENT: {"commitment": "met", "advance": "met"},
    A.REFER_POLICE: {"commitment": "cancelled", "advance": "cancelled"},
}

# Actions that must say why.
REASON_REQUIRED = frozenset(
    {A.REJECT, A.REFER_POLICE, A.ESCALATE_INSPECTION, A.REFER_SECTOR, A.MERGE}
)


class AdvanceRefusal(StrEnum):
    """Why the petition account may not pay now (the service words it for people)."""

    NOT_COMMAND = "not_command"
    NEEDS_OVERRIDE = "needs_override"
    NEEDS_REASON = "needs_reason"


def advance_refusal(
    *, clock_passed: bool, is_command: bool, override: bool, reason: str
) -> AdvanceRefusal | None:
    """Why an advance payment may not be made now, or None when it may.

    The fund pays once the 5-working-day clock has passed; earlier only command staff may
    pay, with an explicit override and a reason (both recorded).
    """
    if not is_command:
        return AdvanceRefusal.NOT_COMMAND
    if clock_passed:
        return None
    if not override:
        return AdvanceRefusal.NEEDS_OVERRIDE
    if not reason.strip():
        return AdvanceRefusal.NEEDS_REASON
    return None
