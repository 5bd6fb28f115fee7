"""Mass incidents' pure rules: the level table of the contingency plan and the status moves.

Defaults: level IV under 30 people, III from 30, II from 100, I from 300; a blocked road or a
threatened extreme act is one level graver (I stays I).
"""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.domain.incidents import (
    DEFAULT_TABLE,
    LEVELS_ASCENDING,
    OPEN_STATUSES,
    REASON_REQUIRED,
    STATUS_MOVES,
    Action,
    IllegalIncidentMove,
    Kind,
    Level,
    LevelTable,
    Status,
    allowed_actions,
    graver,
    kinds_from,
    level_for,
    next_status,
    raise_level,
)

L = Level
RAISING = [Kind.ROAD_BLOCKING, Kind.EXTREME_ACT]
GATHERINGS = [Kind.SITE_GATHERING, Kind.GATE_GATHERING]
SIDE_ACTIONS = [Action.SET_LEVEL, Action.UPDATE, Action.LINK_CASES, Action.TAKE_COMMAND]
MOVING_ACTIONS = [Action.ACTIVATE, Action.CONTAIN, Action.CLOSE]

people = st.integers(min_value=0, max_value=1_000_000)
kinds = st.sampled_from(list(Kind))
statuses = st.sampled_from(list(Status))
actions = st.sampled_from(list(Action))


def gravity(level: Level) -> int:
    """0 for IV, the least grave, up to 3 for I (written out apart from the module)."""
    return {L.IV: 0, L.III: 1, L.II: 2, L.I: 3}[level]


# --- the default table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "level"),
    [
        (0, L.IV),
        (1, L.IV),
        (29, L.IV),
        (30, L.III),
        (31, L.III),
        (99, L.III),
        (100, L.II),
        (299, L.II),
        (300, L.I),
        (301, L.I),
        (1_000_000, L.I),
    ],
)
@pytest.mark.parametrize("kind", GATHERINGS)
def test_default_table_at_each_boundary(count: int, level: Level, kind: Kind) -> None:
    assert level_for(count, kind) is level
    assert level_for(count, kind, DEFAULT_TABLE) is level


@pytest.mark.parametrize(
    ("count", "level"),
    [
        (0, L.III),
        (29, L.III),
        (30, L.II),
        (99, L.II),
        (100, L.I),
        (299, L.I),
        (300, L.I),  # I stays I
        (5000, L.I),
    ],
)
@pytest.mark.parametrize("kind", RAISING)
def test_raising_kinds_are_one_level_graver(count: int, level: Level, kind: Kind) -> None:
    assert level_for(count, kind) is level


def test_default_table_values() -> None:
    assert (DEFAULT_TABLE.min_iii, DEFAULT_TABLE.min_ii, DEFAULT_TABLE.min_i) == (30, 100, 300)
    assert DEFAULT_TABLE.raising_kinds == frozenset(RAISING)
    assert LevelTable() == DEFAULT_TABLE


@pytest.mark.parametrize("kind", list(Kind))
def test_negative_people_is_refused(kind: Kind) -> None:
    with pytest.raises(ValueError, match="negative"):
        level_for(-1, kind)
    with pytest.raises(ValueError, match="negative"):
        level_for(-1, kind, LevelTable(min_iii=1, min_ii=2, min_i=3))


# --- a district's own table --------------------------------------------------------------------


def test_custom_thresholds() -> None:
    table = LevelTable(min_iii=10, min_ii=50, min_i=200, raising_kinds=frozenset())
    expected = {0: L.IV, 9: L.IV, 10: L.III, 49: L.III, 50: L.II, 199: L.II, 200: L.I}
    for count, level in expected.items():
        for kind in Kind:  # no kind raises in this table
            assert level_for(count, kind, table) is level, (count, kind)


def test_custom_raising_kinds() -> None:
    table = LevelTable(raising_kinds=frozenset({Kind.GATE_GATHERING}))
    assert level_for(20, Kind.GATE_GATHERING, table) is L.III
    assert level_for(20, Kind.SITE_GATHERING, table) is L.IV
    # Kinds the default table raises do not raise in this one.
    assert level_for(20, Kind.ROAD_BLOCKING, table) is L.IV
    assert level_for(20, Kind.EXTREME_ACT, table) is L.IV


