"""Monthly statistics and unit rankings: the rules, apart from how the facts are read.

Everything here works on facts taken from the event log up to the end of a window (a month
or a range of months), so that a past window gives the same answer whatever happened since.

- A case is *handled* in a window when it was registered before the window's end and had not
  finished before its start (carried over, or received in it), and was not merged into another
  case or rejected by the window's end (those were never cases of their own to resolve).
- It is *concluded* when it reached `resolved` or `closed` by the window's end. The closure
  rate (月破案率) is concluded / handled, per unit (the case's responsible unit at the window's
  end) and overall.
- It is *self-resolved* (自决) when concluded without labour inspection, sector review, a
  joint meeting or an advance from the petition account.
- A unit's score is 100 × its self-resolution rate, less the points of its fund advances and
  overdue clocks in the window. Units with no case are listed but not ranked.
- The unit(s) ranked last get a strike, unless every ranked unit has the same score; strikes
  counted as the district's policy says (within the year, consecutive months, or the last N
  months) step up: interview, notice of criticism, disciplinary accountability.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

# States a case reaches through escalation: reaching any of them means it was not self-resolved.
ESCALATED_STATES = frozenset(
    {"inspection", "sector_review", "joint_meeting", "facts_confirmed", "advanced", "recovering"}
)
CONCLUDED_STATES = frozenset({"resolved", "closed"})
VOID_STATES = frozenset({"merged", "rejected"})
FINISHED_STATES = CONCLUDED_STATES | VOID_STATES
CLOSURE_TARGET = 0.95
MAX_RANGE_MONTHS = 24

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


class MonthError(ValueError):
    """A month that is not `YYYY-MM`, or a range that runs backwards or too long."""


def month_parse(text: str) -> date:
    """`2026-05` → 1 May 2026; anything else → `MonthError`."""
    match = _MONTH.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise MonthError("Give the month as YYYY-MM, e.g. 2026-05.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise MonthError("Give the month as YYYY-MM, e.g. 2026-05.")
    return date(year, month, 1)


def month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_label(month: date) -> str:
    return month.strftime("%Y-%m")


def months_in(first: date, last: date) -> list[date]:
    """Every month from `first` to `last`, both included."""
    out = []
    month = first
    while month <= last:
        out.append(month)
        month = month_add(month, 1)
    return out


@dataclass(frozen=True)
class Window:
    """A range of whole months, `first` to `last`, as an aware [start, end) interval."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        if self.first == self.last:
            return month_label(self.first)
        return f"{month_label(self.first)}..{month_label(self.last)}"

    @property
    def months(self) -> list[date]:
        return months_in(self.first, self.last)

    def shifted(self, months: int, tz: tzinfo) -> Window:
        """The same months `months` later (−12: the same period last year)."""
        return window_of(month_add(self.first, months), month_add(self.last, months), tz)


def window_of(first: date, last: date, tz: tzinfo) -> Window:
    """The months `first`..`last` in the district's time zone; `MonthError` when backwards."""
    if last < first:
        raise MonthError("The range ends before it starts.")
    if len(months_in(first, last)) > MAX_RANGE_MONTHS:
        raise MonthError(f"A range is at most {MAX_RANGE_MONTHS} months.")
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(month_add(last, 1), time.min, tzinfo=tz)
    return Window(first=first, last=last, start=start, end=end)


