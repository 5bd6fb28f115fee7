"""Who is paged and who next: the escalation ladder, its delay, and sensitive periods."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.duty import (
    DUTY_RUNGS,
    FIRST_PAGE,
    NATIONAL_DAY,
    SPRING_FESTIVAL_RUN_UP,
    TWO_SESSIONS,
    Ladder,
    Period,
    Reason,
    Rung,
    active_period,
    builtin_periods,
    escalation_delay,
    ladder,
)
from incidents.domain.incidents import LEVELS_ASCENDING, Level

P, B, L, C = Rung.PRIMARY, Rung.BACKUP, Rung.LEADER, Rung.COMMAND
INCIDENT_REASONS = (Reason.INCIDENT_OPENED, Reason.LEVEL_RAISED)


def stages(*rungs: set[Rung]) -> Ladder:
    return tuple(frozenset(r) for r in rungs)


# --- ladder --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", INCIDENT_REASONS)
@pytest.mark.parametrize(
    ("level", "sensitive", "expected"),
    [
        (Level.IV, False, stages({P}, {B}, {L}, {C})),
        (Level.III, False, stages({P}, {B}, {L}, {C})),
        (Level.II, False, stages({P, L}, {B}, {C})),
        (Level.I, False, stages({P, L}, {B}, {C})),
        (Level.IV, True, stages({P}, {B}, {L}, {C})),
        (Level.III, True, stages({P, L}, {B}, {C})),
        (Level.II, True, stages({P, B, L}, {C})),
        (Level.I, True, stages({P, B, L}, {C})),
    ],
)
def test_incident_ladder(reason: Reason, level: Level, sensitive: bool, expected: Ladder) -> None:
    assert ladder(reason, level=level, sensitive=sensitive) == expected


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("level", [None, *Level])
def test_an_overdue_clock_goes_to_the_liaison_then_the_leader_then_command(
    level: Level | None, sensitive: bool
) -> None:
    assert ladder(Reason.CLOCK_OVERDUE, level=level, sensitive=sensitive) == stages(
        {Rung.LIAISON}, {L}, {C}
    )


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("level", [None, *Level])
def test_a_missing_zero_report_goes_to_the_leader_then_command(
    level: Level | None, sensitive: bool
) -> None:
    assert ladder(Reason.ZERO_REPORT_MISSING, level=level, sensitive=sensitive) == stages({L}, {C})


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("level", [None, *Level])
def test_a_late_playbook_step_goes_to_the_primary_then_the_leader_then_command(
    level: Level | None, sensitive: bool
) -> None:
    assert ladder(Reason.STEP_LATE, level=level, sensitive=sensitive) == stages(
        {Rung.PRIMARY}, {L}, {C}
    )


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("reason", INCIDENT_REASONS)
def test_an_incident_alert_without_a_level_is_refused(reason: Reason, sensitive: bool) -> None:
    with pytest.raises(ValueError, match="level"):
        ladder(reason, sensitive=sensitive)


@given(
    st.sampled_from(INCIDENT_REASONS),
    st.sampled_from(list(Level)),
    st.booleans(),
)
def test_an_incident_ladder_pages_first_page_then_each_duty_rung_then_command(
    reason: Reason, level: Level, sensitive: bool
) -> None:
    stages_ = ladder(reason, level=level, sensitive=sensitive)
    first, *middle, last = stages_

    assert first == FIRST_PAGE[sensitive][level]
    assert C not in first
    assert all(len(stage) == 1 for stage in middle)
    assert [next(iter(stage)) for stage in middle] == [r for r in DUTY_RUNGS if r not in first]
    assert last == frozenset({C})
    assert Rung.LIAISON not in frozenset().union(*stages_)


@given(st.sampled_from(list(Reason)), st.sampled_from(list(Level)), st.booleans())
def test_every_ladder_ends_with_command_once_and_pages_no_rung_twice(
    reason: Reason, level: Level, sensitive: bool
) -> None:
    stages_ = ladder(reason, level=level, sensitive=sensitive)
    paged = [rung for stage in stages_ for rung in stage]

    assert stages_[-1] == frozenset({C})
    assert paged.count(C) == 1
    assert len(paged) == len(set(paged))
    assert all(stages_)


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("level", list(Level))
def test_an_incident_ladder_reaches_every_duty_rung(level: Level, sensitive: bool) -> None:
    paged = frozenset().union(*ladder(Reason.INCIDENT_OPENED, level=level, sensitive=sensitive))

    assert paged == {*DUTY_RUNGS, C}


@pytest.mark.parametrize("level", list(Level))
def test_a_sensitive_period_pages_at_least_as_many_first(level: Level) -> None:
    assert FIRST_PAGE[True][level] >= FIRST_PAGE[False][level]
    assert len(ladder(Reason.INCIDENT_OPENED, level=level, sensitive=True)) <= len(
        ladder(Reason.INCIDENT_OPENED, level=level, sensitive=False)
    )


@pytest.mark.parametrize("sensitive", [False, True])
def test_a_graver_level_pages_at_least_as_many_first(sensitive: bool) -> None:
    for lighter, graver in pairwise(LEVELS_ASCENDING):
        assert FIRST_PAGE[sensitive][graver] >= FIRST_PAGE[sensitive][lighter]


@pytest.mark.parametrize("sensitive", [False, True])
def test_first_page_is_defined_for_every_level_and_always_pages_the_primary(
    sensitive: bool,
) -> None:
    assert set(FIRST_PAGE[sensitive]) == set(Level)
    assert all(P in rungs for rungs in FIRST_PAGE[sensitive].values())
    assert all(rungs <= set(DUTY_RUNGS) for rungs in FIRST_PAGE[sensitive].values())


def test_duty_rungs_are_primary_backup_leader_in_that_order() -> None:
    assert DUTY_RUNGS == (P, B, L)


# --- escalation delay ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sensitive", "normal", "sensitive_minutes", "expected"),
    [
        (False, 15, 5, timedelta(minutes=15)),
        (True, 15, 5, timedelta(minutes=5)),
        (False, 10, 10, timedelta(minutes=10)),
        (True, 30, 0, timedelta(0)),
    ],
)
def test_escalation_delay(
    sensitive: bool, normal: int, sensitive_minutes: int, expected: timedelta
) -> None:
    delay = escalation_delay(
        sensitive=sensitive, normal_minutes=normal, sensitive_minutes=sensitive_minutes
    )
    assert delay == expected


# --- sensitive periods ---------------------------------------------------------------------


def test_builtin_periods_for_2027() -> None:
    # 春节 2027 is 6 February: the run-up starts 30 days before the eve (5 February) and
    # ends on the seventh day of the new year (正月初七).
    assert builtin_periods(2027, date(2027, 2, 6)) == [
        Period(SPRING_FESTIVAL_RUN_UP, date(2027, 1, 6), date(2027, 2, 12)),
        Period(TWO_SESSIONS, date(2027, 3, 1), date(2027, 3, 15)),
        Period(NATIONAL_DAY, date(2027, 9, 28), date(2027, 10, 7)),
    ]


@pytest.mark.parametrize(
    ("year", "new_year", "starts", "ends"),
    [
        (2026, date(2026, 2, 17), date(2026, 1, 17), date(2026, 2, 23)),
        (2028, date(2028, 1, 26), date(2027, 12, 26), date(2028, 2, 1)),
    ],
)
def test_the_spring_festival_run_up_follows_the_lunar_new_year(
    year: int, new_year: date, starts: date, ends: date
) -> None:
    run_up = builtin_periods(year, new_year)[0]

    assert run_up == Period(SPRING_FESTIVAL_RUN_UP, starts, ends)
    assert run_up.ends_on - run_up.starts_on == timedelta(days=37)


PERIODS_2027 = builtin_periods(2027, date(2027, 2, 6))


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 1, 5), None),
        (date(2027, 1, 6), SPRING_FESTIVAL_RUN_UP),
        (date(2027, 2, 6), SPRING_FESTIVAL_RUN_UP),
        (date(2027, 2, 12), SPRING_FESTIVAL_RUN_UP),
        (date(2027, 2, 13), None),
        (date(2027, 2, 28), None),
        (date(2027, 3, 1), TWO_SESSIONS),
        (date(2027, 3, 15), TWO_SESSIONS),
        (date(2027, 3, 16), None),
        (date(2027, 9, 27), None),
        (date(2027, 9, 28), NATIONAL_DAY),
        (date(2027, 10, 1), NATIONAL_DAY),
        (date(2027, 10, 7), NATIONAL_DAY),
        (date(2027, 10, 8), None),
        (date(2027, 12, 31), None),
    ],
)
def test_active_period_in_2027(day: date, name: str | None) -> None:
    found = active_period(day, PERIODS_2027)

    assert (found.name if found else None) == name


def test_active_period_picks_the_most_recently_started_of_overlapping_ones() -> None:
    spring = Period(SPRING_FESTIVAL_RUN_UP, date(2027, 1, 6), date(2027, 2, 12))
    local = Period("县级两会", date(2027, 1, 20), date(2027, 1, 25))
    early = Period("冬季欠薪专项行动", date(2026, 12, 1), date(2027, 1, 31))
    periods = [local, spring, early]

    assert active_period(date(2027, 1, 22), periods) == local
    assert active_period(date(2027, 1, 26), periods) == spring
    assert active_period(date(2027, 1, 5), periods) == early
    assert active_period(date(2027, 2, 1), periods) == spring


def test_no_period_is_active_with_no_periods() -> None:
    assert active_period(date(2027, 1, 22), []) is None


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot end before it starts"):
        Period("倒挂", date(2027, 3, 2), date(2027, 3, 1))


def test_a_one_day_period_covers_that_day_only() -> None:
    day = Period("一日", date(2027, 5, 1), date(2027, 5, 1))

    assert day.covers(date(2027, 5, 1))
    assert not day.covers(date(2027, 4, 30))
    assert not day.covers(date(2027, 5, 2))


DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))


@st.composite
def periods(draw: st.DrawFn) -> Period:
    starts = draw(DAYS)
    length = draw(st.integers(0, 60))
    return Period(draw(st.sampled_from(["a", "b", "c"])), starts, starts + timedelta(days=length))


@given(DAYS, st.lists(periods(), max_size=6))
def test_a_period_is_active_exactly_when_one_covers_the_day(
    day: date, candidates: list[Period]
) -> None:
    found = active_period(day, candidates)
    covering = [p for p in candidates if p.starts_on <= day <= p.ends_on]

    assert (found is not None) == bool(covering)
    if found is not None:
        assert found in covering
        assert found.starts_on == max(p.starts_on for p in covering)
