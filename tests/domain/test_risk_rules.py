"""Risk rules on crafted series with known answers, the score and level, and warnings."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.indicators import SIX_SYSTEMS, Indicator, Period, month_of
from alerts.domain.risk import (
    DEFAULT_RULES,
    PARAM_DEFAULTS,
    WARNING_MOVES,
    Assessment,
    Change,
    Closed,
    Facts,
    Hit,
    IllegalWarningMove,
    Level,
    Opinion,
    Point,
    RuleError,
    RuleKind,
    RuleSpec,
    SubjectKind,
    Thresholds,
    WarningAction,
    WarningState,
    assess,
    evaluate,
    latest,
    latest_by_period,
    monthly_totals,
    rule_check,
    warning_change,
    warning_move,
)

RULES = {rule.code: rule for rule in DEFAULT_RULES}
ELECTRICITY_DROP = RULES["electricity_drop"]
NO_PAYROLL = RULES["no_payroll"]
TAX_RATING_D = RULES["tax_rating_d"]
TAX_RATING_C = RULES["tax_rating_c"]
PROPERTY_FEES = RULES["property_fees_unpaid"]
SYSTEM_MISSING = RULES["system_missing"]
OPEN_CASES = RULES["open_cases"]
BLACKLISTED = RULES["blacklisted"]
PUBLIC_OPINION = RULES["public_opinion"]

ELEC = Indicator.ELECTRICITY_KWH
PAYROLL = Indicator.WAGE_ACCOUNT_PAYROLL
WORKERS = Indicator.REGISTERED_WORKERS
RATING = Indicator.TAX_CREDIT_RATING
ARREARS = Indicator.PROPERTY_FEE_ARREARS_MONTHS

# Mid-October: September is the last month that is over.
MID_OCTOBER = date(2026, 10, 15)


def month(y: int, m: int) -> Period:
    return month_of(date(y, m, 1))


def day(y: int, m: int, d: int) -> Period:
    return Period(date(y, m, d), date(y, m, d))


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=UTC)


def point(
    period: Period,
    number: str | int | None,
    rid: int = 0,
    *,
    text: str = "",
    reported: datetime | None = None,
) -> Point:
    """A reading as the rules see it, reported by default the day after its period ends."""
    when = reported or datetime.combine(period.end + timedelta(days=1), datetime.min.time(), UTC)
    value = None if number is None else Decimal(str(number))
    return Point(period, value, text, when, rid)


def monthly(values: Mapping[tuple[int, int], str | int], first_id: int = 1) -> list[Point]:
    """Monthly points from {(year, month): value}, with ids counted from `first_id`."""
    return [
        point(month(y, m), value, rid)
        for rid, ((y, m), value) in enumerate(values.items(), start=first_id)
    ]


def enterprise(**series: Sequence[Point]) -> Facts:
    return Facts(SubjectKind.ENTERPRISE, {Indicator(k): v for k, v in series.items()})


def project(**series: Sequence[Point]) -> Facts:
    return Facts(SubjectKind.PROJECT, {Indicator(k): v for k, v in series.items()})


def electricity(points: Sequence[Point]) -> Facts:
    return Facts(SubjectKind.ENTERPRISE, {ELEC: points})


def with_params(rule: RuleSpec, **params: Any) -> RuleSpec:
    return rule_check(
        RuleSpec(
            rule.code,
            rule.kind,
            rule.weight,
            rule.indicator,
            {**rule.params, **params},
            rule.applies_to,
        )
    )


# --- facts: corrections, monthly totals, the latest reading -------------------------------


def test_of_two_readings_of_one_period_the_one_reported_last_wins() -> None:
    first = point(month(2026, 9), 100, 1, reported=at(2026, 10, 2))
    correction = point(month(2026, 9), 60, 2, reported=at(2026, 10, 9))
    other = point(month(2026, 8), 90, 3)

    assert latest_by_period([correction, first, other]) == {
        month(2026, 9): correction,
        month(2026, 8): other,
    }


def test_readings_reported_at_the_same_moment_are_told_apart_by_reading_id() -> None:
    same_time = at(2026, 10, 2)
    low = point(month(2026, 9), 100, 7, reported=same_time)
    high = point(month(2026, 9), 60, 8, reported=same_time)

    assert latest_by_period([high, low])[month(2026, 9)] is high
    assert latest_by_period([low, high])[month(2026, 9)] is high


def test_monthly_totals_sum_the_days_and_a_monthly_reading_wins_over_them() -> None:
    points = [
        point(day(2026, 8, 1), "10.50", 1),
        point(day(2026, 8, 2), "20.25", 2),
        point(day(2026, 9, 1), 5, 3),
        point(month(2026, 9), 300, 4),
        point(month(2026, 7), 250, 5),
    ]

    assert monthly_totals(points) == {
        date(2026, 7, 1): (Decimal(250), (5,)),
        date(2026, 8, 1): (Decimal("30.75"), (1, 2)),
        date(2026, 9, 1): (Decimal(300), (4,)),
    }


def test_monthly_totals_of_a_level_take_the_last_days_figure_not_the_sum() -> None:
    points = [
        point(day(2026, 8, 15), 120, 2),
        point(day(2026, 8, 31), 90, 3),  # the last day of August, given out of order
        point(day(2026, 8, 1), 100, 1),
        point(day(2026, 9, 1), 5, 4),
        point(month(2026, 9), 80, 5),  # a monthly reading still wins over the days
        point(day(2026, 7, 10), 70, 6, reported=at(2026, 7, 11)),
        point(day(2026, 7, 10), 75, 7, reported=at(2026, 7, 20)),  # a correction of the day
        point(day(2026, 7, 3), 60, 8),
    ]

    assert monthly_totals(points, level=True) == {
        date(2026, 7, 1): (Decimal(75), (7,)),
        date(2026, 8, 1): (Decimal(90), (3,)),
        date(2026, 9, 1): (Decimal(80), (5,)),
    }
    assert monthly_totals(points)[date(2026, 8, 1)] == (Decimal(310), (1, 2, 3))


def test_latest_is_the_reading_of_the_latest_period_that_has_begun() -> None:
    old = point(month(2026, 8), 1, 1)
    newer_day = point(day(2026, 9, 20), 2, 2)
    future = point(month(2026, 10), 3, 3)

    assert latest([future, old, newer_day], date(2026, 9, 30)) is newer_day
    assert latest([future, old, newer_day], date(2026, 10, 1)) is future
    assert latest([future], date(2026, 9, 30)) is None
    assert latest([], date(2026, 9, 30)) is None


# --- DROP ---------------------------------------------------------------------------------

STEADY = {(2026, 6): "100.00", (2026, 7): "100.00", (2026, 8): "100.00"}


def test_electricity_down_by_half_against_the_three_months_before_is_a_hit() -> None:
    facts = electricity(monthly({**STEADY, (2026, 9): "50.00"}))

    hit = evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER)

    assert hit == Hit(
        "electricity_drop",
        30,
        {
            "indicator": "electricity_kwh",
            "month": "2026-09",
            "value": "50.00",
            "average": "100.00",
            "months": 3,
            "change": -0.5,
        },
        (1, 2, 3, 4),
    )


@pytest.mark.parametrize(
    ("september", "hit"),
    [
        ("0.00", True),
        ("49.99", True),
        ("50.00", True),  # exactly half is enough
        ("50.01", False),
        ("60.00", False),  # down by 40%
        ("100.00", False),
        ("250.00", False),  # a rise is no drop
    ],
)
def test_a_drop_is_a_hit_only_when_it_reaches_the_ratio(september: str, hit: bool) -> None:
    facts = electricity(monthly({**STEADY, (2026, 9): september}))

    assert (evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is not None) is hit


def test_a_month_missing_from_the_baseline_is_left_out_of_the_average_not_taken_as_zero() -> None:
    # June 90, July missing, August 120: the average is 105 (not 70), so 52 is a drop.
    facts = electricity(monthly({(2026, 6): 90, (2026, 8): 120, (2026, 9): 52}))

    hit = evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER)

    assert hit is not None
    assert (hit.detail["average"], hit.detail["months"]) == ("105.00", 2)
    assert hit.readings == (1, 2, 3)


def test_a_baseline_of_one_month_is_too_thin_with_min_months_two() -> None:
    facts = electricity(monthly({(2026, 8): 100, (2026, 9): 10}))

    assert evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is None
    assert evaluate(with_params(ELECTRICITY_DROP, min_months=1), facts, MID_OCTOBER) is not None


def test_a_baseline_month_older_than_the_months_looked_back_is_not_counted() -> None:
    # May is four months before September: with months=3 only August counts.
    facts = electricity(monthly({(2026, 5): 100, (2026, 8): 100, (2026, 9): 10}))

    assert evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is None
    assert evaluate(with_params(ELECTRICITY_DROP, months=4), facts, MID_OCTOBER) is not None


def test_the_ratio_parameter_sets_how_far_a_figure_must_fall() -> None:
    facts = electricity(monthly({**STEADY, (2026, 9): 75}))

    assert evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is None
    assert evaluate(with_params(ELECTRICITY_DROP, ratio=0.25), facts, MID_OCTOBER) is not None


def test_the_month_under_way_is_not_compared() -> None:
    # Ten days of October so far: far below a month, but October is not over.
    october = [point(day(2026, 10, d), 3, 100 + d) for d in range(1, 11)]
    facts = electricity([*monthly({**STEADY, (2026, 9): 100}), *october])

    assert evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is None


def test_the_month_under_way_is_not_compared_even_on_its_last_day() -> None:
    # October's 30 would be a drop against 100, but only once October is over.
    october = [point(day(2026, 10, d), 3, 100 + d) for d in range(1, 11)]
    facts = electricity([*monthly({**STEADY, (2026, 9): 100}), *october])

    assert evaluate(ELECTRICITY_DROP, facts, date(2026, 10, 30)) is None
    assert evaluate(ELECTRICITY_DROP, facts, date(2026, 10, 31)) is None
    hit = evaluate(ELECTRICITY_DROP, facts, date(2026, 11, 1))
    assert hit is not None
    assert (hit.detail["month"], hit.detail["value"]) == ("2026-10", "30")


@pytest.mark.parametrize(
    ("as_of", "hit"),
    [
        (date(2026, 9, 30), False),  # September is under way (even on its last day)
        (date(2026, 10, 1), True),  # September is the last month over
        (date(2026, 10, 31), True),  # October is under way: September is still the last over
        (date(2026, 11, 15), True),  # October is the last month over; September one behind
        (date(2026, 11, 30), True),  # November is under way: September is still one behind
        (date(2026, 12, 1), False),  # November is over: September is two behind, stale
        (date(2026, 12, 15), False),
        (date(2027, 3, 1), False),
    ],
)
def test_figures_that_stopped_coming_say_nothing_of_now(as_of: date, hit: bool) -> None:
    facts = electricity(monthly({**STEADY, (2026, 9): 10}))

    assert (evaluate(ELECTRICITY_DROP, facts, as_of) is not None) is hit


def test_max_age_months_one_wants_the_last_month_that_is_over() -> None:
    facts = electricity(monthly({**STEADY, (2026, 9): 10}))
    rule = with_params(ELECTRICITY_DROP, max_age_months=1)

    assert evaluate(rule, facts, date(2026, 9, 30)) is None  # September is not over
    assert evaluate(rule, facts, date(2026, 10, 1)) is not None
    assert evaluate(rule, facts, date(2026, 10, 31)) is not None  # October is not over yet
    assert evaluate(rule, facts, date(2026, 11, 1)) is None  # October is over, not in


def test_max_age_months_counts_back_from_the_last_month_that_is_over() -> None:
    facts = electricity(monthly({**STEADY, (2026, 9): 10}))
    rule = with_params(ELECTRICITY_DROP, max_age_months=6)

    # In March 2027 February is the last month over; September is five months behind it.
    assert evaluate(rule, facts, date(2027, 3, 31)) is not None
    assert evaluate(rule, facts, date(2027, 4, 1)) is None  # six behind March: stale


def test_daily_readings_are_summed_into_their_month() -> None:
    september = [
        point(day(2026, 9, 1), 20, 11),
        point(day(2026, 9, 2), 20, 12),
        point(day(2026, 9, 3), 10, 13),
    ]
    facts = electricity([*monthly(STEADY), *september])

    hit = evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER)

    assert hit is not None
    assert (hit.detail["month"], hit.detail["value"]) == ("2026-09", "50")
    assert hit.readings == (1, 2, 3, 11, 12, 13)


def test_daily_readings_make_up_the_baseline_too() -> None:
    baseline = [point(day(2026, m, d), 50, m * 100 + d) for m in (6, 7, 8) for d in (1, 2)]
    facts = electricity([*baseline, point(month(2026, 9), 40, 1)])

    hit = evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER)

    assert hit is not None
    assert (hit.detail["average"], hit.detail["change"]) == ("100.00", -0.6)


def test_a_monthly_reading_wins_over_the_daily_ones_of_its_month() -> None:
    days = [point(day(2026, 9, d), 1, 100 + d) for d in range(1, 6)]  # 5 in all

    full_month = electricity([*monthly({**STEADY, (2026, 9): 100}), *days])
    assert evaluate(ELECTRICITY_DROP, full_month, MID_OCTOBER) is None

    low_month = electricity(
        [*monthly(STEADY), point(month(2026, 9), 50, 4), point(day(2026, 9, 1), 100, 5)]
    )
    hit = evaluate(ELECTRICITY_DROP, low_month, MID_OCTOBER)
    assert hit is not None
    assert hit.readings == (1, 2, 3, 4)  # the daily reading is not among them


def test_a_late_correction_that_lowers_a_month_makes_a_drop() -> None:
    reported = point(month(2026, 9), 100, 4, reported=at(2026, 10, 2))
    corrected = point(month(2026, 9), 40, 5, reported=at(2026, 10, 9))

    before = electricity([*monthly(STEADY), reported])
    after = electricity([*monthly(STEADY), corrected, reported])

    assert evaluate(ELECTRICITY_DROP, before, MID_OCTOBER) is None
    hit = evaluate(ELECTRICITY_DROP, after, MID_OCTOBER)
    assert hit is not None
    assert hit.detail["value"] == "40"
    assert hit.readings == (1, 2, 3, 5)


def test_a_late_correction_that_raises_a_month_removes_the_drop() -> None:
    reported = point(month(2026, 9), 40, 4, reported=at(2026, 10, 2))
    corrected = point(month(2026, 9), 95, 5, reported=at(2026, 10, 9))

    assert evaluate(ELECTRICITY_DROP, electricity([*monthly(STEADY), reported]), MID_OCTOBER)
    assert (
        evaluate(
            ELECTRICITY_DROP, electricity([corrected, *monthly(STEADY), reported]), MID_OCTOBER
        )
        is None
    )


def test_a_late_correction_of_the_baseline_counts_too() -> None:
    # August was first reported as 10 (an average of 70: 40 is no drop), then corrected to 100.
    wrong_august = point(month(2026, 8), 10, 3, reported=at(2026, 9, 2))
    right_august = point(month(2026, 8), 100, 9, reported=at(2026, 10, 3))
    points = [
        *monthly({(2026, 6): 100, (2026, 7): 100}),
        wrong_august,
        point(month(2026, 9), 40, 4),
    ]

    assert evaluate(ELECTRICITY_DROP, electricity(points), MID_OCTOBER) is None
    hit = evaluate(ELECTRICITY_DROP, electricity([*points, right_august]), MID_OCTOBER)
    assert hit is not None
    assert hit.readings == (1, 2, 4, 9)


@pytest.mark.parametrize("september", [0, 5])
def test_a_baseline_of_zero_is_no_drop(september: int) -> None:
    facts = electricity(monthly({(2026, 6): 0, (2026, 7): 0, (2026, 8): 0, (2026, 9): september}))

    assert evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is None


def test_no_readings_is_no_drop() -> None:
    assert evaluate(ELECTRICITY_DROP, electricity([]), MID_OCTOBER) is None
    assert evaluate(ELECTRICITY_DROP, enterprise(), MID_OCTOBER) is None


def test_readings_of_periods_that_begin_after_as_of_are_ignored() -> None:
    facts = electricity(
        [*monthly({**STEADY, (2026, 9): 100}), point(month(2026, 10), 1, 50)]  # October
    )

    assert evaluate(ELECTRICITY_DROP, facts, date(2026, 9, 30)) is None


def test_a_drop_rule_reads_only_its_own_indicator() -> None:
    facts = enterprise(water_m3=monthly({**STEADY, (2026, 9): 10}))

    assert evaluate(ELECTRICITY_DROP, facts, MID_OCTOBER) is None
    assert evaluate(RULES["water_drop"], facts, MID_OCTOBER) is not None


def test_a_drop_rule_for_projects_does_not_apply_to_an_enterprise() -> None:
    series = monthly({**STEADY, (2026, 9): 10})

    rule = RULES["fund_disbursed_drop"]
    assert evaluate(rule, enterprise(fund_disbursed=series), MID_OCTOBER) is None
    assert evaluate(rule, project(fund_disbursed=series), MID_OCTOBER) is not None


def test_a_steady_headcount_reported_more_often_in_some_months_is_no_drop() -> None:
    # Summed, June to August would be 200 each and September 100: a 50% drop.
    twice = [point(day(2026, m, d), 100, m * 100 + d) for m in (6, 7, 8) for d in (1, 15)]
    once = point(day(2026, 9, 1), 100, 901)
    facts = enterprise(registered_workers=[*twice, once])

    assert evaluate(RULES["workforce_drop"], facts, MID_OCTOBER) is None


def test_a_headcount_drop_compares_each_months_last_figure() -> None:
    # September ends at 40 after 100 on the 1st: summed it would be 140 against 200 (-30%).
    baseline = [point(day(2026, m, d), 100, m * 100 + d) for m in (6, 7, 8) for d in (1, 15)]
    september = [point(day(2026, 9, 1), 100, 901), point(day(2026, 9, 15), 40, 915)]
    facts = enterprise(registered_workers=[*baseline, *september])

    hit = evaluate(RULES["workforce_drop"], facts, MID_OCTOBER)

    assert hit is not None
    assert (hit.detail["value"], hit.detail["average"], hit.detail["change"]) == (
        "40",
        "100.00",
        -0.6,
    )
    assert hit.readings == (615, 715, 815, 915)


# --- NO_PAYMENT ---------------------------------------------------------------------------

WORKERS_50 = point(month(2026, 6), 50, 90)


def payroll_facts(payroll: Sequence[Point]) -> Facts:
    return Facts(SubjectKind.ENTERPRISE, {PAYROLL: payroll, WORKERS: [WORKERS_50]})


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def daily_zeros(first: date, last: date, first_id: int) -> list[Point]:
    """A daily feed reporting nothing paid on each day from `first` to `last`."""
    return [
        point(Period(d, d), 0, rid) for rid, d in enumerate(days_between(first, last), first_id)
    ]


def known_on(points: Sequence[Point], as_of: date) -> list[Point]:
    """The readings the feed had delivered by the end of day `as_of`."""
    return [p for p in points if p.reported_at.date() <= as_of]


@pytest.mark.parametrize(
    ("as_of", "hit"),
    [(date(2026, 9, 29), False), (date(2026, 9, 30), True), (date(2026, 12, 1), True)],
)
def test_no_payroll_for_thirty_days_or_more_with_workers_registered_is_a_hit(
    as_of: date, hit: bool
) -> None:
    # Paid for August; the feed then reports September, October and November as zero.
    facts = payroll_facts(
        monthly({(2026, 8): "86000.00", (2026, 9): 0, (2026, 10): 0, (2026, 11): 0})
    )

    assert (evaluate(NO_PAYROLL, facts, as_of) is not None) is hit


def test_a_no_payroll_hit_says_when_it_was_last_paid_and_for_how_many() -> None:
    facts = payroll_facts(
        [
            point(day(2026, 8, 20), 100, 1),
            point(day(2026, 8, 31), 200, 2),
            point(day(2026, 9, 15), 0, 3),
            point(day(2026, 10, 5), 0, 4),
        ]
    )

    hit = evaluate(NO_PAYROLL, facts, date(2026, 10, 5))

    # It cites the workers, the last payment (not the one before it) and the zeros since.
    assert hit == Hit(
        "no_payroll",
        40,
        {
            "indicator": "wage_account_payroll",
            "last_paid": "2026-08-31",
            "days": 35,
            "workers": 50,
        },
        (2, 3, 4, 90),
    )


@pytest.mark.parametrize(
    ("workers", "hit"),
    [
        ([point(month(2026, 6), 50, 90)], True),
        ([point(month(2026, 6), 0, 90), point(month(2026, 8), 3, 91)], True),  # hired since
        ([], False),
        ([point(month(2026, 6), 0, 90)], False),
        ([point(month(2026, 6), 50, 90), point(month(2026, 8), 0, 91)], False),  # all gone
        ([point(month(2026, 11), 50, 90)], False),  # a headcount of a month not yet begun
    ],
)
def test_no_payroll_is_a_hit_only_while_workers_are_registered(
    workers: list[Point], hit: bool
) -> None:
    facts = Facts(
        SubjectKind.ENTERPRISE, {PAYROLL: [point(day(2026, 6, 30), 1, 1)], WORKERS: workers}
    )

    assert (evaluate(NO_PAYROLL, facts, date(2026, 10, 15)) is not None) is hit


@pytest.mark.parametrize(
    ("zeros", "as_of", "found"),
    [
        ([day(2026, 8, 31), day(2026, 9, 30)], date(2026, 9, 30), (30, (1, 2, 90))),
        ([day(2026, 8, 31), day(2026, 9, 29)], date(2026, 10, 1), None),  # 29 days reported
        (
            [day(2026, 8, 31), day(2026, 9, 15), day(2026, 9, 30)],
            date(2026, 9, 30),
            (30, (1, 2, 3, 90)),
        ),  # from the first
        ([month(2026, 8)], date(2026, 8, 30), None),  # a month of nothing from its start
        ([month(2026, 8)], date(2026, 8, 31), (30, (1, 90))),
        ([month(2026, 8)], date(2026, 9, 15), (30, (1, 90))),  # September not reported yet
        (
            [month(2026, 8), month(2026, 9)],
            date(2026, 10, 15),
            (75, (1, 2, 90)),
        ),  # 30 + 45 days of it
        # The feed has been silent since: from 30 + 45 days after August 1 it says so.
        ([month(2026, 8), month(2026, 9)], date(2026, 10, 16), (76, (1, 2, 90))),
        ([day(2026, 8, 31)], date(2026, 11, 13), None),
        ([day(2026, 8, 31)], date(2026, 11, 15), (76, (1, 90))),
    ],
)
def test_never_paid_counts_from_the_first_period_the_feed_reported(
    zeros: list[Period], as_of: date, found: tuple[int, tuple[int, ...]] | None
) -> None:
    # The hit cites the workers reading (90) and the zero payroll readings it counted from.
    facts = payroll_facts([point(period, 0, rid) for rid, period in enumerate(zeros, start=1)])

    hit = evaluate(NO_PAYROLL, facts, as_of)

    got = None if hit is None else (hit.detail["days"], hit.detail["last_paid"], hit.readings)
    assert got == (None if found is None else (found[0], None, found[1]))


def test_no_payroll_feed_for_the_subject_is_no_hit() -> None:
    assert evaluate(NO_PAYROLL, payroll_facts([]), date(2027, 1, 1)) is None


def test_a_zero_payroll_of_the_month_under_way_counts_from_its_first_day() -> None:
    # Only a reading of the month under way, of nothing paid: the clock runs from October 1.
    facts = payroll_facts([point(month(2026, 10), 0, 1, reported=at(2026, 10, 10))])
    rule = with_params(NO_PAYROLL, days=14)

    assert evaluate(NO_PAYROLL, facts, date(2026, 10, 15)) is None
    assert evaluate(NO_PAYROLL, facts, date(2026, 10, 30)) is None  # 29 days
    assert evaluate(NO_PAYROLL, facts, date(2026, 10, 31)) is not None  # the whole month
    assert evaluate(rule, facts, date(2026, 10, 14)) is None
    hit = evaluate(rule, facts, date(2026, 10, 15))
    assert hit is not None
    assert (hit.detail["days"], hit.detail["last_paid"], hit.readings) == (14, None, (1, 90))


def test_a_payroll_reported_late_for_an_earlier_day_clears_the_hit() -> None:
    old = point(day(2026, 8, 31), 100, 1)
    nothing = point(day(2026, 10, 15), 0, 3)
    late = point(day(2026, 9, 25), 100, 2, reported=at(2026, 10, 20))

    assert evaluate(NO_PAYROLL, payroll_facts([old, nothing]), date(2026, 10, 20)) is not None
    assert evaluate(NO_PAYROLL, payroll_facts([old, nothing, late]), date(2026, 10, 20)) is None


def test_a_payroll_of_zero_is_no_payment() -> None:
    paid = point(day(2026, 8, 31), 100, 1)
    nothing = point(day(2026, 10, 5), 0, 2)

    hit = evaluate(NO_PAYROLL, payroll_facts([paid, nothing]), date(2026, 10, 5))

    assert hit is not None
    assert (hit.detail["last_paid"], hit.detail["days"], hit.readings) == (
        "2026-08-31",
        35,
        (1, 2, 90),
    )


def test_a_payroll_corrected_to_zero_is_no_longer_a_payment() -> None:
    paid = point(day(2026, 9, 25), 100, 1, reported=at(2026, 9, 26))
    corrected = point(day(2026, 9, 25), 0, 2, reported=at(2026, 10, 1))
    earlier = point(day(2026, 8, 31), 100, 3)
    nothing = point(day(2026, 10, 5), 0, 4)

    assert evaluate(NO_PAYROLL, payroll_facts([earlier, paid, nothing]), date(2026, 10, 5)) is None
    hit = evaluate(
        NO_PAYROLL, payroll_facts([earlier, paid, corrected, nothing]), date(2026, 10, 5)
    )
    assert hit is not None
    # The corrected reading is now one of the zeros since the last payment.
    assert (hit.detail["last_paid"], hit.detail["days"], hit.readings) == (
        "2026-08-31",
        35,
        (2, 3, 4, 90),
    )


@pytest.mark.parametrize(
    ("as_of", "days"),
    [(date(2026, 9, 29), None), (date(2026, 9, 30), 30), (date(2026, 11, 5), 61)],
)
def test_a_monthly_payroll_is_dated_by_the_last_day_of_its_month(
    as_of: date, days: int | None
) -> None:
    # Dated by August 1, September 29 would already be 59 days without pay.
    facts = payroll_facts(monthly({(2026, 8): "86000.00", (2026, 9): 0, (2026, 10): 0}))

    hit = evaluate(NO_PAYROLL, facts, as_of)

    found = None if hit is None else (hit.detail["days"], hit.detail["last_paid"])
    assert found == (None if days is None else (days, "2026-08-31"))


def test_a_payroll_reported_for_the_month_under_way_counts_as_a_payment() -> None:
    unpaid = monthly({(2026, 8): 100, (2026, 9): 0, (2026, 10): 0})
    november = point(month(2026, 11), 100, 4, reported=at(2026, 11, 10))

    assert evaluate(NO_PAYROLL, payroll_facts(unpaid), date(2026, 11, 15)) is not None
    assert evaluate(NO_PAYROLL, payroll_facts([*unpaid, november]), date(2026, 11, 15)) is None


def test_the_days_parameter_sets_how_long_without_payroll_is_too_long() -> None:
    # A daily feed: paid on September 1, then nothing paid each day through October.
    facts = payroll_facts(
        [point(day(2026, 9, 1), 100, 1), *daily_zeros(date(2026, 9, 2), date(2026, 10, 31), 2)]
    )
    rule = with_params(NO_PAYROLL, days=14)

    assert evaluate(NO_PAYROLL, facts, date(2026, 9, 15)) is None
    assert evaluate(rule, facts, date(2026, 9, 14)) is None
    assert evaluate(rule, facts, date(2026, 9, 15)) is not None
    assert evaluate(NO_PAYROLL, facts, date(2026, 9, 30)) is None
    assert evaluate(NO_PAYROLL, facts, date(2026, 10, 1)) is not None


@pytest.mark.parametrize("as_of", [date(2026, 6, 3), date(2026, 7, 3), date(2026, 8, 13)])
def test_between_two_monthly_payroll_feeds_a_month_not_reported_yet_is_no_hit(
    as_of: date,
) -> None:
    # Paid for May; June's figure has not come in yet (it arrives after June is over).
    facts = payroll_facts(monthly({(2026, 4): 100, (2026, 5): 100}))

    assert evaluate(NO_PAYROLL, facts, as_of) is None


def test_a_missing_months_reading_is_no_hit_on_any_day() -> None:
    # A monthly feed paid May and July; June's reading never came. Each figure arrives a few
    # days after its month; on each day the rule sees only what had arrived by then.
    feed = [
        point(month(2026, 5), 100, 1, reported=at(2026, 6, 5)),
        point(month(2026, 7), 100, 3, reported=at(2026, 8, 5)),
    ]

    for as_of in days_between(date(2026, 5, 1), date(2026, 10, 13)):
        assert evaluate(NO_PAYROLL, payroll_facts(known_on(feed, as_of)), as_of) is None, as_of
    # Only once the feed has said nothing for 30 + 45 days after July.
    assert evaluate(NO_PAYROLL, payroll_facts(feed), date(2026, 10, 14)) is not None


MAY_PAID = point(month(2026, 5), 100, 1)
JUNE_ZERO = point(month(2026, 6), 0, 2)
JULY_ZERO = point(month(2026, 7), 0, 3)
PAID_MAY_20 = point(day(2026, 5, 20), 100, 1)


@pytest.mark.parametrize(
    ("payroll", "as_of", "found"),
    [
        # Paid for May, June reported as zero: a hit once June's 30 days are reported.
        ([MAY_PAID, JUNE_ZERO], date(2026, 6, 29), None),
        ([MAY_PAID, JUNE_ZERO], date(2026, 6, 30), (30, "2026-05-31", (1, 2, 90))),
        ([MAY_PAID, JUNE_ZERO], date(2026, 8, 10), (30, "2026-05-31", (1, 2, 90))),
        ([MAY_PAID, JUNE_ZERO, JULY_ZERO], date(2026, 8, 10), (61, "2026-05-31", (1, 2, 3, 90))),
        # Last paid on May 20, June reported as zero: a hit from June 19.
        ([PAID_MAY_20, JUNE_ZERO], date(2026, 6, 18), None),
        ([PAID_MAY_20, JUNE_ZERO], date(2026, 6, 19), (30, "2026-05-20", (1, 2, 90))),
        ([PAID_MAY_20, JUNE_ZERO], date(2026, 7, 10), (41, "2026-05-20", (1, 2, 90))),
    ],
)
def test_zeros_reported_for_thirty_days_after_the_last_payment_are_a_hit(
    payroll: list[Point], as_of: date, found: tuple[int, str, tuple[int, ...]] | None
) -> None:
    # "days" is the unpaid span the feed reported (not the days to as_of); the hit cites the
    # workers, the last payment and every zero reported since.
    hit = evaluate(NO_PAYROLL, payroll_facts(payroll), as_of)

    got = None if hit is None else (hit.detail["days"], hit.detail["last_paid"], hit.readings)
    assert got == found


@pytest.mark.parametrize(
    ("silence_days", "quiet_until", "hit_from"),
    [
        (45, date(2026, 8, 13), date(2026, 8, 14)),  # 75 days after May 31
        (10, date(2026, 7, 9), date(2026, 7, 10)),  # 40 days
        (0, date(2026, 6, 29), date(2026, 6, 30)),  # silence counts once `days` are past
    ],
)
def test_a_feed_silent_for_days_and_silence_days_is_a_hit(
    silence_days: int, quiet_until: date, hit_from: date
) -> None:
    # Paid for April and May; nothing reported since, not even zeros.
    facts = payroll_facts(monthly({(2026, 4): 100, (2026, 5): 100}))
    rule = with_params(NO_PAYROLL, silence_days=silence_days)

    assert evaluate(rule, facts, quiet_until) is None
    assert evaluate(rule, facts, hit_from) is not None
    later = hit_from + timedelta(days=1)
    hit = evaluate(rule, facts, later)
    assert hit is not None
    assert (hit.detail["days"], hit.detail["last_paid"], hit.readings) == (
        (later - date(2026, 5, 31)).days,
        "2026-05-31",
        (2, 90),
    )


def test_a_silent_hit_after_some_zeros_says_how_long_the_feed_was_silent() -> None:
    # Paid on May 31, nothing paid reported for June 15 (15 days), then silence.
    facts = payroll_facts([point(day(2026, 5, 31), 100, 1), point(day(2026, 6, 15), 0, 2)])

    assert evaluate(NO_PAYROLL, facts, date(2026, 8, 13)) is None
    hit = evaluate(NO_PAYROLL, facts, date(2026, 8, 15))

    assert hit is not None
    assert (hit.detail["days"], hit.detail["last_paid"], hit.readings) == (
        76,
        "2026-05-31",
        (1, 2, 90),
    )


def test_no_payroll_takes_silence_days_45_when_left_out() -> None:
    assert NO_PAYROLL.param("silence_days") == 45
    assert with_params(NO_PAYROLL, days=14).param("silence_days") == 45


# --- RATING_IN ----------------------------------------------------------------------------


def ratings(*letters: tuple[Period, str]) -> Facts:
    return enterprise(
        tax_credit_rating=[
            point(period, None, rid, text=letter)
            for rid, (period, letter) in enumerate(letters, start=1)
        ]
    )


def test_a_latest_rating_of_d_is_a_hit() -> None:
    facts = ratings((month(2025, 4), "B"), (month(2026, 4), "D"))

    assert evaluate(TAX_RATING_D, facts, MID_OCTOBER) == Hit(
        "tax_rating_d",
        30,
        {"indicator": "tax_credit_rating", "rating": "D", "period": "2026-04"},
        (2,),
    )


def test_a_rating_improved_since_a_d_is_no_hit() -> None:
    facts = ratings((month(2025, 4), "D"), (month(2026, 4), "B"))

    assert evaluate(TAX_RATING_D, facts, MID_OCTOBER) is None


def test_a_rating_of_a_period_not_yet_begun_is_not_the_latest() -> None:
    facts = ratings((month(2026, 4), "D"), (month(2026, 11), "A"))

    assert evaluate(TAX_RATING_D, facts, MID_OCTOBER) is not None


@pytest.mark.parametrize(
    ("as_of", "hit"),
    [
        (date(2026, 4, 30) + timedelta(days=366), True),  # the default max_age_days
        (date(2026, 4, 30) + timedelta(days=367), False),  # stale
    ],
)
def test_a_rating_older_than_max_age_days_is_stale(as_of: date, hit: bool) -> None:
    facts = ratings((month(2026, 4), "D"))

    assert (evaluate(TAX_RATING_D, facts, as_of) is not None) is hit


@pytest.mark.parametrize(
    ("letter", "d_rule", "c_rule"),
    [
        ("A", False, False),
        ("B", False, False),
        ("M", False, False),
        ("C", False, True),
        ("D", True, False),
    ],
)
def test_each_rating_rule_looks_for_its_own_letters(
    letter: str, d_rule: bool, c_rule: bool
) -> None:
    facts = ratings((month(2026, 4), letter))

    assert (evaluate(TAX_RATING_D, facts, MID_OCTOBER) is not None) is d_rule
    assert (evaluate(TAX_RATING_C, facts, MID_OCTOBER) is not None) is c_rule


def test_a_rating_rule_may_look_for_several_letters() -> None:
    rule = with_params(TAX_RATING_D, ratings=["C", "D"])

    assert evaluate(rule, ratings((month(2026, 4), "C")), MID_OCTOBER) is not None
    assert evaluate(rule, ratings((month(2026, 4), "M")), MID_OCTOBER) is None


def test_no_rating_is_no_hit() -> None:
    assert evaluate(TAX_RATING_D, enterprise(), MID_OCTOBER) is None


# --- AT_LEAST -----------------------------------------------------------------------------


@pytest.mark.parametrize(("months", "hit"), [(0, False), (2, False), (3, True), (7, True)])
def test_property_fees_unpaid_for_three_months_or_more_is_a_hit(months: int, hit: bool) -> None:
    facts = enterprise(property_fee_arrears_months=[point(month(2026, 9), months, 1)])

    found = evaluate(PROPERTY_FEES, facts, MID_OCTOBER)

    assert (found is not None) is hit
    if found is not None:
        assert found.detail == {
            "indicator": "property_fee_arrears_months",
            "value": str(months),
            "period": "2026-09",
        }
        assert found.readings == (1,)


@pytest.mark.parametrize(
    ("as_of", "hit"),
    [
        (date(2026, 9, 30) + timedelta(days=62), True),
        (date(2026, 9, 30) + timedelta(days=63), False),  # stale
    ],
)
def test_arrears_older_than_max_age_days_are_stale(as_of: date, hit: bool) -> None:
    facts = enterprise(property_fee_arrears_months=[point(month(2026, 9), 3, 1)])

    assert (evaluate(PROPERTY_FEES, facts, as_of) is not None) is hit


def test_arrears_paid_off_since_are_no_hit() -> None:
    facts = enterprise(
        property_fee_arrears_months=[point(month(2026, 8), 5, 1), point(month(2026, 9), 0, 2)]
    )

    assert evaluate(PROPERTY_FEES, facts, MID_OCTOBER) is None


def test_the_value_parameter_sets_the_bar() -> None:
    facts = enterprise(property_fee_arrears_months=[point(month(2026, 9), 2, 1)])

    assert evaluate(with_params(PROPERTY_FEES, value=2), facts, MID_OCTOBER) is not None


def test_an_at_least_rule_on_a_quantity_reads_its_decimal() -> None:
    rule = rule_check(
        RuleSpec(
            "big_inflow", RuleKind.AT_LEAST, 5, Indicator.WAGE_ACCOUNT_INFLOW, {"value": 1000.5}
        )
    )
    facts = enterprise(wage_account_inflow=[point(day(2026, 10, 1), "1000.50", 1)])

    hit = evaluate(rule, facts, MID_OCTOBER)

    assert hit is not None
    assert hit.detail["value"] == "1000.5"


# --- SYSTEMS_MISSING ----------------------------------------------------------------------


def systems(*flags: tuple[Indicator, Period, int, int]) -> Facts:
    series: dict[Indicator, list[Point]] = {}
    for system, period, flag, rid in flags:
        series.setdefault(system, []).append(point(period, flag, rid))
    return Facts(SubjectKind.PROJECT, series)


def test_a_system_not_in_place_is_a_hit_that_names_it() -> None:
    facts = systems(
        (Indicator.SYSTEM_REAL_NAME, month(2026, 9), 1, 1),
        (Indicator.SYSTEM_WAGE_ACCOUNT, month(2026, 9), 0, 2),
        (Indicator.SYSTEM_NOTICE_BOARD, day(2026, 10, 3), 1, 3),
    )

    assert evaluate(SYSTEM_MISSING, facts, MID_OCTOBER) == Hit(
        "system_missing", 20, {"systems": ["system_wage_account"]}, (2,)
    )


def test_every_missing_system_is_named_in_the_order_of_the_rule() -> None:
    facts = systems(
        (Indicator.SYSTEM_NOTICE_BOARD, month(2026, 9), 0, 6),
        (Indicator.SYSTEM_REAL_NAME, month(2026, 9), 0, 1),
    )

    hit = evaluate(SYSTEM_MISSING, facts, MID_OCTOBER)

    assert hit is not None
    assert hit.detail == {"systems": ["system_real_name", "system_notice_board"]}
    assert hit.readings == (1, 6)


def test_a_system_put_in_place_since_is_no_hit() -> None:
    facts = systems(
        (Indicator.SYSTEM_MONTHLY_PAY, month(2026, 8), 0, 1),
        (Indicator.SYSTEM_MONTHLY_PAY, day(2026, 9, 12), 1, 2),
    )

    assert evaluate(SYSTEM_MISSING, facts, MID_OCTOBER) is None


def test_a_system_corrected_to_in_place_is_no_hit() -> None:
    wrong = point(month(2026, 9), 0, 1, reported=at(2026, 10, 1))
    right = point(month(2026, 9), 1, 2, reported=at(2026, 10, 2))

    facts = Facts(SubjectKind.PROJECT, {Indicator.SYSTEM_GUARANTEE_DEPOSIT: [wrong, right]})

    assert evaluate(SYSTEM_MISSING, facts, MID_OCTOBER) is None


def test_no_system_readings_is_no_hit() -> None:
    assert evaluate(SYSTEM_MISSING, project(), MID_OCTOBER) is None


def test_the_systems_rule_applies_to_projects_only() -> None:
    # An enterprise cannot have these readings (the parser refuses them); even if it did:
    facts = Facts(
        SubjectKind.ENTERPRISE, {Indicator.SYSTEM_REAL_NAME: [point(month(2026, 9), 0, 1)]}
    )

    assert evaluate(SYSTEM_MISSING, facts, MID_OCTOBER) is None
    assert not any(
        h.rule == "system_missing"
        for h in assess(DEFAULT_RULES, facts, MID_OCTOBER, Thresholds()).hits
    )


def test_a_systems_rule_looks_only_at_the_systems_it_names() -> None:
    rule = with_params(SYSTEM_MISSING, systems=["system_real_name"])
    facts = systems((Indicator.SYSTEM_WAGE_ACCOUNT, month(2026, 9), 0, 1))

    assert evaluate(rule, facts, MID_OCTOBER) is None
    assert evaluate(SYSTEM_MISSING, facts, MID_OCTOBER) is not None


# --- OPEN_CASES, BLACKLISTED, PUBLIC_OPINION ----------------------------------------------


@pytest.mark.parametrize(("cases", "hit"), [(0, False), (1, True), (4, True)])
def test_open_wage_arrears_cases_are_a_hit(cases: int, hit: bool) -> None:
    found = evaluate(OPEN_CASES, Facts(SubjectKind.PROJECT, open_cases=cases), MID_OCTOBER)

    assert (found is not None) is hit
    if found is not None:
        assert (found.detail, found.readings) == ({"open_cases": cases}, ())


@pytest.mark.parametrize(("cases", "hit"), [(2, False), (3, True)])
def test_the_min_parameter_sets_how_many_open_cases_it_takes(cases: int, hit: bool) -> None:
    rule = with_params(OPEN_CASES, min=3)

    found = evaluate(rule, Facts(SubjectKind.ENTERPRISE, open_cases=cases), MID_OCTOBER)

    assert (found is not None) is hit


@pytest.mark.parametrize("kind", list(SubjectKind))
def test_a_blacklisted_subject_is_a_hit(kind: SubjectKind) -> None:
    assert evaluate(BLACKLISTED, Facts(kind, blacklisted=True), MID_OCTOBER) == Hit(
        "blacklisted", 40, {"blacklisted": True}
    )
    assert evaluate(BLACKLISTED, Facts(kind), MID_OCTOBER) is None


def opinions(*items: tuple[date, int]) -> Facts:
    return Facts(
        SubjectKind.ENTERPRISE,
        opinions=[Opinion(when, reach, i) for i, (when, reach) in enumerate(items, start=1)],
    )


def test_reports_online_that_reach_many_people_in_the_window_are_a_hit() -> None:
    facts = opinions((date(2026, 10, 1), 600), (date(2026, 10, 14), 400))

    assert evaluate(PUBLIC_OPINION, facts, MID_OCTOBER) == Hit(
        "public_opinion", 30, {"items": 2, "reach": 1000, "opinions": [1, 2]}
    )


@pytest.mark.parametrize(
    ("items", "hit"),
    [
        ([(date(2026, 10, 15), 1000)], True),  # published on the day
        ([(date(2026, 9, 16), 1000)], True),  # 29 days before: inside the 30 days
        ([(date(2026, 9, 15), 1000)], False),  # 30 days before: outside
        ([(date(2026, 10, 16), 5000)], False),  # after as_of
        ([(date(2026, 10, 10), 999)], False),  # too few reached
        ([(date(2026, 9, 1), 800), (date(2026, 10, 10), 300)], False),  # one is out of window
        ([(date(2026, 9, 20), 500), (date(2026, 10, 10), 500)], True),
        ([], False),
    ],
)
def test_only_reports_within_the_window_count_toward_the_reach(
    items: list[tuple[date, int]], hit: bool
) -> None:
    assert (evaluate(PUBLIC_OPINION, opinions(*items), MID_OCTOBER) is not None) is hit


def test_a_public_opinion_hit_names_only_the_items_in_the_window() -> None:
    facts = opinions((date(2026, 8, 1), 9000), (date(2026, 10, 2), 1200), (date(2026, 10, 20), 50))

    hit = evaluate(PUBLIC_OPINION, facts, MID_OCTOBER)

    assert hit is not None
    assert hit.detail == {"items": 1, "reach": 1200, "opinions": [2]}


def test_with_min_reach_zero_any_report_in_the_window_is_a_hit_but_none_is_not() -> None:
    rule = with_params(PUBLIC_OPINION, min_reach=0, days=7)

    assert evaluate(rule, opinions((date(2026, 10, 9), 0)), MID_OCTOBER) is not None
    assert evaluate(rule, opinions((date(2026, 10, 8), 0)), MID_OCTOBER) is None
    assert evaluate(rule, opinions(), MID_OCTOBER) is None


# --- rule_check ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=lambda r: r.code)
def test_every_default_rule_can_be_evaluated(rule: RuleSpec) -> None:
    assert rule_check(rule) is rule


def test_every_rule_kind_has_a_default_rule_and_parameter_defaults() -> None:
    assert {r.kind for r in DEFAULT_RULES} == set(RuleKind)
    assert set(PARAM_DEFAULTS) == set(RuleKind)


@pytest.mark.parametrize("kind", list(RuleKind))
def test_every_kind_defaults_pass_its_own_check(kind: RuleKind) -> None:
    rule = next(r for r in DEFAULT_RULES if r.kind is kind)

    assert rule_check(with_params(rule, **PARAM_DEFAULTS[kind])).params == PARAM_DEFAULTS[kind]


def spec(
    kind: RuleKind, indicator: Indicator | None = None, weight: int = 10, **params: Any
) -> RuleSpec:
    return RuleSpec("r", kind, weight, indicator, params)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (spec(RuleKind.OPEN_CASES, weight=0), "weight"),
        (spec(RuleKind.OPEN_CASES, weight=-5), "weight"),
        (spec(RuleKind.OPEN_CASES, weight=1001), "weight"),
        (spec(RuleKind.OPEN_CASES, weight=True), "weight must be a whole number"),
        (spec(RuleKind.OPEN_CASES, weight=10.0), "weight must be a whole number"),
        (spec(RuleKind.OPEN_CASES, weight=2.5), "weight must be a whole number"),
        (spec(RuleKind.OPEN_CASES, weight="10"), "weight must be a whole number"),
        (spec(RuleKind.DROP, ELEC, ratio=0.5, threshold=3), "unknown parameters: threshold"),
        (spec(RuleKind.BLACKLISTED, days=3), "unknown parameters: days"),
        (spec(RuleKind.OPEN_CASES, maximum=1, min=1, zz=2), "unknown parameters: maximum, zz"),
        (spec(RuleKind.DROP), "needs an indicator"),
        (spec(RuleKind.NO_PAYMENT), "needs an indicator"),
        (spec(RuleKind.RATING_IN), "needs an indicator"),
        (spec(RuleKind.AT_LEAST), "needs an indicator"),
        (spec(RuleKind.DROP, RATING), "cannot read"),
        (spec(RuleKind.DROP, Indicator.SYSTEM_REAL_NAME), "cannot read"),
        (spec(RuleKind.NO_PAYMENT, WORKERS), "cannot read"),  # payments are amounts
        (spec(RuleKind.RATING_IN, ELEC), "cannot read"),
        (spec(RuleKind.AT_LEAST, RATING), "cannot read"),
        (spec(RuleKind.SYSTEMS_MISSING, Indicator.SYSTEM_REAL_NAME), "reads no indicator"),
        (spec(RuleKind.OPEN_CASES, ELEC), "reads no indicator"),
        (spec(RuleKind.BLACKLISTED, ELEC), "reads no indicator"),
        (spec(RuleKind.PUBLIC_OPINION, ELEC), "reads no indicator"),
        (spec(RuleKind.DROP, ELEC, ratio=0), "ratio"),
        (spec(RuleKind.DROP, ELEC, ratio=1.5), "ratio"),
        (spec(RuleKind.DROP, ELEC, ratio="0.5"), "ratio"),
        (spec(RuleKind.DROP, ELEC, ratio=True), "ratio"),
        (spec(RuleKind.DROP, ELEC, months=0), "months"),
        (spec(RuleKind.DROP, ELEC, months=7), "^months must be a whole number from 1 to 6"),
        (spec(RuleKind.DROP, ELEC, months=2.0), "months"),
        (spec(RuleKind.DROP, ELEC, months=2, min_months=3), "min_months"),
        (spec(RuleKind.DROP, ELEC, min_months=4), "min_months"),  # more than the default 3
        (spec(RuleKind.DROP, ELEC, min_months=0), "min_months"),
        (spec(RuleKind.DROP, ELEC, max_age_months=0), "max_age_months"),
        (spec(RuleKind.DROP, ELEC, max_age_months=7), "max_age_months .* from 1 to 6"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, days=0), "days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, days=400), "days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=-1), "silence_days .* from 0 to 366"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=367), "silence_days .* from 0 to 366"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=2.5), "silence_days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=45.0), "silence_days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, workers_indicator="staff"), "workers_indicator"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, workers_indicator="water_m3"), "workers_indicator"),
        (spec(RuleKind.RATING_IN, RATING, ratings=["E"]), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, ratings=["D", "X"]), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, ratings=["d"]), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, ratings=[]), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, ratings="D"), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, max_age_days=0), "max_age_days"),
        (spec(RuleKind.RATING_IN, RATING, max_age_days=367), "max_age_days .* from 1 to 366"),
        (spec(RuleKind.AT_LEAST, ARREARS, value=-1), "value"),
        (spec(RuleKind.AT_LEAST, ARREARS, value="3"), "value"),
        (spec(RuleKind.AT_LEAST, ARREARS, max_age_days=0), "max_age_days"),
        (spec(RuleKind.AT_LEAST, ARREARS, max_age_days=367), "max_age_days .* from 1 to 366"),
        (spec(RuleKind.SYSTEMS_MISSING, systems=["system_real_name", "system_canteen"]), "systems"),
        (spec(RuleKind.SYSTEMS_MISSING, systems=["electricity_kwh"]), "systems"),
        (spec(RuleKind.SYSTEMS_MISSING, systems=[]), "systems"),
        (spec(RuleKind.SYSTEMS_MISSING, systems="system_real_name"), "systems"),
        (spec(RuleKind.OPEN_CASES, min=0), "min"),
        (spec(RuleKind.PUBLIC_OPINION, days=0), "days"),
        (spec(RuleKind.PUBLIC_OPINION, min_reach=-1), "min_reach"),
    ],
)
def test_a_rule_that_cannot_be_evaluated_is_refused(rule: RuleSpec, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        rule_check(rule)


@pytest.mark.parametrize(
    "rule",
    [
        spec(RuleKind.DROP, Indicator.REGISTERED_WORKERS, ratio=1, months=6, min_months=6),
        spec(RuleKind.DROP, ELEC, ratio=0.01, months=1, min_months=1, max_age_months=6),
        spec(RuleKind.DROP, ELEC, max_age_months=1),
        spec(RuleKind.RATING_IN, RATING, max_age_days=366),
        spec(RuleKind.RATING_IN, RATING, max_age_days=1),
        spec(RuleKind.AT_LEAST, ARREARS, max_age_days=366),
        spec(RuleKind.AT_LEAST, ARREARS, max_age_days=1),
        spec(RuleKind.AT_LEAST, ELEC, value=0),
        spec(RuleKind.AT_LEAST, ELEC, value=2.5),
        spec(RuleKind.RATING_IN, RATING, ratings=["A", "B", "M", "C", "D"]),
        spec(RuleKind.SYSTEMS_MISSING, systems=[s.value for s in SIX_SYSTEMS[:2]]),
        spec(RuleKind.PUBLIC_OPINION, min_reach=0, days=366),
        spec(RuleKind.NO_PAYMENT, PAYROLL, days=1, silence_days=0),
        spec(RuleKind.NO_PAYMENT, PAYROLL, days=366, silence_days=366),
        spec(RuleKind.OPEN_CASES, weight=1000),
        spec(RuleKind.BLACKLISTED, weight=1),
    ],
)
def test_a_rule_at_the_edges_of_its_parameters_is_accepted(rule: RuleSpec) -> None:
    assert rule_check(rule) is rule


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (spec(RuleKind.RATING_IN, RATING, ratings=[["D"]]), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, ratings=["D", 1]), "ratings"),
        (spec(RuleKind.RATING_IN, RATING, ratings={"D": 1}), "ratings"),
        (spec(RuleKind.SYSTEMS_MISSING, systems=[{"name": "system_real_name"}]), "systems"),
        (spec(RuleKind.SYSTEMS_MISSING, systems=["system_real_name", None]), "systems"),
        (
            spec(RuleKind.NO_PAYMENT, PAYROLL, workers_indicator=["registered_workers"]),
            "workers_indicator",
        ),
        (
            spec(RuleKind.NO_PAYMENT, PAYROLL, workers_indicator={"registered_workers": 1}),
            "workers_indicator",
        ),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, workers_indicator=3), "workers_indicator"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, workers_indicator=None), "workers_indicator"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days="45"), "silence_days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=True), "silence_days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=None), "silence_days"),
        (spec(RuleKind.NO_PAYMENT, PAYROLL, silence_days=[45]), "silence_days"),
    ],
)
def test_a_parameter_of_the_wrong_json_shape_is_refused_as_a_rule_error(
    rule: RuleSpec, message: str
) -> None:
    # Params are JSON an administrator edits: any shape must end as a RuleError (a form error).
    with pytest.raises(RuleError, match=message):
        rule_check(rule)


def test_a_rule_takes_the_default_of_a_parameter_it_leaves_out() -> None:
    rule = spec(RuleKind.DROP, ELEC, ratio=0.3)

    assert (rule.param("ratio"), rule.param("months")) == (0.3, 3)
    assert spec(RuleKind.RATING_IN, RATING).param("max_age_days") == 366


# --- assess and Thresholds ----------------------------------------------------------------


def test_the_score_is_the_sum_of_the_weights_of_the_rules_met() -> None:
    facts = Facts(
        SubjectKind.ENTERPRISE,
        {ELEC: monthly({**STEADY, (2026, 9): 10})},
        open_cases=2,
        blacklisted=True,
    )

    assessment = assess(DEFAULT_RULES, facts, MID_OCTOBER, Thresholds())

    assert assessment.score == 30 + 20 + 40  # electricity_drop, open_cases, blacklisted
    assert assessment.level is Level.RED
    assert assessment.rules == {"electricity_drop", "open_cases", "blacklisted"}
    assert [h.rule for h in assessment.hits] == ["electricity_drop", "open_cases", "blacklisted"]


def test_a_subject_that_meets_no_rule_scores_nothing() -> None:
    assessment = assess(DEFAULT_RULES, Facts(SubjectKind.PROJECT), MID_OCTOBER, Thresholds())

    assert assessment == Assessment(0, None, ())


@pytest.mark.parametrize(
    ("weights", "level"),
    [
        ((), None),
        ((29,), None),
        ((30,), Level.YELLOW),
        ((20, 10), Level.YELLOW),
        ((59,), Level.YELLOW),
        ((60,), Level.ORANGE),
        ((30, 30), Level.ORANGE),
        ((89,), Level.ORANGE),
        ((90,), Level.RED),
        ((40, 40, 10), Level.RED),
        ((1000, 1000), Level.RED),
    ],
)
def test_the_level_is_the_highest_threshold_the_score_reaches(
    weights: tuple[int, ...], level: Level | None
) -> None:
    rules = [RuleSpec(f"r{i}", RuleKind.BLACKLISTED, w) for i, w in enumerate(weights)]

    assessment = assess(
        rules, Facts(SubjectKind.ENTERPRISE, blacklisted=True), MID_OCTOBER, Thresholds()
    )

    assert (assessment.score, assessment.level) == (sum(weights), level)


@pytest.mark.parametrize(
    ("score", "level"),
    [(9, None), (10, Level.YELLOW), (19, Level.YELLOW), (20, Level.ORANGE), (50, Level.RED)],
)
def test_a_district_may_set_its_own_thresholds(score: int, level: Level | None) -> None:
    assert Thresholds(yellow=10, orange=20, red=50).level(score) is level


@pytest.mark.parametrize(
    ("yellow", "orange", "red"),
    [
        (0, 60, 90),
        (-1, 60, 90),
        (30, 30, 90),
        (30, 60, 60),
        (60, 30, 90),
        (30, 90, 60),
        (90, 60, 30),
    ],
)
def test_thresholds_that_do_not_rise_are_refused(yellow: int, orange: int, red: int) -> None:
    with pytest.raises(RuleError, match="thresholds must rise"):
        Thresholds(yellow, orange, red)


def test_levels_rank_yellow_below_orange_below_red() -> None:
    assert [lv.rank for lv in (Level.YELLOW, Level.ORANGE, Level.RED)] == [0, 1, 2]


# --- warning_change -----------------------------------------------------------------------


def assessment(level: Level | None, *rules: str) -> Assessment:
    return Assessment(0, level, tuple(Hit(rule, 10, {}) for rule in rules))


YELLOW, ORANGE, RED = Level.YELLOW, Level.ORANGE, Level.RED


@pytest.mark.parametrize(
    ("assessed", "open_level", "last_closed", "change"),
    [
        (assessment(None), None, None, Change.NONE),
        (assessment(None), ORANGE, None, Change.NONE),
        (assessment(None), None, Closed(YELLOW, frozenset({"a"})), Change.NONE),
        (assessment(YELLOW, "a"), None, None, Change.OPEN),
        (assessment(RED, "a"), None, None, Change.OPEN),
        (assessment(RED, "a", "b"), ORANGE, None, Change.RAISE),
        (assessment(ORANGE, "a"), YELLOW, None, Change.RAISE),
        (
            assessment(ORANGE, "a", "new"),
            ORANGE,
            None,
            Change.NONE,
        ),  # a new rule does not raise a level
        (assessment(YELLOW, "a"), RED, None, Change.NONE),  # an open warning never goes down
        (assessment(RED, "a"), RED, Closed(YELLOW, frozenset()), Change.NONE),
        (assessment(ORANGE, "a", "b"), None, Closed(ORANGE, frozenset({"a", "b"})), Change.NONE),
        (assessment(ORANGE, "a"), None, Closed(ORANGE, frozenset({"a", "b"})), Change.NONE),
        (assessment(YELLOW, "a"), None, Closed(ORANGE, frozenset({"a", "b"})), Change.NONE),
        (assessment(ORANGE, "a", "c"), None, Closed(ORANGE, frozenset({"a", "b"})), Change.OPEN),
        (assessment(YELLOW, "c"), None, Closed(RED, frozenset({"a"})), Change.OPEN),  # a new rule
        (
            assessment(ORANGE, "a"),
            None,
            Closed(YELLOW, frozenset({"a"})),
            Change.OPEN,
        ),  # a higher level
        (assessment(RED, "a"), None, Closed(ORANGE, frozenset({"a"})), Change.OPEN),
    ],
)
def test_what_an_assessment_does_to_the_warnings(
    assessed: Assessment, open_level: Level | None, last_closed: Closed | None, change: Change
) -> None:
    assert warning_change(assessed, open_level=open_level, last_closed=last_closed) is change


LEVEL_OR_NONE = st.sampled_from([None, *Level])
RULE_CODES = st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4)
CLOSED = st.none() | st.builds(
    Closed, st.sampled_from(list(Level)), st.frozensets(st.sampled_from(["a", "b", "c", "d"]))
)


@given(
    level=LEVEL_OR_NONE, rules=RULE_CODES, open_level=st.sampled_from(list(Level)), closed=CLOSED
)
def test_an_open_warning_is_never_lowered_and_rises_only_with_the_level(
    level: Level | None, rules: list[str], open_level: Level, closed: Closed | None
) -> None:
    change = warning_change(assessment(level, *rules), open_level=open_level, last_closed=closed)

    rises = level is not None and level.rank > open_level.rank
    assert change is (Change.RAISE if rises else Change.NONE)


@given(level=st.sampled_from(list(Level)), rules=RULE_CODES)
def test_with_nothing_open_or_closed_any_level_opens_a_warning(
    level: Level, rules: list[str]
) -> None:
    assert (
        warning_change(assessment(level, *rules), open_level=None, last_closed=None) is Change.OPEN
    )


@given(level=st.sampled_from(list(Level)), rules=RULE_CODES, closed=CLOSED)
def test_after_a_close_a_warning_opens_only_for_a_higher_level_or_a_new_rule(
    level: Level, rules: list[str], closed: Closed | None
) -> None:
    change = warning_change(assessment(level, *rules), open_level=None, last_closed=closed)

    opens = closed is None or level.rank > closed.level.rank or not set(rules) <= closed.rules
    assert change is (Change.OPEN if opens else Change.NONE)


# --- warning_move -------------------------------------------------------------------------

OPEN, HANDLING, CLOSED_STATE = WarningState.OPEN, WarningState.HANDLING, WarningState.CLOSED
ACCEPT, CLOSE, REASSIGN = WarningAction.ACCEPT, WarningAction.CLOSE, WarningAction.REASSIGN

# Written out apart from the table: accept once, close from open or handling, and a
# reassigned warning waits again for its new unit to accept it.
EXPECTED_MOVES = {
    (OPEN, ACCEPT): HANDLING,
    (OPEN, CLOSE): CLOSED_STATE,
    (OPEN, REASSIGN): OPEN,
    (HANDLING, CLOSE): CLOSED_STATE,
    (HANDLING, REASSIGN): OPEN,
}
ALL_MOVES = list(itertools.product(WarningState, WarningAction))


def test_the_move_table_is_the_one_expected() -> None:
    assert WARNING_MOVES == EXPECTED_MOVES


@pytest.mark.parametrize(("state", "action"), list(EXPECTED_MOVES), ids=lambda v: str(v))
def test_a_legal_move_leads_where_the_table_says(
    state: WarningState, action: WarningAction
) -> None:
    assert warning_move(state, action) is EXPECTED_MOVES[(state, action)]


@pytest.mark.parametrize(
    ("state", "action"),
    [pair for pair in ALL_MOVES if pair not in EXPECTED_MOVES],
    ids=lambda v: str(v),
)
def test_an_illegal_move_is_refused(state: WarningState, action: WarningAction) -> None:
    with pytest.raises(IllegalWarningMove, match=f"cannot {action} a warning that is {state}"):
        warning_move(state, action)


@pytest.mark.parametrize("action", list(WarningAction))
def test_a_closed_warning_cannot_move(action: WarningAction) -> None:
    with pytest.raises(IllegalWarningMove):
        warning_move(WarningState.CLOSED, action)
