"""Mass incidents (群体性事件): their level, their status and the moves between statuses.

Pure rules, no Django. The level follows the district's contingency plan: a table of
people-count thresholds, and kinds of incident that raise the level by one (a blocked road
or a threatened extreme act is graver than a gathering of the same size). Level I is the
gravest, IV the least.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    SITE_GATHERING = "site_gathering"
    GATE_GATHERING = "gate_gathering"
    ROAD_BLOCKING = "road_blocking"
    EXTREME_ACT = "extreme_act"


class Level(StrEnum):
    I = "I"  # noqa: E741  (the plan's own numbering)
    II = "II"
    III = "III"
    IV = "IV"


# From the least grave to the gravest.
LEVELS_ASCENDING = (Level.IV, Level.III, Level.II, Level.I)
# Incidents the province's command watches live: level II (重大) and above.
PROVINCE_LEVELS = frozenset({Level.I, Level.II})


def seen_by_province(level: str, level_before: str | None = None) -> bool:
    """Whether an incident's event reaches the province's stream: the incident is of level
    II or above, or the event is the one that lowered it from there (so that the province's
    screens learn it left their watch)."""
    return level in PROVINCE_LEVELS or (level_before or "") in PROVINCE_LEVELS


class Status(StrEnum):
    REPORTED = "reported"
    ACTIVE = "active"
    CONTAINED = "contained"
    CLOSED = "closed"


class Action(StrEnum):
    ACTIVATE = "activate"
    CONTAIN = "contain"
    CLOSE = "close"
    SET_LEVEL = "set_level"
    UPDATE = "update"
    LINK_CASES = "link_cases"
    TAKE_COMMAND = "take_command"


# Moves between statuses; actions absent here do not change the status.
STATUS_MOVES: dict[tuple[Status, Action], Status] = {
    (Status.REPORTED, Action.ACTIVATE): Status.ACTIVE,
    (Status.CONTAINED, Action.ACTIVATE): Status.ACTIVE,  # flared up again
    (Status.ACTIVE, Action.CONTAIN): Status.CONTAINED,
    (Status.REPORTED, Action.CLOSE): Status.CLOSED,  # false alarm, dispersed before response
    (Status.ACTIVE, Action.CLOSE): Status.CLOSED,
    (Status.CONTAINED, Action.CLOSE): Status.CLOSED,
}
OPEN_STATUSES = frozenset({Status.REPORTED, Status.ACTIVE, Status.CONTAINED})
# Actions that need a written reason: they end or override something.
REASON_REQUIRED = frozenset({Action.CLOSE, Action.SET_LEVEL})


class IllegalIncidentMove(ValueError):
    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"{action.value} is not allowed while the incident is {status.value}")
        self.status = status
        self.action = action


def next_status(status: Status, action: Action) -> Status:
    """The status after `action`; unchanged for the side actions that do not move it.

    A closed incident takes no action at all; a status move not in the table is refused.
    """
    if status is Status.CLOSED:
        raise IllegalIncidentMove(status, action)
    if (status, action) in STATUS_MOVES:
        return STATUS_MOVES[(status, action)]
    if action in {Action.ACTIVATE, Action.CONTAIN, Action.CLOSE}:
        raise IllegalIncidentMove(status, action)
    return status


def allowed_actions(status: Status) -> list[Action]:
    if status is Status.CLOSED:
        return []
    moves = [a for (s, a) in STATUS_MOVES if s is status]
    return [*moves, Action.SET_LEVEL, Action.UPDATE, Action.LINK_CASES, Action.TAKE_COMMAND]


@dataclass(frozen=True)
class LevelTable:
    """People-count thresholds for levels III, II and I, and the kinds that raise a level.

    Below `min_iii` people an incident is level IV.
    """

    min_iii: int = 30
    min_ii: int = 100
    min_i: int = 300
    raising_kinds: frozenset[Kind] = field(
        default_factory=lambda: frozenset({Kind.ROAD_BLOCKING, Kind.EXTREME_ACT})
    )

    def __post_init__(self) -> None:
        if not 0 < self.min_iii < self.min_ii < self.min_i:
            raise ValueError("thresholds must rise: 0 < level III < level II < level I")


DEFAULT_TABLE = LevelTable()


def raise_level(level: Level, steps: int = 1) -> Level:
    """`steps` levels graver (negative: less grave), stopping at I and IV."""
    index = LEVELS_ASCENDING.index(level) + steps
    return LEVELS_ASCENDING[max(0, min(index, len(LEVELS_ASCENDING) - 1))]


def level_for(people: int, kind: Kind, table: LevelTable = DEFAULT_TABLE) -> Level:
    """The plan's level for `people` gathered in an incident of `kind`."""
    if people < 0:
        raise ValueError("people count cannot be negative")
    if people >= table.min_i:
        level = Level.I
    elif people >= table.min_ii:
        level = Level.II
    elif people >= table.min_iii:
        level = Level.III
    else:
        level = Level.IV
    if kind in table.raising_kinds:
        level = raise_level(level)
    return level


def graver(a: Level, b: Level) -> bool:
    """True when level `a` is graver than `b`."""
    return LEVELS_ASCENDING.index(a) > LEVELS_ASCENDING.index(b)


def kinds_from(values: Collection[str]) -> frozenset[Kind]:
    return frozenset(Kind(v) for v in values)
