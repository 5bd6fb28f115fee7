"""The rules of the monthly statistics and the unit rankings, apart from the database.

Months are whole calendar months in the district's zone (Asia/Shanghai); a case is handled in
a window when registered before its end and not finished before its start (merged or rejected
cases never count); the score is 100 × the self-resolution rate less 2 points per advance and
1 per overdue clock; the unit(s) ranked last get a strike unless every ranked unit ties.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from command_center.domain.reports import (
    CaseFacts,
    IntakeGroup,
    MonthError,
    RankingRow,
    Receipts,
    StrikeWindow,
    UnitRef,
    UnitTally,
    Weights,
    closure,
    is_concluded,
    is_handled,
    is_self_resolved,
    last_ranked,
    month_add,
    month_parse,
    months_in,
    pct_change,
    ranking_rows,
    ratio,
    receipts,
    receipts_yoy,
    strike_count,
    strike_step,
    window_of,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNELS = ["window", "labour_complaint", "police_110", "petition", "online"]


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


JUNE = window_of(date(2025, 6, 1), date(2025, 6, 1), SHANGHAI)


# --- months and windows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05", date(2026, 5, 1)),
        ("2025-12", date(2025, 12, 1)),
        ("2000-01", date(2000, 1, 1)),
        ("2100-12", date(2100, 12, 1)),
        (" 2026-05 ", date(2026, 5, 1)),
    ],
)
def test_month_parse_accepts_year_and_month(text: str, expected: date) -> None:
    assert month_parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "2026-5",
        "26-05",
        "2026/05",
        "2026-05-01",
        "202605",
        "abc",
        "",
        "1999-12",
        "2101-01",
        "2026-05x",
        "x2026-05",
        "-2026-05",
    ],
)
def test_month_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(MonthError):
        month_parse(text)


def test_month_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(MonthError):
        month_parse(202605)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["２０２６-０５", "٢٠٢٦-٠٥"])
def test_month_parse_refuses_non_ascii_digits(text: str) -> None:
    with pytest.raises(MonthError):
        month_parse(text)


@pytest.mark.parametrize(
    ("month", "n", "expected"),
    [
        (date(2025, 12, 1), 1, date(2026, 1, 1)),
        (date(2026, 1, 1), -1, date(2025, 12, 1)),
        (date(2026, 5, 1), -12, date(2025, 5, 1)),
        (date(2026, 5, 1), 0, date(2026, 5, 1)),
        (date(2024, 2, 1), 25, date(2026, 3, 1)),
    ],
)
def test_month_add(month: date, n: int, expected: date) -> None:
    assert month_add(month, n) == expected


def test_one_month_window_runs_from_local_midnight_to_the_next_month() -> None:
    w = window_of(date(2026, 5, 1), date(2026, 5, 1), SHANGHAI)
    assert w.start == local(2026, 5, 1, 0)
    assert w.end == local(2026, 6, 1, 0)
    # Asia/Shanghai is UTC+8 all year: the month starts at 16:00 UTC the day before.
    assert w.start.astimezone(UTC) == datetime(2026, 4, 30, 16, tzinfo=UTC)
    assert w.end.astimezone(UTC) == datetime(2026, 5, 31, 16, tzinfo=UTC)
    assert w.label == "2026-05"
    assert w.months == [date(2026, 5, 1)]


def test_december_window_ends_in_the_next_year() -> None:
    w = window_of(date(2025, 12, 1), date(2025, 12, 1), SHANGHAI)
    assert w.end == local(2026, 1, 1, 0)


def test_range_window_covers_whole_months() -> None:
    w = window_of(date(2025, 11, 1), date(2026, 2, 1), SHANGHAI)
    assert w.start == local(2025, 11, 1, 0)
    assert w.end == local(2026, 3, 1, 0)
    assert w.label == "2025-11..2026-02"
    assert w.months == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]


def test_range_of_24_months_is_allowed_25_is_refused() -> None:
    assert len(window_of(date(2024, 1, 1), date(2025, 12, 1), SHANGHAI).months) == 24
    with pytest.raises(MonthError):
        window_of(date(2024, 1, 1), date(2026, 1, 1), SHANGHAI)


def test_backwards_range_is_refused() -> None:
    with pytest.raises(MonthError):
        window_of(date(2026, 5, 1), date(2026, 4, 1), SHANGHAI)


def test_shifted_window_is_the_same_period_a_year_before() -> None:
    w = window_of(date(2026, 1, 1), date(2026, 3, 1), SHANGHAI).shifted(-12, SHANGHAI)
    assert (w.first, w.last) == (date(2025, 1, 1), date(2025, 3, 1))
    assert w.start == local(2025, 1, 1, 0)
    assert w.end == local(2025, 4, 1, 0)


def test_months_in() -> None:
    assert months_in(date(2025, 11, 1), date(2026, 1, 1)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
    ]
    assert months_in(date(2026, 1, 1), date(2025, 12, 1)) == []


# --- percent change and ratios ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "prior", "expected"),
    [
        (8, 10, -20.0),
        (12, 10, 20.0),
        (10, 10, 0.0),
        (0, 10, -100.0),
        (5, 0, None),
        (0, 0, None),
        (5, None, None),
        (1, 3, -66.7),  # -66.666… rounds to one place
        (2, 3, -33.3),
        (4, 3, 33.3),
        (5, 3, 66.7),
        (2001, 2000, 0.1),  # +0.05 rounds half up
        (1999, 2000, -0.1),  # −0.05 rounds away from zero
        (Decimal("12000.00"), Decimal("10000.00"), 20.0),
        (Decimal("100.10"), Decimal("100.00"), 0.1),
    ],
)
def test_pct_change(
    current: Decimal | int, prior: Decimal | int | None, expected: float | None
) -> None:
    assert pct_change(current, prior) == expected


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(1, 3, 0.3333), (2, 3, 0.6667), (0, 5, 0.0), (5, 5, 1.0), (0, 0, None), (1, 6, 0.1667)],
)
def test_ratio(part: int, whole: int, expected: float | None) -> None:
    assert ratio(part, whole) == expected


# --- receipts -------------------------------------------------------------------------------


def test_receipts_sum_the_groups_and_list_every_channel() -> None:
    groups = [
        IntakeGroup("window", 3, 1, 30, Decimal("1000.50")),
        IntakeGroup("police_110", 2, 2, 12, Decimal("2000.00")),
        IntakeGroup("window", 1, 0, 4, Decimal("0.50")),
    ]
    r = receipts(groups, CHANNELS)
    assert r.cases_received == 6
    assert r.construction_cases == 3
    assert r.workers == 46
    assert r.amount_owed == Decimal("3001.00")
    assert r.by_channel == {
        "window": 4,
        "labour_complaint": 0,
        "police_110": 2,
        "petition": 0,
        "online": 0,
    }
    assert list(r.by_channel) == CHANNELS


def test_receipts_of_nothing_are_zero_in_every_channel() -> None:
    r = receipts([], CHANNELS)
    assert r == Receipts(0, 0, 0, Decimal(0), dict.fromkeys(CHANNELS, 0))


def test_receipts_keep_a_channel_not_in_the_list() -> None:
    r = receipts([IntakeGroup("fax", 1, 0, 2, Decimal(5))], ["window"])
    assert r.by_channel == {"window": 0, "fax": 1}


def test_receipts_yoy() -> None:
    now = Receipts(8, 3, 68, Decimal("12000.00"), {})
    before = Receipts(10, 4, 100, Decimal("10000.00"), {})
    assert receipts_yoy(now, before) == {
        "cases_received": -20.0,
        "construction_cases": -25.0,
        "workers": -32.0,
        "amount_owed": 20.0,
    }
    assert receipts_yoy(now, None) == dict.fromkeys(
        ["cases_received", "construction_cases", "workers", "amount_owed"]
    )
    none_built = Receipts(10, 0, 100, Decimal("10000.00"), {})
    assert receipts_yoy(now, none_built)["construction_cases"] is None


# --- handled, concluded, self-resolved ------------------------------------------------------


def facts(
    registered: datetime,
    *,
    unit: int | None = 1,
    finished: datetime | None = None,
    state: str = "",
    escalated: bool = False,
    advanced: bool = False,
    case_id: int = 1,
) -> CaseFacts:
    return CaseFacts(
        case_id=case_id,
        registered_at=registered,
        unit_id=unit,
        finished_at=finished,
        finished_state=state,
        escalated=escalated,
        advanced=advanced,
    )


START, END = JUNE.start, JUNE.end
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("case", "handled", "concluded", "self_resolved"),
    [
        pytest.param(facts(START), True, False, False, id="registered-at-start-open"),
        pytest.param(facts(END - SECOND), True, False, False, id="registered-last-second"),
        pytest.param(facts(END), False, False, False, id="registered-exactly-at-end"),
        pytest.param(facts(local(2025, 3, 1)), True, False, False, id="carried-over-open"),
        pytest.param(
            facts(local(2025, 5, 1), finished=START, state="resolved"),
            True,
            True,
            True,
            id="finished-exactly-at-start",
        ),
        pytest.param(
            facts(local(2025, 5, 1), finished=START - SECOND, state="resolved"),
            False,
            True,
            True,
            id="finished-just-before-start",
        ),
        pytest.param(
            facts(local(2025, 6, 2), finished=local(2025, 6, 9), state="closed"),
            True,
            True,
            True,
            id="closed-in-window",
        ),
        pytest.param(
            facts(local(2025, 6, 2), finished=END - SECOND, state="resolved"),
            True,
            True,
            True,
            id="resolved-last-second",
        ),
        pytest.param(
            facts(local(2025, 6, 2), finished=local(2025, 6, 5), state="merged"),
            False,
            False,
            False,
            id="merged-in-window",
        ),
        pytest.param(
            facts(local(2025, 6, 2), finished=local(2025, 6, 5), state="rejected"),
            False,
            False,
            False,
            id="rejected-in-window",
        ),
        pytest.param(
            facts(local(2025, 5, 2), finished=local(2025, 5, 5), state="merged"),
            False,
            False,
            False,
            id="merged-before-window",
        ),
        pytest.param(
            facts(local(2025, 6, 2), finished=local(2025, 6, 9), state="resolved", escalated=True),
            True,
            True,
            False,
            id="escalated-not-self-resolved",
        ),
        pytest.param(
            facts(local(2025, 6, 2), finished=local(2025, 6, 9), state="closed", advanced=True),
            True,
            True,
            False,
            id="advanced-not-self-resolved",
        ),
        pytest.param(
            facts(local(2025, 6, 2), escalated=True),
            True,
            False,
            False,
            id="escalated-open",
        ),
    ],
)
def test_handled_concluded_self_resolved(
    case: CaseFacts, handled: bool, concluded: bool, self_resolved: bool
) -> None:
    assert is_handled(case, JUNE) is handled
    assert is_concluded(case, JUNE) is concluded
    assert is_self_resolved(case, JUNE) is self_resolved


def test_finished_after_the_window_is_open_at_its_end() -> None:
    # The reader gives the facts as of the window's end, but the rule itself must also hold
    # when a later finish is passed in.
    case = facts(local(2025, 6, 2), finished=END, state="resolved")
    assert is_handled(case, JUNE)
    assert not is_concluded(case, JUNE)


# --- closure ----------------------------------------------------------------------------------


def test_closure_per_unit_overall_and_what_is_open() -> None:
    cases = [
        # unit 1: five handled, two concluded (one self-resolved), one long open
        facts(local(2025, 3, 1), unit=1, case_id=1),  # 122 days open at the end: long
        facts(local(2025, 5, 3), unit=1, case_id=2),  # 58 days: not yet long
        facts(local(2025, 6, 2), unit=1, finished=local(2025, 6, 4), state="resolved", case_id=3),
        facts(
            local(2025, 6, 2),
            unit=1,
            finished=local(2025, 6, 20),
            state="closed",
            escalated=True,
            case_id=4,
        ),
        facts(local(2025, 6, 30), unit=1, case_id=5),
        # unit 2: all concluded
        facts(local(2025, 5, 1), unit=2, finished=START, state="resolved", case_id=6),
        # not handled: merged, rejected, finished before, registered after
        facts(local(2025, 6, 2), unit=2, finished=local(2025, 6, 3), state="merged", case_id=7),
        facts(local(2025, 6, 2), unit=2, finished=local(2025, 6, 3), state="rejected", case_id=8),
        facts(local(2025, 5, 2), unit=2, finished=local(2025, 5, 3), state="resolved", case_id=9),
        facts(END, unit=2, case_id=10),
        # not dispatched
        facts(local(2025, 6, 9), unit=None, case_id=11),
    ]
    c = closure(cases, JUNE, long_open_days=60)
    assert (c.overall.handled, c.overall.concluded, c.overall.self_resolved) == (7, 3, 2)
    assert c.overall.closure_rate == 0.4286
    assert c.by_unit[1] == UnitTally(handled=5, concluded=2, self_resolved=1)
    assert c.by_unit[1].closure_rate == 0.4
    assert c.by_unit[1].self_resolution_rate == 0.2
    assert c.by_unit[2] == UnitTally(handled=1, concluded=1, self_resolved=1)
    assert c.by_unit[2].closure_rate == 1.0
    assert c.by_unit[None] == UnitTally(handled=1)
    assert c.open_at_end == 4
    assert c.long_open == 1


def test_long_open_counts_whole_days_to_the_window_end() -> None:
    exactly = facts(END - timedelta(days=60), case_id=1)
    almost = facts(END - timedelta(days=60) + SECOND, case_id=2)
    c = closure([exactly, almost], JUNE, long_open_days=60)
    assert (c.open_at_end, c.long_open) == (2, 1)


def test_closure_of_nothing() -> None:
    c = closure([], JUNE, long_open_days=60)
    assert c.overall == UnitTally()
    assert c.overall.closure_rate is None
    assert c.by_unit == {}
    assert (c.open_at_end, c.long_open) == (0, 0)


# --- rankings -------------------------------------------------------------------------------


def unit(pk: int, code: str) -> UnitRef:
    return UnitRef(id=pk, code=code, name_zh=code, name_en=code)


def tally(handled: int, self_resolved: int) -> UnitTally:
    return UnitTally(handled=handled, concluded=self_resolved, self_resolved=self_resolved)


def test_ranking_ties_share_a_rank_and_the_next_skips() -> None:
    units = [unit(1, "d"), unit(2, "c"), unit(3, "b"), unit(4, "a")]
    tallies: dict[int | None, UnitTally] = {
        1: tally(4, 4),  # 100.0
        2: tally(2, 1),  # 50.0
        3: tally(4, 2),  # 50.0
        4: tally(5, 1),  # 20.0
    }
    rows = ranking_rows(units, tallies, advances={}, overdue={}, weights=Weights())
    assert [(r.unit.code, r.score, r.rank) for r in rows] == [
        ("d", Decimal("100.0"), 1),
        ("b", Decimal("50.0"), 2),  # ties ordered by unit code
        ("c", Decimal("50.0"), 2),
        ("a", Decimal("20.0"), 4),
    ]


def test_unit_with_no_case_is_listed_last_unranked() -> None:
    units = [unit(1, "a"), unit(2, "z"), unit(3, "m"), unit(4, "b")]
    tallies: dict[int | None, UnitTally] = {2: tally(2, 0), 3: tally(1, 1), None: tally(9, 9)}
    rows = ranking_rows(units, tallies, advances={1: 1}, overdue={}, weights=Weights())
    assert [(r.unit.code, r.rank) for r in rows] == [("m", 1), ("z", 2), ("a", None), ("b", None)]
    unranked = rows[2]
    assert unranked.score is None
    assert unranked.cases == 0
    assert unranked.self_resolution_rate is None
    assert unranked.fund_advances == 1
    assert unranked.points_deducted == Decimal(2)


def test_deductions_2_per_advance_1_per_overdue() -> None:
    units = [unit(1, "a"), unit(2, "b")]
    tallies: dict[int | None, UnitTally] = {1: tally(3, 2), 2: tally(2, 2)}
    rows = ranking_rows(units, tallies, advances={1: 1, 2: 3}, overdue={1: 2}, weights=Weights())
    by_code = {r.unit.code: r for r in rows}
    a, b = by_code["a"], by_code["b"]
    assert a.self_resolution_rate == 0.6667
    assert a.points_deducted == Decimal(4)
    assert a.score == Decimal("62.7")  # 66.666… − 4
    assert (a.fund_advances, a.overdue) == (1, 2)
    assert b.points_deducted == Decimal(6)
    assert b.score == Decimal("94.0")
    assert [r.unit.code for r in rows] == ["b", "a"]


def test_deductions_follow_the_weights_and_may_go_below_zero() -> None:
    units = [unit(1, "a")]
    rows = ranking_rows(
        units,
        {1: tally(1, 0)},
        advances={1: 1},
        overdue={1: 3},
        weights=Weights(advance=Decimal("5.5"), overdue=Decimal("0.5")),
    )
    assert rows[0].points_deducted == Decimal("7.0")
    assert rows[0].score == Decimal("-7.0")
    assert rows[0].rank == 1


def test_score_rounds_half_up_to_one_place() -> None:
    # 1/8 = 12.5 exactly; 1/6 = 16.666…; 5/6 = 83.333…
    rows = ranking_rows(
        [unit(1, "a"), unit(2, "b"), unit(3, "c")],
        {1: tally(8, 1), 2: tally(6, 1), 3: tally(6, 5)},
        advances={},
        overdue={},
        weights=Weights(),
    )
    assert {r.unit.code: r.score for r in rows} == {
        "a": Decimal("12.5"),
        "b": Decimal("16.7"),
        "c": Decimal("83.3"),
    }


def row(code: str, score: str | None, rank: int | None) -> RankingRow:
    return RankingRow(
        unit=unit(ord(code[0]), code),
        cases=1 if score is not None else 0,
        self_resolved=0,
        self_resolution_rate=None,
        fund_advances=0,
        overdue=0,
        points_deducted=Decimal(0),
        score=Decimal(score) if score is not None else None,
        rank=rank,
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            [row("a", "90", 1), row("b", "80", 2), row("c", "70", 3), row("z", None, None)],
            ["c"],
            id="one-last",
        ),
        pytest.param(
            [row("a", "90", 1), row("b", "70", 2), row("c", "70", 2)],
            ["b", "c"],
            id="tie-at-bottom",
        ),
        pytest.param(
            [row("a", "70", 1), row("b", "70", 1), row("c", "70", 1)], [], id="everyone-tied"
        ),
        pytest.param([row("a", "0", 1), row("z", None, None)], [], id="single-ranked"),
        pytest.param([row("y", None, None), row("z", None, None)], [], id="none-ranked"),
        pytest.param([], [], id="no-units"),
    ],
)
def test_last_ranked(rows: list[RankingRow], expected: list[str]) -> None:
    assert [r.unit.code for r in last_ranked(rows)] == expected


# --- strikes --------------------------------------------------------------------------------


def m(year: int, month: int) -> date:
    return date(year, month, 1)


@pytest.mark.parametrize(
    ("earlier", "month", "window", "n", "expected"),
    [
        # within the calendar year
        pytest.param([], m(2025, 3), StrikeWindow.YEAR, 12, 1, id="year-first"),
        pytest.param([m(2025, 1)], m(2025, 3), StrikeWindow.YEAR, 12, 2, id="year-second"),
        pytest.param(
            [m(2024, 11), m(2024, 12)], m(2025, 1), StrikeWindow.YEAR, 12, 1, id="year-boundary"
        ),
        pytest.param(
            [m(2025, 1), m(2025, 2), m(2025, 3)],
            m(2025, 12),
            StrikeWindow.YEAR,
            12,
            4,
            id="year-fourth",
        ),
        pytest.param(
            [m(2025, 5), m(2025, 6)], m(2025, 4), StrikeWindow.YEAR, 12, 1, id="year-later-ignored"
        ),
        pytest.param([m(2025, 4)], m(2025, 4), StrikeWindow.YEAR, 12, 1, id="year-same-month"),
        # consecutive months
        pytest.param(
            [m(2025, 1), m(2025, 2)], m(2025, 3), StrikeWindow.CONSECUTIVE, 12, 3, id="run-of-3"
        ),
        pytest.param(
            [m(2025, 1), m(2025, 3)], m(2025, 4), StrikeWindow.CONSECUTIVE, 12, 2, id="gap-resets"
        ),
        pytest.param([m(2025, 1)], m(2025, 3), StrikeWindow.CONSECUTIVE, 12, 1, id="gap-alone"),
        pytest.param(
            [m(2024, 11), m(2024, 12)],
            m(2025, 1),
            StrikeWindow.CONSECUTIVE,
            12,
            3,
            id="run-across-years",
        ),
        # the last N months
        pytest.param(
            [m(2024, 6), m(2024, 7)], m(2025, 6), StrikeWindow.ROLLING, 12, 2, id="rolling-12-edge"
        ),
        pytest.param(
            [m(2025, 1), m(2025, 3)], m(2025, 6), StrikeWindow.ROLLING, 3, 1, id="rolling-3-out"
        ),
        pytest.param(
            [m(2025, 4), m(2025, 5)], m(2025, 6), StrikeWindow.ROLLING, 3, 3, id="rolling-3-in"
        ),
        pytest.param([m(2025, 5)], m(2025, 6), StrikeWindow.ROLLING, 1, 1, id="rolling-1"),
    ],
)
def test_strike_count(
    earlier: list[date], month: date, window: StrikeWindow, n: int, expected: int
) -> None:
    assert strike_count(earlier, month, window=window, months=n) == expected


@pytest.mark.parametrize(("count", "step"), [(0, 1), (1, 1), (2, 2), (3, 3), (4, 3), (12, 3)])
def test_strike_step_caps_at_3(count: int, step: int) -> None:
    assert strike_step(count) == step


# --- properties -----------------------------------------------------------------------------

tallies_strategy = st.lists(
    st.one_of(
        st.none(),
        st.integers(min_value=1, max_value=30).flatmap(
            lambda h: st.integers(min_value=0, max_value=h).map(lambda s: tally(h, s))
        ),
    ),
    min_size=1,
    max_size=12,
)


@given(
    tallies_strategy,
    st.lists(st.integers(min_value=0, max_value=3), min_size=12, max_size=12),
    st.lists(st.integers(min_value=0, max_value=5), min_size=12, max_size=12),
)
def test_ranks_follow_scores(
    per_unit: list[UnitTally | None], advances: list[int], overdue: list[int]
) -> None:
    units = [unit(i + 1, f"u{i:02d}") for i in range(len(per_unit))]
    tallies: dict[int | None, UnitTally] = {
        u.id: t for u, t in zip(units, per_unit, strict=True) if t is not None
    }
    rows = ranking_rows(
        units,
        tallies,
        advances={u.id: advances[i] for i, u in enumerate(units)},
        overdue={u.id: overdue[i] for i, u in enumerate(units)},
        weights=Weights(),
    )
    assert sorted(r.unit.code for r in rows) == [u.code for u in units]
    ranked = [r for r in rows if r.rank is not None]
    unranked = rows[len(ranked) :]
    assert all(r.rank is None and r.score is None for r in unranked)
    assert len(ranked) == len(tallies)
    if ranked:
        assert ranked[0].rank == 1
    for a, b in itertools.pairwise(ranked):
        assert a.rank is not None
        assert b.rank is not None
        assert a.score is not None
        assert b.score is not None
        assert a.rank <= b.rank
        assert a.score >= b.score
        assert (a.score == b.score) == (a.rank == b.rank)
        if a.score == b.score:
            assert a.unit.code < b.unit.code
    for position, r in enumerate(ranked, start=1):
        assert r.rank is not None
        assert r.rank <= position
    bottom = last_ranked(rows)
    if len({r.score for r in ranked}) >= 2:
        assert bottom
        assert all(r.score == ranked[-1].score for r in bottom)
    else:
        assert bottom == []


@st.composite
def case_facts_strategy(draw: st.DrawFn) -> CaseFacts:
    base = local(2025, 4, 1, 0)
    registered = base + timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 120)))
    finished = None
    state = ""
    if draw(st.booleans()):
        finished = registered + timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 90)))
        state = draw(st.sampled_from(["resolved", "closed", "merged", "rejected"]))
    return CaseFacts(
        case_id=draw(st.integers(min_value=1, max_value=10**6)),
        registered_at=registered,
        unit_id=draw(st.sampled_from([None, 1, 2, 3])),
        finished_at=finished,
        finished_state=state,
        escalated=draw(st.booleans()),
        advanced=draw(st.booleans()),
    )


@given(st.lists(case_facts_strategy(), max_size=40), st.integers(min_value=1, max_value=90))
def test_closure_counts_never_exceed_handled(cases: list[CaseFacts], long_days: int) -> None:
    c = closure(cases, JUNE, long_open_days=long_days)
    for t in [c.overall, *c.by_unit.values()]:
        assert 0 <= t.self_resolved <= t.concluded <= t.handled
        rate = t.closure_rate
        assert rate is None or 0 <= rate <= 1
    assert c.overall.handled == sum(t.handled for t in c.by_unit.values())
    assert c.overall.concluded == sum(t.concluded for t in c.by_unit.values())
    assert c.open_at_end == c.overall.handled - c.overall.concluded
    assert 0 <= c.long_open <= c.open_at_end
    assert c.overall.handled == sum(1 for f in cases if is_handled(f, JUNE))
