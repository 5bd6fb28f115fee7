"""Who is paged, and who next: duty rungs, the escalation ladder, sensitive periods.

Plain Python. Every alert has a ladder of stages; each stage pages one or more duty rungs
of the unit at once. An alert not acknowledged within the escalation delay moves to the
next stage; after the last one it is exhausted (shown red on the dashboard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from incidents.domain.incidents import Level


class Rung(StrEnum):
    """Who in a unit is paged: its liaison, its officers on duty, or the joint command."""

    LIAISON = "liaison"
    PRIMARY = "primary"
    BACKUP = "backup"
    LEADER = "leader"
    COMMAND = "command"


DUTY_RUNGS = (Rung.PRIMARY, Rung.BACKUP, Rung.LEADER)


class Reason(StrEnum):
    INCIDENT_OPENED = "incident_opened"
    LEVEL_RAISED = "level_raised"
    CLOCK_OVERDUE = "clock_overdue"
    ZERO_REPORT_MISSING = "zero_report_missing"
    STEP_LATE = "step_late"
    WARNING_RAISED = "warning_raised"
    WARNING_OVERDUE = "warning_overdue"


Ladder = tuple[frozenset[Rung], ...]

# Who is paged at once for an incident, by level, in normal times and in a sensitive period.
FIRST_PAGE: dict[bool, dict[Level, frozenset[Rung]]] = {
    False: {
        Level.IV: frozenset({Rung.PRIMARY}),
        Level.III: frozenset({Rung.PRIMARY}),
        Level.II: frozenset({Rung.PRIMARY, Rung.LEADER}),
        Level.I: frozenset({Rung.PRIMARY, Rung.LEADER}),
    },
    True: {
        Level.IV: frozenset({Rung.PRIMARY}),
        Level.III: frozenset({Rung.PRIMARY, Rung.LEADER}),
        Level.II: frozenset({Rung.PRIMARY, Rung.BACKUP, Rung.LEADER}),
        Level.I: frozenset({Rung.PRIMARY, Rung.BACKUP, Rung.LEADER}),
    },
}


def ladder(reason: Reason, *, level: Level | None = None, sensitive: bool = False) -> Ladder:
    """The stages of an alert: who is paged first, then each escalation in turn.

    Incidents page the rungs of `FIRST_PAGE`, then the duty rungs not yet paged (backup
    before leader), then the joint command. An overdue clock and a red early warning go to
    the unit's liaison, then its leader, then command; a missing zero report and a warning
    nobody intervened on in time to the unit's leader, then command;
    a late playbook step to the owning unit's primary officer on duty, its leader, then
    command (a step the joint command owns pages command alone, see `alert_raise`).
    """
    if reason in (Reason.INCIDENT_OPENED, Reason.LEVEL_RAISED):
        if level is None:
            raise ValueError("an incident alert needs the incident's level")
        first = FIRST_PAGE[sensitive][level]
        rest = [frozenset({r}) for r in DUTY_RUNGS if r not in first]
        return (first, *rest, frozenset({Rung.COMMAND}))
    if reason in (Reason.CLOCK_OVERDUE, Reason.WARNING_RAISED):
        return (frozenset({Rung.LIAISON}), frozenset({Rung.LEADER}), frozenset({Rung.COMMAND}))
    if reason is Reason.STEP_LATE:
        return (frozenset({Rung.PRIMARY}), frozenset({Rung.LEADER}), frozenset({Rung.COMMAND}))
    return (frozenset({Rung.LEADER}), frozenset({Rung.COMMAND}))


def escalation_delay(*, sensitive: bool, normal_minutes: int, sensitive_minutes: int) -> timedelta:
    """How long an alert waits for an acknowledgement before it escalates."""
    return timedelta(minutes=sensitive_minutes if sensitive else normal_minutes)


@dataclass(frozen=True)
class Period:
    """A sensitive period (重要节假日 and the like), both ends included."""

    name: str
    starts_on: date
    ends_on: date

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise ValueError("a sensitive period cannot end before it starts")

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


# Built-in periods, by the dates the plan names: the Spring Festival run-up (from 30 days
# before the eve to the 7th day of the new year, when migrant workers go home and unpaid
# wages gather people fastest), the Two Sessions in March, and National Day week.
SPRING_FESTIVAL_RUN_UP = "spring_festival"
TWO_SESSIONS = "two_sessions"
NATIONAL_DAY = "national_day"


def builtin_periods(year: int, lunar_new_year: date) -> list[Period]:
    """The built-in sensitive periods that start in `year`, given that year's 春节."""
    return [
        Period(
            SPRING_FESTIVAL_RUN_UP,
            lunar_new_year - timedelta(days=31),
            lunar_new_year + timedelta(days=6),
        ),
        Period(TWO_SESSIONS, date(year, 3, 1), date(year, 3, 15)),
        Period(NATIONAL_DAY, date(year, 9, 28), date(year, 10, 7)),
    ]


def active_period(day: date, periods: list[Period]) -> Period | None:
    """The period covering `day` (the one that started last when several do)."""
    covering = [p for p in periods if p.covers(day)]
    return max(covering, key=lambda p: p.starts_on) if covering else None