def test_kinds_from_strings() -> None:
    assert kinds_from(["road_blocking", "gate_gathering"]) == frozenset(
        {Kind.ROAD_BLOCKING, Kind.GATE_GATHERING}
    )
    assert kinds_from([]) == frozenset()
    with pytest.raises(ValueError):  # noqa: PT011  (the enum's own message)
        kinds_from(["riot"])


@pytest.mark.parametrize(
    ("min_iii", "min_ii", "min_i"),
    [
        (0, 100, 300),  # level III from nobody
        (-5, 100, 300),
        (30, 30, 300),  # II not above III
        (100, 30, 300),
        (30, 100, 100),  # I not above II
        (30, 300, 100),
        (300, 100, 30),
    ],
)
def test_thresholds_that_do_not_rise_are_refused(min_iii: int, min_ii: int, min_i: int) -> None:
    with pytest.raises(ValueError, match="thresholds must rise"):
        LevelTable(min_iii=min_iii, min_ii=min_ii, min_i=min_i)


def test_smallest_valid_table() -> None:
    table = LevelTable(min_iii=1, min_ii=2, min_i=3)
    assert [level_for(n, Kind.SITE_GATHERING, table) for n in range(5)] == [
        L.IV,
        L.III,
        L.II,
        L.I,
        L.I,
    ]


# --- raise_level and graver --------------------------------------------------------------------


def test_raise_level_steps_and_stops_at_i() -> None:
    assert raise_level(L.IV) is L.III
    assert raise_level(L.III) is L.II
    assert raise_level(L.II) is L.I
    assert raise_level(L.I) is L.I
    assert raise_level(L.IV, 2) is L.II
    assert raise_level(L.IV, 10) is L.I
    assert raise_level(L.III, 0) is L.III


def test_graver_orders_i_above_iv() -> None:
    assert LEVELS_ASCENDING == (L.IV, L.III, L.II, L.I)
    for a, b in itertools.product(Level, Level):
        assert graver(a, b) == (gravity(a) > gravity(b)), (a, b)
    assert not graver(L.II, L.II)


@given(count=people, kind=kinds, more=st.integers(min_value=0, max_value=1_000_000))
def test_level_is_monotone_in_people(count: int, kind: Kind, more: int) -> None:
    fewer_level = level_for(count, kind)
    more_level = level_for(count + more, kind)
    assert not graver(fewer_level, more_level)
    assert gravity(more_level) >= gravity(fewer_level)


@given(
    thresholds=st.lists(
        st.integers(min_value=1, max_value=10_000), min_size=3, max_size=3, unique=True
    ).map(sorted),
    raising=st.sets(kinds),
    count=people,
    more=st.integers(min_value=0, max_value=20_000),
    kind=kinds,
)
def test_level_is_monotone_in_people_for_any_valid_table(
    thresholds: list[int], raising: set[Kind], count: int, more: int, kind: Kind
) -> None:
    low, middle, high = thresholds
    table = LevelTable(min_iii=low, min_ii=middle, min_i=high, raising_kinds=frozenset(raising))
    assert not graver(level_for(count, kind, table), level_for(count + more, kind, table))


@given(count=people, raising=st.sampled_from(RAISING), gathering=st.sampled_from(GATHERINGS))
def test_raising_kind_is_never_less_grave_than_a_gathering(
    count: int, raising: Kind, gathering: Kind
) -> None:
    raised = level_for(count, raising)
    plain = level_for(count, gathering)
    assert not graver(plain, raised)
    # Exactly one step graver, except at the top.
    assert gravity(raised) == min(gravity(plain) + 1, gravity(L.I))


@given(count=people, kind=kinds)
def test_no_raising_kinds_gives_the_plain_level(count: int, kind: Kind) -> None:
    table = LevelTable(raising_kinds=frozenset())
    assert level_for(count, kind, table) is level_for(count, Kind.SITE_GATHERING)


@given(count=st.integers(max_value=-1), kind=kinds)
def test_any_negative_count_is_refused(count: int, kind: Kind) -> None:
    with pytest.raises(ValueError, match="negative"):
        level_for(count, kind)


