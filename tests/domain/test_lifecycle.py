"""The case state machine: the transition table, who may act, and the advance-payment rule."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from incidents.domain.lifecycle import (
    ACTION_ROLES,
    CLOCK_STARTED_BY,
    CLOCKS_STOPPED_BY,
    OPEN_STATES,
    REASON_REQUIRED,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    CaseState,
    IllegalTransition,
    Role,
    advance_refusal,
    allowed_actions,
    next_state,
    role_may,
)

S = CaseState
A = Action

ALL_PAIRS = list(itertools.product(CaseState, Action))
ALLOWED_PAIRS = [pair for pair in ALL_PAIRS if pair in TRANSITIONS]
REFUSED_PAIRS = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def reachable_from(start: CaseState) -> set[CaseState]:
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for action in allowed_actions(state):
            target = next_state(state, action)
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def pair_id(pair: tuple[CaseState, Action]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


# The closed loop of DESIGN.md section 5, written out independently of the table.
EXPECTED_TRANSITIONS = {
    (S.REGISTERED, A.DISPATCH): S.DISPATCHED,
    (S.REGISTERED, A.REJECT): S.REJECTED,
    (S.REGISTERED, A.MERGE): S.MERGED,
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


# --- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=pair_id)
def test_allowed_action_leads_to_the_state_in_the_table(pair: tuple[CaseState, Action]) -> None:
    state, action = pair
    assert next_state(state, action) == TRANSITIONS[pair]


@pytest.mark.parametrize("pair", REFUSED_PAIRS, ids=pair_id)
def test_action_not_in_the_table_raises_illegal_transition(pair: tuple[CaseState, Action]) -> None:
    state, action = pair
    with pytest.raises(IllegalTransition) as excinfo:
        next_state(state, action)
    assert excinfo.value.state == state
    assert excinfo.value.action == action
    assert repr(action.value) in str(excinfo.value)
    assert repr(state.value) in str(excinfo.value)


def test_table_is_the_closed_loop_of_the_design() -> None:
    assert EXPECTED_TRANSITIONS == TRANSITIONS


def test_every_pair_is_either_allowed_or_refused() -> None:
    assert len(ALLOWED_PAIRS) + len(REFUSED_PAIRS) == len(CaseState) * len(Action)
    assert len(ALLOWED_PAIRS) == len(TRANSITIONS)


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES), ids=str)
def test_terminal_state_allows_no_action(state: CaseState) -> None:
    assert allowed_actions(state) == []
    for action in Action:
        with pytest.raises(IllegalTransition):
            next_state(state, action)


def test_terminal_states_are_closed_merged_and_rejected() -> None:
    assert {S.CLOSED, S.MERGED, S.REJECTED} == TERMINAL_STATES
    assert set(CaseState) - TERMINAL_STATES == OPEN_STATES


@pytest.mark.parametrize("state", sorted(OPEN_STATES), ids=str)
def test_open_state_allows_some_action(state: CaseState) -> None:
    assert allowed_actions(state)


@pytest.mark.parametrize("state", sorted(OPEN_STATES), ids=str)
def test_every_open_state_can_reach_closed(state: CaseState) -> None:
    assert S.CLOSED in reachable_from(state)


@pytest.mark.parametrize("state", sorted(OPEN_STATES), ids=str)
def test_every_path_from_an_open_state_ends_in_a_terminal_state(state: CaseState) -> None:
    # From every state reachable from `state`, a terminal state is still reachable: no
    # dead end and no cycle without an exit.
    for middle in reachable_from(state):
        assert reachable_from(middle) & TERMINAL_STATES, middle


def test_every_state_is_reachable_from_registered() -> None:
    assert reachable_from(S.REGISTERED) == set(CaseState)


def test_every_action_appears_in_the_table() -> None:
    assert {action for (_, action) in TRANSITIONS} == set(Action)


def test_only_redispatch_and_repeated_recovery_stay_in_place() -> None:
    loops = {pair for pair, target in TRANSITIONS.items() if pair[0] == target}
    assert loops == {(S.DISPATCHED, A.DISPATCH), (S.RECOVERING, A.RECORD_RECOVERY)}


# --- allowed_actions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        (S.REGISTERED, [A.DISPATCH, A.REJECT, A.MERGE]),
        (S.DISPATCHED, [A.DISPATCH, A.ACCEPT, A.REJECT, A.MERGE]),
        (S.ACCEPTED, [A.RESOLVE, A.ESCALATE_INSPECTION, A.REFER_POLICE]),
        (S.INSPECTION, [A.RESOLVE, A.REFER_SECTOR, A.CONVENE_JOINT_MEETING, A.REFER_POLICE]),
        (S.SECTOR_REVIEW, [A.RESOLVE, A.CONVENE_JOINT_MEETING, A.REFER_POLICE]),
        (S.JOINT_MEETING, [A.RESOLVE, A.CONFIRM_FACTS, A.REFER_POLICE]),
        (S.FACTS_CONFIRMED, [A.RESOLVE, A.ADVANCE_PAYMENT, A.REFER_POLICE]),
        (S.ADVANCED, [A.RECORD_RECOVERY]),
        (S.RECOVERING, [A.RECORD_RECOVERY, A.CLOSE]),
        (S.RESOLVED, [A.CLOSE]),
        (S.REFERRED_POLICE, [A.CLOSE]),
        (S.CLOSED, []),
        (S.MERGED, []),
        (S.REJECTED, []),
    ],
    ids=lambda v: v.value if isinstance(v, CaseState) else None,
)
def test_allowed_actions_lists_the_table_in_declaration_order(
    state: CaseState, actions: list[Action]
) -> None:
    assert allowed_actions(state) == actions


def test_allowed_actions_agrees_with_next_state() -> None:
    for state, action in ALL_PAIRS:
        assert (action in allowed_actions(state)) == ((state, action) in TRANSITIONS)


# --- roles ----------------------------------------------------------------------------------------


def test_every_action_names_its_roles() -> None:
    assert set(ACTION_ROLES) == set(Action)
    assert all(ACTION_ROLES.values())


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_command_may_take_every_action(action: Action) -> None:
    assert role_may({Role.COMMAND}, action)


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_reviewer_and_integration_may_take_no_action(action: Action) -> None:
    assert not role_may({Role.REVIEWER}, action)
    assert not role_may({Role.INTEGRATION}, action)
    assert not role_may(frozenset(), action)


@pytest.mark.parametrize(
    ("role", "action", "may"),
    [
        (Role.CLERK, A.DISPATCH, True),
        (Role.CLERK, A.REJECT, True),
        (Role.CLERK, A.MERGE, True),
        (Role.CLERK, A.CLOSE, True),
        (Role.CLERK, A.ACCEPT, False),
        (Role.CLERK, A.ADVANCE_PAYMENT, False),
        (Role.LIAISON, A.ACCEPT, True),
        (Role.LIAISON, A.RESOLVE, True),
        (Role.LIAISON, A.ESCALATE_INSPECTION, True),
        (Role.LIAISON, A.RECORD_RECOVERY, True),
        (Role.LIAISON, A.DISPATCH, False),
        (Role.LIAISON, A.CONFIRM_FACTS, False),
        (Role.LIAISON, A.ADVANCE_PAYMENT, False),
        (Role.INSPECTOR, A.REFER_SECTOR, True),
        (Role.INSPECTOR, A.CONVENE_JOINT_MEETING, True),
        (Role.INSPECTOR, A.REFER_POLICE, True),
        (Role.INSPECTOR, A.RESOLVE, True),
        (Role.INSPECTOR, A.CONFIRM_FACTS, False),
        (Role.INSPECTOR, A.ADVANCE_PAYMENT, False),
        (Role.INSPECTOR, A.DISPATCH, False),
    ],
)
def test_role_may_follows_action_roles(role: Role, action: Action, may: bool) -> None:
    assert role_may({role}, action) is may
    assert role_may(frozenset({role}), action) is may


def test_only_command_may_confirm_facts_or_advance_wages() -> None:
    assert ACTION_ROLES[A.CONFIRM_FACTS] == {Role.COMMAND}
    assert ACTION_ROLES[A.ADVANCE_PAYMENT] == {Role.COMMAND}


def test_one_permitted_role_among_several_is_enough() -> None:
    assert role_may({Role.REVIEWER, Role.LIAISON}, A.ACCEPT)
    assert not role_may({Role.REVIEWER, Role.CLERK}, A.ACCEPT)


# --- clocks and reasons ---------------------------------------------------------------------------


def test_accept_starts_the_commitment_clock_and_confirm_facts_the_advance_clock() -> None:
    assert CLOCK_STARTED_BY == {A.ACCEPT: "commitment", A.CONFIRM_FACTS: "advance"}


@pytest.mark.parametrize(
    ("action", "stops"),
    [
        (A.DISPATCH, {"dispatch": "met"}),
        (A.RESOLVE, {"commitment": "met", "advance": "cancelled"}),
        (A.ADVANCE_PAYMENT, {"commitment": "met", "advance": "met"}),
        (A.REFER_POLICE, {"commitment": "cancelled", "advance": "cancelled"}),
    ],
    ids=str,
)
def test_actions_stop_the_clocks_they_settle(action: Action, stops: dict[str, str]) -> None:
    assert CLOCKS_STOPPED_BY[action] == stops


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_side_exits_and_escalations_need_a_reason(action: Action) -> None:
    needs = {A.REJECT, A.REFER_POLICE, A.ESCALATE_INSPECTION, A.REFER_SECTOR, A.MERGE}
    assert (action in REASON_REQUIRED) is (action in needs)


# --- advance payment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock_passed", "override", "reason"),
    [
        (True, False, ""),
        (True, True, "事实清楚"),
        (False, False, "春节前务必发放"),
        (False, True, ""),
    ],
)
def test_advance_is_refused_to_anyone_but_command(
    clock_passed: bool, override: bool, reason: str
) -> None:
    refusal = advance_refusal(
        clock_passed=clock_passed, is_command=False, override=override, reason=reason
    )
    assert refusal is not None
    assert "command" in refusal


@pytest.mark.parametrize(
    ("override", "reason"),
    [(False, ""), (False, "reason"), (True, "reason"), (True, "")],
)
def test_advance_after_the_clock_passed_needs_no_override(override: bool, reason: str) -> None:
    assert (
        advance_refusal(clock_passed=True, is_command=True, override=override, reason=reason)
        is None
    )


@pytest.mark.parametrize("reason", ["", "事实清楚，春节前垫付"])
def test_advance_before_the_clock_without_override_is_refused(reason: str) -> None:
    refusal = advance_refusal(clock_passed=False, is_command=True, override=False, reason=reason)
    assert refusal is not None
    assert "override" in refusal


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_early_advance_with_override_but_blank_reason_is_refused(reason: str) -> None:
    refusal = advance_refusal(clock_passed=False, is_command=True, override=True, reason=reason)
    assert refusal is not None
    assert "reason" in refusal


def test_early_advance_with_override_and_reason_is_allowed() -> None:
    assert (
        advance_refusal(
            clock_passed=False, is_command=True, override=True, reason="春节前务必发放到位"
        )
        is None
    )
