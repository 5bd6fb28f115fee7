"""A running checklist's rules: moves, who may make them, lateness and progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbooks.domain.checklist import (
    FINISHED,
    MOVES,
    IllegalStepMove,
    StepState,
    is_late,
    may_move,
    next_state,
    progress,
)

S = StepState
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (S.OPEN, S.IN_PROGRESS),
        (S.OPEN, S.DONE),
        (S.OPEN, S.SKIPPED),
        (S.IN_PROGRESS, S.DONE),
        (S.IN_PROGRESS, S.OPEN),
        (S.DONE, S.OPEN),
        (S.SKIPPED, S.OPEN),
    ],
)
def test_allowed_moves(current: StepState, wanted: StepState) -> None:
    assert next_state(current, wanted) is wanted


@pytest.mark.parametrize(
    ("current", "wanted"),
    [(S.DONE, S.SKIPPED), (S.SKIPPED, S.DONE), (S.DONE, S.DONE), (S.OPEN, S.OPEN)],
)
def test_refused_moves(current: StepState, wanted: StepState) -> None:
    with pytest.raises(IllegalStepMove):
        next_state(current, wanted)


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_next_state_accepts_exactly_the_table(current: StepState, wanted: StepState) -> None:
    if wanted in MOVES[current]:
        assert next_state(current, wanted) is wanted
    else:
        with pytest.raises(IllegalStepMove):
            next_state(current, wanted)


@pytest.mark.parametrize(
    ("owner", "unit", "command", "current", "allowed"),
    [
        ("police", "police", False, S.OPEN, True),
        ("police", "hrss", False, S.OPEN, False),
        ("police", None, False, S.OPEN, False),
        ("command", "police", False, S.OPEN, False),
        ("command", None, True, S.OPEN, True),
        ("police", "police", False, S.DONE, False),  # reopening is for command staff
        ("police", None, True, S.DONE, True),
    ],
)
def test_only_the_owner_unit_or_command_staff_move_a_step(
    owner: str, unit: str | None, command: bool, current: StepState, allowed: bool
) -> None:
    assert (
        may_move(owner=owner, actor_unit=unit, is_command=command, current=current, wanted=S.OPEN)
        is allowed
    )


@given(st.sampled_from(list(S)), st.integers(-600, 600))
def test_a_step_is_late_only_past_due_and_unfinished(state: StepState, seconds: int) -> None:
    due = NOW + timedelta(seconds=seconds)
    assert is_late(state, due, NOW) == (state not in FINISHED and due < NOW)


def test_progress_counts_finished_required_steps() -> None:
    assert progress([S.DONE, S.SKIPPED, S.OPEN, S.DONE], [True, True, True, False]) == (2, 3)
    assert progress([], []) == (0, 0)