# --- statuses ------------------------------------------------------------------------------------


EXPECTED_MOVES = {
    (Status.REPORTED, Action.ACTIVATE): Status.ACTIVE,
    (Status.REPORTED, Action.CLOSE): Status.CLOSED,
    (Status.ACTIVE, Action.CONTAIN): Status.CONTAINED,
    (Status.ACTIVE, Action.CLOSE): Status.CLOSED,
    (Status.CONTAINED, Action.ACTIVATE): Status.ACTIVE,
    (Status.CONTAINED, Action.CLOSE): Status.CLOSED,
}


def test_status_moves_are_the_plans() -> None:
    assert STATUS_MOVES == EXPECTED_MOVES
    assert frozenset({Status.REPORTED, Status.ACTIVE, Status.CONTAINED}) == OPEN_STATUSES
    assert frozenset({Action.CLOSE, Action.SET_LEVEL}) == REASON_REQUIRED


@pytest.mark.parametrize("action", list(Action))
def test_closed_takes_no_action(action: Action) -> None:
    with pytest.raises(IllegalIncidentMove) as refused:
        next_status(Status.CLOSED, action)
    assert refused.value.status is Status.CLOSED
    assert refused.value.action is action
    assert allowed_actions(Status.CLOSED) == []


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
@pytest.mark.parametrize("action", SIDE_ACTIONS)
def test_side_actions_keep_an_open_status(status: Status, action: Action) -> None:
    assert next_status(status, action) is status


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.REPORTED, Action.CONTAIN),
        (Status.ACTIVE, Action.ACTIVATE),
        (Status.CONTAINED, Action.CONTAIN),
    ],
)
def test_moves_not_in_the_table_are_refused(status: Status, action: Action) -> None:
    with pytest.raises(IllegalIncidentMove, match=action.value):
        next_status(status, action)


def _accepts(status: Status, action: Action) -> bool:
    try:
        next_status(status, action)
    except IllegalIncidentMove:
        return False
    return True


@given(status=statuses, action=actions)
def test_next_status_never_leaves_closed(status: Status, action: Action) -> None:
    if status is Status.CLOSED:
        with pytest.raises(IllegalIncidentMove):
            next_status(status, action)
    elif _accepts(status, action):
        after = next_status(status, action)
        assert after in Status
        assert after is EXPECTED_MOVES.get((status, action), status)


@given(path=st.lists(actions, max_size=30))
def test_a_walk_never_leaves_closed(path: list[Action]) -> None:
    status = Status.REPORTED
    closed = False
    for action in path:
        if closed:
            assert not _accepts(status, action), action
            continue
        if _accepts(status, action):
            status = next_status(status, action)
            closed = status is Status.CLOSED
    assert closed == (status is Status.CLOSED)


def test_every_status_is_reachable_from_reported() -> None:
    seen = {Status.REPORTED}
    queue = deque([Status.REPORTED])
    while queue:
        status = queue.popleft()
        for action in allowed_actions(status):
            target = next_status(status, action)
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(Status)


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_every_open_status_can_close(status: Status) -> None:
    assert Action.CLOSE in allowed_actions(status)
    assert next_status(status, Action.CLOSE) is Status.CLOSED


@given(status=statuses)
def test_allowed_actions_are_exactly_those_next_status_accepts(status: Status) -> None:
    allowed = allowed_actions(status)
    assert len(allowed) == len(set(allowed))
    assert set(allowed) == {a for a in Action if _accepts(status, a)}


@pytest.mark.parametrize("status", list(Status))
def test_allowed_actions_exhaustively(status: Status) -> None:
    accepted = {a for a in Action if _accepts(status, a)}
    assert set(allowed_actions(status)) == accepted
    if status is not Status.CLOSED:
        assert set(SIDE_ACTIONS) <= accepted
        assert {a for a in MOVING_ACTIONS if a in accepted} == {
            a for (s, a) in EXPECTED_MOVES if s is status
        }


def test_lowering_a_level_stops_at_iv() -> None:
    assert raise_level(Level.IV, -1) is Level.IV
    assert raise_level(Level.I, -1) is Level.II
    assert raise_level(Level.II, -5) is Level.IV
