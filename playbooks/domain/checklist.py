"""A running checklist's rules: step states, who may move them, and when a step is late."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class StepState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"


FINISHED = frozenset({StepState.DONE, StepState.SKIPPED})

# Which state may follow which. A finished step may be reopened (by command staff, see
# `may_move`); skipping always needs a reason.
MOVES: dict[StepState, frozenset[StepState]] = {
    StepState.OPEN: frozenset({StepState.IN_PROGRESS, StepState.DONE, StepState.SKIPPED}),
    StepState.IN_PROGRESS: frozenset({StepState.OPEN, StepState.DONE, StepState.SKIPPED}),
    StepState.DONE: frozenset({StepState.OPEN}),
    StepState.SKIPPED: frozenset({StepState.OPEN}),
}
REASON_REQUIRED = frozenset({StepState.SKIPPED})


class IllegalStepMove(ValueError):
    def __init__(self, current: StepState, wanted: StepState) -> None:
        super().__init__(f"a step that is {current.value} cannot become {wanted.value}")
        self.current, self.wanted = current, wanted


def next_state(current: StepState, wanted: StepState) -> StepState:
    """`wanted` if a step in `current` may move there, else `IllegalStepMove`."""
    if wanted not in MOVES[current]:
        raise IllegalStepMove(current, wanted)
    return wanted


def may_move(
    *, owner: str, actor_unit: str | None, is_command: bool, current: StepState, wanted: StepState
) -> bool:
    """Only the owning unit or command staff move a step; only command staff reopen one
    that is finished, and only they act on the steps the joint command owns."""
    if is_command:
        return True
    if current in FINISHED:
        return False
    return actor_unit is not None and actor_unit == owner


def is_late(state: StepState, due_at: datetime, now: datetime) -> bool:
    """A step is late once its due time has passed and it is not finished."""
    return state not in FINISHED and now > due_at


def progress(states: list[StepState], required: list[bool]) -> tuple[int, int]:
    """(finished required steps, required steps): what a progress bar shows."""
    total = sum(required)
    finished = sum(1 for s, r in zip(states, required, strict=True) if r and s in FINISHED)
    return finished, total