def pct_change(current: Decimal | int, prior: Decimal | int | None) -> float | None:
    """Percent change against the prior figure; None where there is nothing to compare."""
    if prior is None or prior == 0:
        return None
    change = (Decimal(current) - Decimal(prior)) * 100 / Decimal(prior)
    return float(change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def ratio(part: int, whole: int) -> float | None:
    """part / whole to four places (0 to 1), or None for nothing to divide."""
    if whole == 0:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


# --- receipts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeGroup:
    """Registrations of one channel in a window."""

    channel: str
    cases: int
    construction_cases: int
    workers: int
    amount: Decimal


@dataclass(frozen=True)
class Receipts:
    cases_received: int
    construction_cases: int
    workers: int
    amount_owed: Decimal
    by_channel: dict[str, int]


def receipts(groups: Iterable[IntakeGroup], channels: Sequence[str]) -> Receipts:
    """The district's receipt figures; `by_channel` lists every channel, 0 where none came."""
    by_channel = dict.fromkeys(channels, 0)
    cases = construction = workers = 0
    amount = Decimal(0)
    for g in groups:
        by_channel[g.channel] = by_channel.get(g.channel, 0) + g.cases
        cases += g.cases
        construction += g.construction_cases
        workers += g.workers
        amount += g.amount
    return Receipts(cases, construction, workers, amount.quantize(Decimal("0.01")), by_channel)


def receipts_yoy(current: Receipts, prior: Receipts | None) -> dict[str, float | None]:
    """Percent change of each receipt figure against the same period a year before."""
    if prior is None:
        return dict.fromkeys(("cases_received", "construction_cases", "workers", "amount_owed"))
    return {
        "cases_received": pct_change(current.cases_received, prior.cases_received),
        "construction_cases": pct_change(current.construction_cases, prior.construction_cases),
        "workers": pct_change(current.workers, prior.workers),
        "amount_owed": pct_change(current.amount_owed, prior.amount_owed),
    }


# --- per-case facts, closure and self-resolution ------------------------------------------


@dataclass(frozen=True)
class CaseFacts:
    """What the log says of one case up to a window's end."""

    case_id: int
    registered_at: datetime
    unit_id: int | None  # responsible at the window's end (or when it finished)
    finished_at: datetime | None = None  # first reached resolved, closed, merged or rejected
    finished_state: str = ""
    escalated: bool = False
    advanced: bool = False


def is_handled(facts: CaseFacts, window: Window) -> bool:
    if facts.registered_at >= window.end:
        return False
    if facts.finished_at is None:
        return True
    if facts.finished_at < window.start:
        return False
    return facts.finished_state in CONCLUDED_STATES  # merged or rejected: not a case


def is_concluded(facts: CaseFacts, window: Window) -> bool:
    return (
        facts.finished_at is not None
        and facts.finished_at < window.end
        and facts.finished_state in CONCLUDED_STATES
    )


def is_self_resolved(facts: CaseFacts, window: Window) -> bool:
    return is_concluded(facts, window) and not facts.escalated and not facts.advanced


@dataclass
class UnitTally:
    handled: int = 0
    concluded: int = 0
    self_resolved: int = 0

    @property
    def closure_rate(self) -> float | None:
        return ratio(self.concluded, self.handled)

    @property
    def self_resolution_rate(self) -> float | None:
        return ratio(self.self_resolved, self.handled)


@dataclass
class Closure:
    overall: UnitTally = field(default_factory=UnitTally)
    by_unit: dict[int | None, UnitTally] = field(default_factory=dict)
    open_at_end: int = 0
    long_open: int = 0


def closure(facts: Iterable[CaseFacts], window: Window, *, long_open_days: int) -> Closure:
    """Handled, concluded and self-resolved cases, overall and per unit; what is still open."""
    result = Closure()
    for f in facts:
        if not is_handled(f, window):
            continue
        tally = result.by_unit.setdefault(f.unit_id, UnitTally())
        for t in (tally, result.overall):
            t.handled += 1
        if is_concluded(f, window):
            for t in (tally, result.overall):
                t.concluded += 1
            if is_self_resolved(f, window):
                for t in (tally, result.overall):
                    t.self_resolved += 1
        else:
            result.open_at_end += 1
            if (window.end - f.registered_at).days >= long_open_days:
                result.long_open += 1
    return result


# --- rankings and strikes -----------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    """Points a unit loses per advance from the petition account and per overdue clock."""

    advance: Decimal = Decimal(2)
    overdue: Decimal = Decimal(1)


@dataclass(frozen=True)
class UnitRef:
    id: int
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class RankingRow:
    unit: UnitRef
    cases: int
    self_resolved: int
    self_resolution_rate: float | None
    fund_advances: int
    overdue: int
    points_deducted: Decimal
    score: Decimal | None
    rank: int | None = None


def ranking_rows(
    units: Iterable[UnitRef],
    tallies: dict[int | None, UnitTally],
    *,
    advances: dict[int, int],
    overdue: dict[int, int],
    weights: Weights,
) -> list[RankingRow]:
    """Every unit's row, ranked best first; ties share a rank (1, 2, 2, 4)."""
    rows = []
    for unit in units:
        tally = tallies.get(unit.id, UnitTally())
        n_adv, n_over = advances.get(unit.id, 0), overdue.get(unit.id, 0)
        deducted = weights.advance * n_adv + weights.overdue * n_over
        rate = tally.self_resolution_rate
        score = None
        if tally.handled:
            exact = Decimal(tally.self_resolved) * 100 / Decimal(tally.handled) - deducted
            score = exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        rows.append(
            RankingRow(
                unit=unit,
                cases=tally.handled,
                self_resolved=tally.self_resolved,
                self_resolution_rate=rate,
                fund_advances=n_adv,
                overdue=n_over,
                points_deducted=deducted,
                score=score,
            )
        )
    ranked = sorted(
        (r for r in rows if r.score is not None), key=lambda r: (-(r.score or 0), r.unit.code)
    )
    unranked = sorted((r for r in rows if r.score is None), key=lambda r: r.unit.code)
    out: list[RankingRow] = []
    for position, row in enumerate(ranked, start=1):
        previous = out[-1] if out else None
        rank = previous.rank if previous and previous.score == row.score else position
        out.append(_with_rank(row, rank))
    return out + unranked


def _with_rank(row: RankingRow, rank: int | None) -> RankingRow:
    return RankingRow(**{**row.__dict__, "rank": rank})


def last_ranked(rows: Sequence[RankingRow]) -> list[RankingRow]:
    """The units ranked last, who get a strike; none when every ranked unit ties."""
    ranked = [r for r in rows if r.rank is not None]
    if len({r.score for r in ranked}) < 2:
        return []
    bottom = max(r.rank for r in ranked if r.rank is not None)
    return [r for r in ranked if r.rank == bottom]


class StrikeWindow(StrEnum):
    YEAR = "year"  # strikes within the calendar year
    CONSECUTIVE = "consecutive"  # strikes in consecutive months; a month without one resets
    ROLLING = "rolling"  # strikes within the last N months


class Consequence(StrEnum):
    INTERVIEW = "interview"  # 约谈主要领导
    CRITICISM = "criticism"  # 通报批评
    DISCIPLINE = "discipline"  # 纪检监察问责


CONSEQUENCE_BY_STEP = {
    1: Consequence.INTERVIEW,
    2: Consequence.CRITICISM,
    3: Consequence.DISCIPLINE,
}


def strike_count(
    earlier: Iterable[date], month: date, *, window: StrikeWindow, months: int = 12
) -> int:
    """How many strikes the unit has counting one in `month`, given its `earlier` strike months."""
    previous = {m for m in earlier if m < month}
    if window is StrikeWindow.YEAR:
        return 1 + sum(1 for m in previous if m.year == month.year)
    if window is StrikeWindow.ROLLING:
        since = month_add(month, -(months - 1))
        return 1 + sum(1 for m in previous if m >= since)
    count, cursor = 1, month_add(month, -1)
    while cursor in previous:
        count, cursor = count + 1, month_add(cursor, -1)
    return count


def strike_step(count: int) -> int:
    """The step a strike count reaches: 1, 2, and 3 from the third on."""
    return min(max(count, 1), 3)
