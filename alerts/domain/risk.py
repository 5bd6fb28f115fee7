"""Risk: rules that read a subject's indicators, a score, a level, and when a warning opens.

Rules are data (`RuleSpec`, stored as `RiskRule` rows an administrator edits): a kind this
module knows how to evaluate, the indicator it reads, its parameters and a weight. A subject's
score is the sum of the weights of the rules it meets; the level is the highest threshold the
score reaches (yellow, orange, red). Each rule that is met says why (`Hit.detail`) and which
readings made it so (`Hit.readings`).

Readings arrive late and with gaps. A reading's period says what time it is about; when two
readings cover the same indicator and period, the one reported last wins (a correction);
monthly figures are compared month by month, a month with no reading is left out of an
average rather than taken as zero, and a month not yet over is not compared at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from alerts.domain.indicators import (
    RATINGS,
    SIX_SYSTEMS,
    VALUE_KINDS,
    Indicator,
    Period,
    ValueKind,
    month_of,
)


class Level(StrEnum):
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        return LEVELS.index(self)


LEVELS = (Level.YELLOW, Level.ORANGE, Level.RED)


class RuleKind(StrEnum):
    DROP = "drop"  # a monthly figure fell against the average of the months before
    NO_PAYMENT = "no_payment"  # nothing paid for N days while workers are registered
    RATING_IN = "rating_in"  # the latest rating is one of these
    AT_LEAST = "at_least"  # the latest figure is at least this
    SYSTEMS_MISSING = "systems_missing"  # one of the six systems is not in place
    OPEN_CASES = "open_cases"  # the subject has open wage-arrears cases
    BLACKLISTED = "blacklisted"  # the enterprise (a project's contractor) is blacklisted
    PUBLIC_OPINION = "public_opinion"  # online reports about the subject reach many people


class SubjectKind(StrEnum):
    ENTERPRISE = "enterprise"
    PROJECT = "project"


class RuleError(ValueError):
    """A rule an administrator wrote that cannot be evaluated."""


# The kinds that read one indicator, and the value kinds that indicator may have.
_INDICATOR_KINDS: dict[RuleKind, frozenset[ValueKind]] = {
    RuleKind.DROP: frozenset({ValueKind.QUANTITY, ValueKind.COUNT}),
    RuleKind.NO_PAYMENT: frozenset({ValueKind.QUANTITY}),
    RuleKind.RATING_IN: frozenset({ValueKind.RATING}),
    RuleKind.AT_LEAST: frozenset({ValueKind.QUANTITY, ValueKind.COUNT}),
}
# Each kind's parameters and their defaults; a parameter not listed is refused.
PARAM_DEFAULTS: dict[RuleKind, dict[str, Any]] = {
    RuleKind.DROP: {"ratio": 0.5, "months": 3, "min_months": 2, "max_age_months": 2},
    RuleKind.NO_PAYMENT: {
        "days": 30,
        "silence_days": 45,
        "workers_indicator": Indicator.REGISTERED_WORKERS.value,
    },
    RuleKind.RATING_IN: {"ratings": ["D"], "max_age_days": 366},
    RuleKind.AT_LEAST: {"value": 3, "max_age_days": 62},
    RuleKind.SYSTEMS_MISSING: {"systems": [s.value for s in SIX_SYSTEMS]},
    RuleKind.OPEN_CASES: {"min": 1},
    RuleKind.BLACKLISTED: {},
    RuleKind.PUBLIC_OPINION: {"days": 30, "min_reach": 1000},
}


@dataclass(frozen=True)
class RuleSpec:
    code: str
    kind: RuleKind
    weight: int
    indicator: Indicator | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    applies_to: SubjectKind | None = None  # None: enterprises and projects alike

    def param(self, name: str) -> Any:
        return self.params.get(name, PARAM_DEFAULTS[self.kind][name])


def rule_check(rule: RuleSpec) -> RuleSpec:
    """The rule if it can be evaluated, else `RuleError` saying what is wrong."""
    if isinstance(rule.weight, bool) or not isinstance(rule.weight, int):
        raise RuleError("weight must be a whole number")
    if not 0 < rule.weight <= 1000:
        raise RuleError("weight must be between 1 and 1000")
    wants = _INDICATOR_KINDS.get(rule.kind)
    if wants is None and rule.indicator is not None:
        raise RuleError(f"a {rule.kind} rule reads no indicator")
    if wants is not None:
        if rule.indicator is None:
            raise RuleError(f"a {rule.kind} rule needs an indicator")
        if VALUE_KINDS[rule.indicator] not in wants:
            raise RuleError(f"a {rule.kind} rule cannot read {rule.indicator}")
    unknown = set(rule.params) - set(PARAM_DEFAULTS[rule.kind])
    if unknown:
        raise RuleError(f"unknown parameters: {', '.join(sorted(unknown))}")
    p = rule.param
    if rule.kind is RuleKind.DROP:
        # Rules see at most a year of readings: six months' baseline, six months' age.
        _number_in(p("ratio"), "ratio", 0.01, 1)
        _whole_in(p("months"), "months", 1, 6)
        _whole_in(p("min_months"), "min_months", 1, p("months"))
        _whole_in(p("max_age_months"), "max_age_months", 1, 6)
    elif rule.kind is RuleKind.NO_PAYMENT:
        _whole_in(p("days"), "days", 1, 366)
        _whole_in(p("silence_days"), "silence_days", 0, 366)
        workers = p("workers_indicator")
        known = {i.value for i in Indicator}
        if (
            not isinstance(workers, str)
            or workers not in known
            or VALUE_KINDS[Indicator(workers)] is not ValueKind.COUNT
        ):
            raise RuleError("workers_indicator must be a count indicator")
    elif rule.kind is RuleKind.RATING_IN:
        ratings = p("ratings")
        if not _names(ratings) or set(ratings) - set(RATINGS):
            raise RuleError(f"ratings must be a list drawn from {', '.join(RATINGS)}")
        _whole_in(p("max_age_days"), "max_age_days", 1, 366)
    elif rule.kind is RuleKind.AT_LEAST:
        _number_in(p("value"), "value", 0, 10**12)
        _whole_in(p("max_age_days"), "max_age_days", 1, 366)
    elif rule.kind is RuleKind.SYSTEMS_MISSING:
        systems = p("systems")
        known = {s.value for s in SIX_SYSTEMS}
        if not _names(systems) or set(systems) - known:
            raise RuleError("systems must be a list of the six systems")
    elif rule.kind is RuleKind.OPEN_CASES:
        _whole_in(p("min"), "min", 1, 1000)
    elif rule.kind is RuleKind.PUBLIC_OPINION:
        _whole_in(p("days"), "days", 1, 366)
        _whole_in(p("min_reach"), "min_reach", 0, 10**10)
    return rule


def _names(value: Any) -> bool:
    """A non-empty list of strings (JSON from the admin may hold anything)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _number_in(value: Any, name: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RuleError(f"{name} must be a number from {low} to {high}")


def _whole_in(value: Any, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(f"{name} must be a whole number from {low} to {high}")


# --- facts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One reading as the rules see it."""

    period: Period
    number: Decimal | None
    text: str
    reported_at: datetime
    reading_id: int = 0


@dataclass(frozen=True)
class Opinion:
    published_on: date
    reach: int
    item_id: int = 0


@dataclass(frozen=True)
class Facts:
    """What is known of one subject at the time it is scored."""

    kind: SubjectKind
    series: Mapping[Indicator, Sequence[Point]] = field(default_factory=dict)
    open_cases: int = 0
    blacklisted: bool = False
    opinions: Sequence[Opinion] = ()


def latest_by_period(points: Iterable[Point]) -> dict[Period, Point]:
    """One point per period: the one reported last (a correction replaces what it corrects)."""
    best: dict[Period, Point] = {}
    for point in points:
        held = best.get(point.period)
        if held is None or (point.reported_at, point.reading_id) > (
            held.reported_at,
            held.reading_id,
        ):
            best[point.period] = point
    return best


def monthly_totals(
    points: Iterable[Point], *, level: bool = False
) -> dict[date, tuple[Decimal, tuple[int, ...]]]:
    """Per month (keyed by its first day): the monthly reading, or else the days' figures.

    A month that has a monthly reading takes it; daily readings of that month are then
    ignored (they are the detail the month already sums). Days are summed for amounts used
    up (kWh, m³, yuan); for a `level` (a headcount) the month takes its last day's figure.
    """
    monthly: dict[date, Point] = {}
    daily: dict[date, list[Point]] = {}
    for period, point in latest_by_period(points).items():
        if point.number is None:
            continue
        if period.monthly:
            monthly[period.start] = point
        else:
            daily.setdefault(period.start.replace(day=1), []).append(point)
    totals: dict[date, tuple[Decimal, tuple[int, ...]]] = {}
    for month, days in daily.items():
        if level:
            last = max(days, key=lambda p: p.period.start)
            totals[month] = (last.number or Decimal(0), (last.reading_id,))
            continue
        totals[month] = (
            sum((p.number or Decimal(0) for p in days), Decimal(0)),
            tuple(sorted(p.reading_id for p in days)),
        )
    for month, point in monthly.items():
        totals[month] = (point.number or Decimal(0), (point.reading_id,))
    return totals


def latest(points: Iterable[Point], as_of: date) -> Point | None:
    """The reading of the latest period that has begun by `as_of`."""
    held = [p for per, p in latest_by_period(points).items() if per.start <= as_of]
    return max(held, key=lambda p: (p.period.end, p.period.start), default=None)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    rule: str
    weight: int
    detail: Mapping[str, Any]
    readings: tuple[int, ...] = ()


def evaluate(rule: RuleSpec, facts: Facts, as_of: date) -> Hit | None:
    """Whether `rule` holds for the subject on day `as_of`, and why."""
    if rule.applies_to is not None and rule.applies_to is not facts.kind:
        return None
    series = facts.series.get(rule.indicator, ()) if rule.indicator else ()
    points = [p for p in series if p.period.start <= as_of]
    hit = _EVALUATORS[rule.kind](rule, facts, points, as_of)
    if hit is None:
        return None
    detail, readings = hit
    return Hit(rule.code, rule.weight, detail, tuple(sorted(set(readings))))


_Found = tuple[dict[str, Any], Iterable[int]] | None


def _drop(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    # Only months that are over: the current month's figures are still arriving.
    last_complete = _add_months(month_of(as_of).start, -1)
    is_level = rule.indicator is not None and VALUE_KINDS[rule.indicator] is ValueKind.COUNT
    totals = {m: t for m, t in monthly_totals(points, level=is_level).items() if m <= last_complete}
    if not totals:
        return None
    current = max(totals)
    if current <= _add_months(last_complete, -rule.param("max_age_months")):
        return None  # the figures stopped coming: too old to say anything of now
    before = [_add_months(current, -k) for k in range(1, rule.param("months") + 1)]
    baseline = [totals[m] for m in before if m in totals]
    if len(baseline) < rule.param("min_months"):
        return None
    average = sum((v for v, _ids in baseline), Decimal(0)) / len(baseline)
    value, ids = totals[current]
    if average <= 0 or value > average * (1 - Decimal(str(rule.param("ratio")))):
        return None
    return (
        {
            "indicator": str(rule.indicator),
            "month": current.strftime("%Y-%m"),
            "value": str(value),
            "average": str(average.quantize(Decimal("0.01"))),
            "months": len(baseline),
            "change": round(float(value / average) - 1, 3),
        },
        [*ids, *(i for _v, b in baseline for i in b)],
    )


def _no_payment(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    """Nothing paid for `days` or more, as the feed tells it.

    The feed must say so: the periods it reported after the last payment (zeros) span at
    least `days`. A month not reported yet (monthly figures arrive after the month) or a
    reading missing or late is not taken as a month unpaid; only a feed silent for
    `days` + `silence_days` since the last payment counts as saying nothing was paid.
    """
    workers_series = facts.series.get(Indicator(rule.param("workers_indicator")), ())
    workers = latest(workers_series, as_of)
    if workers is None or not workers.number:
        return None
    held = list(latest_by_period(points).values())
    if not held:
        return None  # no feed reports this subject's payments: nothing can be said
    days = rule.param("days")
    paid = [p for p in held if p.number]
    # A payment is dated by the end of its period (a month's payroll: the month's last day,
    # or today while that month is under way); with none paid, the clock runs from the first
    # period the feed reported.
    last_paid = max((min(p.period.end, as_of) for p in paid), default=None)
    since = last_paid or min(p.period.start for p in held)
    reported_through = max(min(p.period.end, as_of) for p in held)
    unpaid_reported = (reported_through - since).days
    silent = (as_of - since).days
    # A whole month reported unpaid is thirty days or more: it counts from `days` on.
    if unpaid_reported < days and silent < days + rule.param("silence_days"):
        return None
    ids = [workers.reading_id]
    if last_paid is not None:
        ids += [p.reading_id for p in paid if min(p.period.end, as_of) == last_paid]
    ids += [p.reading_id for p in held if not p.number and p.period.start >= since]
    return (
        {
            "indicator": str(rule.indicator),
            "last_paid": last_paid.isoformat() if last_paid else None,
            "days": max(
                unpaid_reported, silent if silent >= days + rule.param("silence_days") else 0
            ),
            "workers": int(workers.number),
        },
        ids,
    )


def _rating_in(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    point = latest(points, as_of)
    if point is None or point.text not in rule.param("ratings"):
        return None
    if (as_of - point.period.end).days > rule.param("max_age_days"):
        return None
    return (
        {"indicator": str(rule.indicator), "rating": point.text, "period": point.period.label},
        [point.reading_id],
    )


def _at_least(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    point = latest(points, as_of)
    if point is None or point.number is None:
        return None
    if (as_of - point.period.end).days > rule.param("max_age_days"):
        return None
    if point.number < Decimal(str(rule.param("value"))):
        return None
    return (
        {
            "indicator": str(rule.indicator),
            "value": str(point.number.normalize()),
            "period": point.period.label,
        },
        [point.reading_id],
    )


def _systems_missing(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    missing, ids = [], []
    for system in rule.param("systems"):
        point = latest(facts.series.get(Indicator(system), ()), as_of)
        if point is not None and point.number == 0:
            missing.append(system)
            ids.append(point.reading_id)
    if not missing:
        return None
    return {"systems": missing}, ids


def _open_cases(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    if facts.open_cases < rule.param("min"):
        return None
    return {"open_cases": facts.open_cases}, ()


def _blacklisted(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    return ({"blacklisted": True}, ()) if facts.blacklisted else None


def _public_opinion(rule: RuleSpec, facts: Facts, points: list[Point], as_of: date) -> _Found:
    since = as_of - timedelta(days=rule.param("days"))
    recent = [o for o in facts.opinions if since < o.published_on <= as_of]
    reach = sum(o.reach for o in recent)
    if not recent or reach < rule.param("min_reach"):
        return None
    return {"items": len(recent), "reach": reach, "opinions": sorted(o.item_id for o in recent)}, ()


_EVALUATORS = {
    RuleKind.DROP: _drop,
    RuleKind.NO_PAYMENT: _no_payment,
    RuleKind.RATING_IN: _rating_in,
    RuleKind.AT_LEAST: _at_least,
    RuleKind.SYSTEMS_MISSING: _systems_missing,
    RuleKind.OPEN_CASES: _open_cases,
    RuleKind.BLACKLISTED: _blacklisted,
    RuleKind.PUBLIC_OPINION: _public_opinion,
}


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    yellow: int = 30
    orange: int = 60
    red: int = 90

    def __post_init__(self) -> None:
        if not 0 < self.yellow < self.orange < self.red:
            raise RuleError("thresholds must rise: 0 < yellow < orange < red")

    def level(self, score: int) -> Level | None:
        if score >= self.red:
            return Level.RED
        if score >= self.orange:
            return Level.ORANGE
        if score >= self.yellow:
            return Level.YELLOW
        return None


@dataclass(frozen=True)
class Assessment:
    score: int
    level: Level | None
    hits: tuple[Hit, ...]

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(h.rule for h in self.hits)


def assess(
    rules: Iterable[RuleSpec], facts: Facts, as_of: date, thresholds: Thresholds
) -> Assessment:
    """Score one subject: every rule it meets, their weights summed, and the level."""
    hits = tuple(h for rule in rules if (h := evaluate(rule, facts, as_of)) is not None)
    score = sum(h.weight for h in hits)
    return Assessment(score, thresholds.level(score), hits)


# --- warnings -----------------------------------------------------------------------------


class Change(StrEnum):
    NONE = "none"
    OPEN = "open"  # a new warning
    RAISE = "raise"  # the open warning goes up a level


@dataclass(frozen=True)
class Closed:
    """The last closed warning of a subject: its level and the rules that had raised it."""

    level: Level
    rules: frozenset[str]


def warning_change(
    assessment: Assessment, *, open_level: Level | None, last_closed: Closed | None
) -> Change:
    """What a new assessment does to a subject's warnings.

    An open warning only ever goes up; it falls back only when a person closes it with an
    outcome. Once closed, the same risk does not reopen it: a new warning opens when the
    level goes above the closed one, or a rule that had not been met is met now.
    """
    level = assessment.level
    if level is None:
        return Change.NONE
    if open_level is not None:
        return Change.RAISE if level.rank > open_level.rank else Change.NONE
    if last_closed is not None and (
        level.rank <= last_closed.level.rank and assessment.rules <= last_closed.rules
    ):
        return Change.NONE
    return Change.OPEN


@dataclass(frozen=True)
class WarningClock:
    """Working days a unit has to intervene, by level (red: 1 working day)."""

    red: int = 1
    orange: int = 3
    yellow: int = 5

    def workdays(self, level: Level) -> int:
        return {Level.RED: self.red, Level.ORANGE: self.orange, Level.YELLOW: self.yellow}[level]


class Outcome(StrEnum):
    PREVENTED = "prevented"  # intervened; the wages are secured
    CASE_OPENED = "case_opened"  # arrears were found and a case registered
    NO_RISK = "no_risk"  # checked: the readings had an innocent cause
    DATA_ERROR = "data_error"  # the readings were wrong


class WarningState(StrEnum):
    OPEN = "open"
    HANDLING = "handling"
    CLOSED = "closed"


class WarningAction(StrEnum):
    ACCEPT = "accept"  # the unit intervenes (stops the clock)
    CLOSE = "close"
    REASSIGN = "reassign"


WARNING_MOVES: dict[tuple[WarningState, WarningAction], WarningState] = {
    (WarningState.OPEN, WarningAction.ACCEPT): WarningState.HANDLING,
    (WarningState.OPEN, WarningAction.CLOSE): WarningState.CLOSED,
    (WarningState.HANDLING, WarningAction.CLOSE): WarningState.CLOSED,
    (WarningState.OPEN, WarningAction.REASSIGN): WarningState.OPEN,
    (WarningState.HANDLING, WarningAction.REASSIGN): WarningState.OPEN,
}


class IllegalWarningMove(ValueError):
    pass


def warning_move(state: WarningState, action: WarningAction) -> WarningState:
    try:
        return WARNING_MOVES[(state, action)]
    except KeyError:
        raise IllegalWarningMove(f"cannot {action} a warning that is {state}") from None


# The rules a district starts with (loaded as `RiskRule` rows; administrators edit them).
DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec("electricity_drop", RuleKind.DROP, 30, Indicator.ELECTRICITY_KWH),
    RuleSpec("water_drop", RuleKind.DROP, 15, Indicator.WATER_M3),
    RuleSpec("gas_drop", RuleKind.DROP, 10, Indicator.GAS_M3),
    RuleSpec("workforce_drop", RuleKind.DROP, 15, Indicator.REGISTERED_WORKERS),
    RuleSpec("no_payroll", RuleKind.NO_PAYMENT, 40, Indicator.WAGE_ACCOUNT_PAYROLL),
    RuleSpec("wage_inflow_drop", RuleKind.DROP, 20, Indicator.WAGE_ACCOUNT_INFLOW),
    RuleSpec(
        "fund_disbursed_drop",
        RuleKind.DROP,
        20,
        Indicator.FUND_DISBURSED,
        applies_to=SubjectKind.PROJECT,
    ),
    RuleSpec("tax_rating_d", RuleKind.RATING_IN, 30, Indicator.TAX_CREDIT_RATING),
    RuleSpec(
        "tax_rating_c",
        RuleKind.RATING_IN,
        10,
        Indicator.TAX_CREDIT_RATING,
        params={"ratings": ["C"]},
    ),
    RuleSpec("property_fees_unpaid", RuleKind.AT_LEAST, 20, Indicator.PROPERTY_FEE_ARREARS_MONTHS),
    RuleSpec("system_missing", RuleKind.SYSTEMS_MISSING, 20, applies_to=SubjectKind.PROJECT),
    RuleSpec("open_cases", RuleKind.OPEN_CASES, 20),
    RuleSpec("blacklisted", RuleKind.BLACKLISTED, 40),
    RuleSpec("public_opinion", RuleKind.PUBLIC_OPINION, 30),
)
