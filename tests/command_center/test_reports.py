"""Monthly statistics, unit rankings and strikes, read from an event log with known answers.

The history is written through the hub's own services (`case_register`, `transition_apply`)
at chosen times in Asia/Shanghai, so `Case.created_at` is the registration event's `at` and
`Case.finished_at` the first finishing event's `at`, as the reader expects. Overdue clocks are
written as the clock sweep writes them (`clock.overdue` on the case), at a chosen time.

The June 2025 history (`june_history`), by case and what June makes of it:

====  =========  ==================  ==========================================  =============
case  unit       registered          then                                        in June
====  =========  ==================  ==========================================  =============
c1    lianshi    2025-05-10          overdue clock 06-20                         handled, open
c2    lianshi    2025-03-01          —                                           open, long
c3    lianshi    2025-05-20          resolved 05-25                              not handled
c14   lianshi    2025-05-01          inspection 06-05, resolved 06-25            concluded
c9    shuanglin  2025-05-15          resolved 06-01 00:00 exactly                self-resolved
c4    lianshi    06-02               resolved 06-10                              self-resolved
c5    shuanglin  06-03 (110)         resolved 06-20                              self-resolved
c6    shuanglin  06-04 (12345)       rejected 06-05                              not handled
c7    shuanglin  06-05 (online)      merged into c5 06-06                        not handled
c8    lianshi    06-06               —                                           open
c11   housing    06-08 real estate   advanced 5000 06-15, recovered 2000 06-20   open
c12   hefu       06-09 lianshi       re-dispatched to hefu 06-12                 open (hefu)
c13   nanxun     06-11               resolved 06-12                              self-resolved
c10   lianshi    06-30 23:59:59      —                                           open
====  =========  ==================  ==========================================  =============
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from command_center import reports
from command_center.domain.reports import month_add
from command_center.models import RankingMonth, RankingSettings, UnitStrike
from command_center.reports import month_of
from incidents.domain.lifecycle import Action
from incidents.domain.routing import ProjectType
from incidents.events import event_record
from incidents.models import Case, District, Event, Membership, StreamEntry, Unit
from incidents.policy import actor_for
from incidents.services import Intake, ProjectInput, TransitionInput, case_register
from incidents.services.lifecycle import transition_apply
from tests.factories import credit_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
JUNE = date(2025, 6, 1)
MONTHLY = "/api/v1/reports/monthly"
RANKING = "/api/v1/reports/ranking"
CHANNELS = [c.value for c in Case.Channel]
_serial = itertools.count(1)


def local(
    year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


class Log:
    """Writes a district's history through the hub's services, at the times given."""

    def __init__(self, district: District) -> None:
        self.district = district
        self.actor = actor_for(User.objects.get(username="command"))

    def register(
        self,
        when: datetime,
        *,
        town: str = "lianshi",
        channel: str = "window",
        workers: int = 5,
        amount: str = "10000.00",
        project: ProjectType | None = None,
    ) -> Case:
        n = next(_serial)
        intake = Intake(
            channel=channel,
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=workers,
            amount_owed=Decimal(amount),
            employer_name=f"测试{n}劳务有限公司",
            employer_credit_code=credit_code(),
            town=town,
            project=ProjectInput(name=f"测试项目{n}", type=project) if project else None,
        )
        result = case_register(actor=self.actor, intake=intake, now=when)
        assert not result.merged
        case = result.case
        assert case.created_at == when
        return case

    def act(self, case: Case, action: Action, when: datetime, **kw: Any) -> Case:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=case.pk)
            transition_apply(
                actor=self.actor,
                case=locked,
                change=TransitionInput(action=action, reason="测试", **kw),
                now=when,
            )
        return locked

    def resolve(self, case: Case, when: datetime, *, accepted: datetime | None = None) -> Case:
        self.act(case, Action.ACCEPT, accepted or when)
        return self.act(case, Action.RESOLVE, when, amount=Decimal(0))

    def advance(self, case: Case, when: datetime, amount: str) -> Case:
        for action in (
            Action.ACCEPT,
            Action.ESCALATE_INSPECTION,
            Action.CONVENE_JOINT_MEETING,
            Action.CONFIRM_FACTS,
        ):
            self.act(case, action, when)
        return self.act(case, Action.ADVANCE_PAYMENT, when, amount=Decimal(amount), override=True)

    def overdue(self, case: Case, when: datetime) -> None:
        """What the clock sweep writes when a clock of the case passes."""
        case.refresh_from_db()
        with transaction.atomic():
            event_record(
                at=when,
                district=case.district_id,
                case=case,
                kind="clock.overdue",
                actor=None,
                before=case.state,
                after=case.state,
                data={"clock": "commitment", "due_at": when.isoformat()},
            )


@pytest.fixture
def log(district: District) -> Log:
    return Log(district)


def june_history(log: Log) -> dict[str, Case]:
    """The history in the module docstring."""
    c: dict[str, Case] = {}
    c["c1"] = log.register(local(2025, 5, 10))
    c["c2"] = log.register(local(2025, 3, 1))
    c["c3"] = log.register(local(2025, 5, 20))
    log.resolve(c["c3"], local(2025, 5, 25))
    c["c14"] = log.register(local(2025, 5, 1))
    log.act(c["c14"], Action.ACCEPT, local(2025, 6, 5))
    log.act(c["c14"], Action.ESCALATE_INSPECTION, local(2025, 6, 5, 11))
    log.act(c["c14"], Action.RESOLVE, local(2025, 6, 25), amount=Decimal(0))
    c["c9"] = log.register(local(2025, 5, 15), town="shuanglin")
    log.resolve(c["c9"], local(2025, 6, 1, 0), accepted=local(2025, 5, 20))
    c["c4"] = log.register(local(2025, 6, 2))
    log.resolve(c["c4"], local(2025, 6, 10))
    c["c5"] = log.register(local(2025, 6, 3), town="shuanglin", channel="police_110")
    c["c6"] = log.register(local(2025, 6, 4), town="shuanglin", channel="hotline_12345")
    log.act(c["c6"], Action.REJECT, local(2025, 6, 5))
    c["c7"] = log.register(local(2025, 6, 5), town="shuanglin", channel="online")
    log.act(c["c7"], Action.MERGE, local(2025, 6, 6), into=c["c5"].number)
    log.resolve(c["c5"], local(2025, 6, 20))
    c["c8"] = log.register(local(2025, 6, 6))
    c["c11"] = log.register(
        local(2025, 6, 8), project=ProjectType.REAL_ESTATE, workers=20, amount="80000.00"
    )
    log.advance(c["c11"], local(2025, 6, 15), "5000.00")
    log.act(c["c11"], Action.RECORD_RECOVERY, local(2025, 6, 20), amount=Decimal("2000.00"))
    c["c12"] = log.register(local(2025, 6, 9))
    log.act(c["c12"], Action.DISPATCH, local(2025, 6, 12), unit="hefu")
    c["c13"] = log.register(local(2025, 6, 11), town="nanxun")
    log.resolve(c["c13"], local(2025, 6, 12))
    log.overdue(c["c1"], local(2025, 6, 20))
    c["c10"] = log.register(local(2025, 6, 30, 23, 59, 59))
    for case in c.values():
        case.refresh_from_db()
    return c


def after_june(log: Log, c: dict[str, Case]) -> None:
    """July: new cases, the open cases closed, an advance, a re-dispatch, an overdue clock."""
    log.register(local(2025, 7, 1, 0))
    log.register(local(2025, 7, 2), town="hefu", channel="petition")
    fresh = log.register(local(2025, 7, 3), town="shuanglin")
    log.resolve(fresh, local(2025, 7, 4))
    log.overdue(c["c8"], local(2025, 7, 2))
    log.resolve(c["c8"], local(2025, 7, 3))
    log.resolve(c["c1"], local(2025, 7, 3))
    log.act(c["c10"], Action.DISPATCH, local(2025, 7, 2), unit="shuanglin")
    log.act(c["c12"], Action.REJECT, local(2025, 7, 5))
    log.advance(c["c2"], local(2025, 7, 6), "3000.00")
    log.act(c["c11"], Action.RECORD_RECOVERY, local(2025, 7, 8), amount=Decimal("3000.00"))
    log.act(c["c11"], Action.CLOSE, local(2025, 7, 9))


def month_json(month: date, last: date | None = None) -> dict[str, Any]:
    window = reports.window_for(month, last)
    return reports.monthly_json(reports.monthly_report(district_id=district_id(), window=window))


def district_id() -> int:
    return District.objects.get(code="nanxun_district").pk


def rows_by_unit(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["unit"]: r for r in data["rows"]}


# --- receipts -------------------------------------------------------------------------------


# (day, hour, channel, workers, amount, project) of the eight June 2025 registrations
JUNE_2025 = [
    (1, 0, "window", 5, "1000.00", None),  # exactly at the month's start
    (3, 10, "window", 6, "2000.50", ProjectType.REAL_ESTATE),
    (5, 10, "window", 7, "999.50", None),
    (8, 10, "police_110", 8, "1500.00", ProjectType.OTHER_CONSTRUCTION),
    (12, 10, "police_110", 9, "1500.00", None),
    (15, 10, "hotline_12345", 10, "2000.00", ProjectType.TRANSPORT),
    (20, 10, "hotline_12345", 11, "1000.00", None),
    (30, 23, "online", 12, "2000.00", None),  # 23:00 on the last day
]


@pytest.fixture
def receipts_history(log: Log) -> None:
    for day, hour, channel, workers, amount, project in JUNE_2025:
        log.register(
            local(2025, 6, day, hour),
            channel=channel,
            workers=workers,
            amount=amount,
            project=project,
        )
    # Just outside June in Shanghai (but inside it in UTC, for the first one).
    log.register(local(2025, 5, 31, 23, 59, 59), workers=100, amount="99999.00")
    log.register(local(2025, 7, 1, 0), workers=100, amount="99999.00")
    # June 2024: ten cases, four on construction projects, 100 workers, 10000.00 yuan.
    for i in range(10):
        log.register(
            local(2024, 6, 2 + i),
            channel="petition",
            workers=10,
            amount="1000.00",
            project=ProjectType.REAL_ESTATE if i < 4 else None,
        )


def test_month_receipts_by_channel_and_against_last_year(receipts_history: None) -> None:
    data = month_json(JUNE)
    assert data["period"] == "2025-06"
    assert (data["from"], data["to"]) == ("2025-06", "2025-06")
    assert data["cases_received"] == 8
    assert data["construction_cases"] == 3
    assert data["workers"] == 68
    assert data["amount_owed"] == "12000.00"
    assert data["by_channel"] == {
        "window": 3,
        "labour_complaint": 0,
        "police_110": 2,
        "petition": 0,
        "inspection_tip": 0,
        "hotline_12345": 2,
        "online": 1,
    }
    assert list(data["by_channel"]) == CHANNELS
    assert data["prior"] == {
        "cases_received": 10,
        "construction_cases": 4,
        "workers": 100,
        "amount_owed": "10000.00",
        "by_channel": {**dict.fromkeys(CHANNELS, 0), "petition": 10},
    }
    assert data["yoy"] == {
        "cases_received": -20.0,
        "construction_cases": -25.0,
        "workers": -32.0,
        "amount_owed": 20.0,
    }
    assert data["series"] == []


def test_yoy_is_null_without_registrations_the_year_before(receipts_history: None) -> None:
    data = month_json(date(2025, 7, 1))
    assert data["cases_received"] == 1
    assert data["prior"] is None
    assert data["yoy"] == dict.fromkeys(
        ["cases_received", "construction_cases", "workers", "amount_owed"]
    )


def test_month_with_nothing_is_zero_everywhere(district: District) -> None:
    data = month_json(date(2025, 2, 1))
    assert data["cases_received"] == 0
    assert Decimal(data["amount_owed"]) == 0
    assert data["by_channel"] == dict.fromkeys(CHANNELS, 0)
    assert data["closure_rate"] is None
    assert data["closure"]["handled"] == 0
    assert data["closure"]["by_unit"] == []
    assert data["fund"] == {"advanced": "0.00", "recovered": "0.00"}
    assert (data["open_at_end"], data["long_open"]) == (0, 0)


def test_range_sums_the_months_and_gives_each(log: Log) -> None:
    log.register(local(2025, 5, 3), workers=2, amount="100.00")
    log.register(local(2025, 5, 31, 23, 59), workers=3, amount="200.00", channel="online")
    log.register(local(2025, 6, 15), workers=4, amount="300.00", project=ProjectType.WATER)
    log.register(local(2025, 8, 1, 0), workers=5, amount="400.00")  # after the range
    log.register(local(2024, 5, 10), workers=1, amount="50.00")  # the range a year before
    data = month_json(date(2025, 5, 1), date(2025, 7, 1))
    assert data["period"] == "2025-05..2025-07"
    assert (data["from"], data["to"]) == ("2025-05", "2025-07")
    assert data["cases_received"] == 3
    assert data["construction_cases"] == 1
    assert data["workers"] == 9
    assert data["amount_owed"] == "600.00"
    assert data["by_channel"]["window"] == 2
    assert data["by_channel"]["online"] == 1
    assert data["prior"]["cases_received"] == 1
    assert data["yoy"]["cases_received"] == 200.0
    assert [
        (
            s["month"],
            s["cases_received"],
            s["construction_cases"],
            s["workers"],
            Decimal(s["amount_owed"]),
        )
        for s in data["series"]
    ] == [
        ("2025-05", 2, 0, 5, Decimal("300.00")),
        ("2025-06", 1, 1, 4, Decimal("300.00")),
        ("2025-07", 0, 0, 0, Decimal(0)),  # "0": see test_money_of_an_empty_month_has_two_places
    ]
    assert data["series"][0]["by_channel"] == {
        **dict.fromkeys(CHANNELS, 0),
        "window": 1,
        "online": 1,
    }
    assert sum(s["cases_received"] for s in data["series"]) == data["cases_received"]


def test_money_of_an_empty_month_has_two_places(log: Log) -> None:
    log.register(local(2025, 5, 3), amount="100.00")
    assert month_json(date(2025, 2, 1))["amount_owed"] == "0.00"
    series = month_json(date(2025, 5, 1), date(2025, 6, 1))["series"]
    assert [s["amount_owed"] for s in series] == ["100.00", "0.00"]


# --- closure, open cases, fund --------------------------------------------------------------


def test_closure_overall_and_per_unit(log: Log) -> None:
    june_history(log)
    data = month_json(JUNE)
    assert data["cases_received"] == 9  # c4-c8, c10-c13: rejected and merged were received
    assert data["construction_cases"] == 1
    assert data["workers"] == 60
    assert data["amount_owed"] == "160000.00"
    assert data["by_channel"] == {
        **dict.fromkeys(CHANNELS, 0),
        "window": 6,
        "police_110": 1,
        "hotline_12345": 1,
        "online": 1,
    }
    assert data["closure"]["handled"] == 11
    assert data["closure"]["concluded"] == 5
    assert data["closure_rate"] == 0.4545
    assert data["closure"]["target"] == 0.95
    assert [
        (u["unit"], u["handled"], u["concluded"], u["closure_rate"], u["meets_target"])
        for u in data["closure"]["by_unit"]
    ] == [
        ("hefu", 1, 0, 0.0, False),
        ("housing", 1, 0, 0.0, False),
        ("lianshi", 6, 2, 0.3333, False),
        ("nanxun", 1, 1, 1.0, True),
        ("shuanglin", 2, 2, 1.0, True),
    ]
    assert data["closure"]["by_unit"][2]["name"] == "练市镇"
    assert data["open_at_end"] == 6
    assert data["long_open"] == 1  # c2, open since 1 March
    assert data["fund"] == {"advanced": "5000.00", "recovered": "2000.00"}


def test_a_case_finished_before_the_month_is_not_handled_in_it(log: Log) -> None:
    c = june_history(log)
    may = month_json(date(2025, 5, 1))
    # In May: c1, c2, c3 (resolved), c14 and c9 (open then) were handled.
    assert may["closure"]["handled"] == 5
    assert may["closure"]["concluded"] == 1
    assert c["c3"].finished_at == local(2025, 5, 25)
    assert c["c9"].finished_at == local(2025, 6, 1, 0)
    assert c["c7"].state == "merged"
    assert c["c6"].state == "rejected"


def test_long_open_follows_the_district_setting(log: Log, district: District) -> None:
    june_history(log)
    RankingSettings.objects.create(district=district, long_open_days=45)
    assert month_json(JUNE)["long_open"] == 2  # c2 and c1 (51 days)


# --- the ranking ----------------------------------------------------------------------------


def test_ranking_rows(log: Log) -> None:
    june_history(log)
    data = reports.ranking_json(district_id=district_id(), month=JUNE, now=local(2025, 7, 15))
    assert data["month"] == "2025-06"
    assert data["final"] is False
    assert data["provisional"] is False
    rows = data["rows"]
    assert [(r["unit"], r["rank"], r["score"]) for r in rows[:5]] == [
        ("nanxun", 1, "100.0"),
        ("shuanglin", 1, "100.0"),
        ("lianshi", 3, "15.7"),
        ("hefu", 4, "0.0"),
        ("housing", 5, "-2.0"),
    ]
    by_unit = rows_by_unit(data)
    lianshi = by_unit["lianshi"]
    assert set(lianshi) == {
        "unit",
        "name",
        "cases",
        "self_resolved",
        "self_resolution_rate",
        "fund_advances",
        "overdue",
        "points_deducted",
        "score",
        "rank",
        "strike",
    }
    assert (lianshi["cases"], lianshi["self_resolved"], lianshi["self_resolution_rate"]) == (
        6,
        1,
        0.1667,
    )
    assert (lianshi["fund_advances"], lianshi["overdue"]) == (0, 1)
    assert Decimal(lianshi["points_deducted"]) == 1
    housing = by_unit["housing"]
    assert (housing["cases"], housing["self_resolved"], housing["self_resolution_rate"]) == (
        1,
        0,
        0.0,
    )
    assert (housing["fund_advances"], housing["overdue"]) == (1, 0)
    assert Decimal(housing["points_deducted"]) == 2
    shuanglin = by_unit["shuanglin"]
    assert (shuanglin["cases"], shuanglin["self_resolved"]) == (2, 2)
    assert shuanglin["self_resolution_rate"] == 1.0
    # The re-dispatched case counts for the unit responsible at the month's end.
    assert (by_unit["hefu"]["cases"], by_unit["hefu"]["self_resolved"]) == (1, 0)
    # Every active unit is listed; those with no case unranked, last, by code.
    units = list(
        Unit.objects.filter(district__code="nanxun_district", active=True).values_list(
            "code", flat=True
        )
    )
    assert sorted(r["unit"] for r in rows) == sorted(units)
    rest = rows[5:]
    assert [r["unit"] for r in rest] == sorted(set(units) - {r["unit"] for r in rows[:5]})
    assert all(
        r["rank"] is None and r["score"] is None and r["cases"] == 0 and r["strike"] is None
        for r in rest
    )
    for r in rows:
        rate = r["self_resolution_rate"]
        assert rate is None or 0 <= rate <= 1


def test_ranking_weights_follow_the_district_setting(log: Log, district: District) -> None:
    june_history(log)
    RankingSettings.objects.create(
        district=district, advance_points=Decimal("10.0"), overdue_points=Decimal("0.5")
    )
    by_unit = rows_by_unit(
        reports.ranking_json(district_id=district.pk, month=JUNE, now=local(2025, 7, 15))
    )
    assert by_unit["housing"]["score"] == "-10.0"
    assert by_unit["lianshi"]["score"] == "16.2"  # 16.666… − 0.5


def test_past_month_reads_the_same_whatever_happens_after(log: Log) -> None:
    c = june_history(log)
    now = local(2025, 8, 2)
    monthly_before = month_json(JUNE)
    range_before = month_json(date(2025, 5, 1), JUNE)
    ranking_before = reports.ranking_json(district_id=district_id(), month=JUNE, now=now)
    after_june(log, c)
    assert month_json(JUNE) == monthly_before
    assert month_json(date(2025, 5, 1), JUNE) == range_before
    assert reports.ranking_json(district_id=district_id(), month=JUNE, now=now) == ranking_before
    # July did see it all.
    july = month_json(date(2025, 7, 1))
    assert july["cases_received"] == 3
    assert july["fund"] == {"advanced": "3000.00", "recovered": "3000.00"}
    july_rows = rows_by_unit(
        reports.ranking_json(district_id=district_id(), month=date(2025, 7, 1), now=now)
    )
    assert july_rows["shuanglin"]["cases"] == 2  # the fresh case and c10, re-dispatched
    assert july_rows["lianshi"]["fund_advances"] == 1


# --- strikes --------------------------------------------------------------------------------


def strike_history(log: Log, months: list[date], last: set[date]) -> None:
    """Each month nanxun self-resolves a case (100.0). Shuanglin ranks last in the months of
    `last` (a case still open at the month's end, resolved early the next month); in the
    other months its only case is that one, resolved: it ties with nanxun, and nobody is
    struck."""
    pending: Case | None = None
    for month in months:
        y, mo = month.year, month.month
        good = log.register(local(y, mo, 2), town="nanxun")
        log.resolve(good, local(y, mo, 3))
        if pending is not None:
            log.resolve(pending, local(y, mo, 1, 1))
            pending = None
        if month in last:
            pending = log.register(local(y, mo, 2, 11), town="shuanglin")


MONTHS_2025 = [date(2025, m, 1) for m in range(1, 6)]


def strikes(unit: str) -> list[tuple[str, int, int, str]]:
    return [
        (s.month.strftime("%Y-%m"), s.count, s.step, s.consequence)
        for s in UnitStrike.objects.filter(unit__code=unit).order_by("month")
    ]


def test_rankings_close_closes_each_finished_month_once(log: Log, district: District) -> None:
    strike_history(log, MONTHS_2025[:4], set(MONTHS_2025[:4]))
    closed = reports.rankings_close(district_id=district.pk, now=local(2025, 3, 10))
    assert closed == [date(2025, 1, 1), date(2025, 2, 1)]
    closed = reports.rankings_close(district_id=district.pk, now=local(2025, 5, 1, 0))
    assert closed == [date(2025, 3, 1), date(2025, 4, 1)]
    assert sorted(RankingMonth.objects.values_list("month", flat=True)) == MONTHS_2025[:4]
    counts = (RankingMonth.objects.count(), UnitStrike.objects.count(), Event.objects.count())
    assert reports.rankings_close(district_id=district.pk, now=local(2025, 5, 20)) == []
    assert (
        RankingMonth.objects.count(),
        UnitStrike.objects.count(),
        Event.objects.count(),
    ) == counts
    assert reports.rankings_close_all(now=local(2025, 5, 20)) == 0
    assert strikes("shuanglin") == [
        ("2025-01", 1, 1, "interview"),
        ("2025-02", 2, 2, "criticism"),
        ("2025-03", 3, 3, "discipline"),
        ("2025-04", 4, 3, "discipline"),
    ]
    assert strikes("nanxun") == []
    first = UnitStrike.objects.get(unit__code="shuanglin", month=date(2025, 1, 1))
    assert first.score == Decimal("0.0")
    assert first.recorded_at == local(2025, 3, 10)
    second = UnitStrike.objects.get(unit__code="shuanglin", month=date(2025, 2, 1))
    assert second.score == Decimal("50.0")  # January's case resolved in February, one open
    closed_month = RankingMonth.objects.get(month=date(2025, 2, 1))
    assert closed_month.closed_at == local(2025, 3, 10)
    assert [(r["unit"], r["rank"]) for r in closed_month.rows[:2]] == [
        ("nanxun", 1),
        ("shuanglin", 2),
    ]


def test_rankings_close_all_closes_every_district(log: Log, district: District) -> None:
    strike_history(log, MONTHS_2025[:2], set(MONTHS_2025[:2]))
    assert reports.rankings_close_all(now=local(2025, 3, 2)) == 2
    assert reports.rankings_close_all(now=local(2025, 3, 2)) == 0


def test_consecutive_strikes_reset_after_a_month_without_one(log: Log, district: District) -> None:
    RankingSettings.objects.create(district=district, strike_window="consecutive")
    struck = {MONTHS_2025[0], MONTHS_2025[1], MONTHS_2025[3]}
    strike_history(log, MONTHS_2025[:4], struck)
    reports.rankings_close(district_id=district.pk, now=local(2025, 5, 2))
    assert strikes("shuanglin") == [
        ("2025-01", 1, 1, "interview"),
        ("2025-02", 2, 2, "criticism"),
        ("2025-04", 1, 1, "interview"),
    ]
    march = rows_by_unit(
        reports.ranking_json(district_id=district.pk, month=MONTHS_2025[2], now=local(2025, 5, 2))
    )
    assert march["shuanglin"]["score"] == march["nanxun"]["score"] == "100.0"
    assert march["shuanglin"]["strike"] is None


def test_year_strikes_count_across_a_gap(log: Log, district: District) -> None:
    struck = {MONTHS_2025[0], MONTHS_2025[1], MONTHS_2025[3]}
    strike_history(log, MONTHS_2025[:4], struck)
    reports.rankings_close(district_id=district.pk, now=local(2025, 5, 2))
    assert [s[:3] for s in strikes("shuanglin")] == [
        ("2025-01", 1, 1),
        ("2025-02", 2, 2),
        ("2025-04", 3, 3),
    ]


def test_strike_event_goes_to_the_units_stream(log: Log, district: District) -> None:
    strike_history(log, MONTHS_2025[:2], set(MONTHS_2025[:2]))
    reports.rankings_close(district_id=district.pk, now=local(2025, 3, 2))
    shuanglin = Unit.objects.get(district=district, code="shuanglin")
    events = list(Event.objects.filter(kind="ranking.strike").order_by("id"))
    assert [e.data["month"] for e in events] == ["2025-01", "2025-02"]
    first = events[0]
    assert first.district_id == district.pk
    assert first.at == local(2025, 3, 2)
    assert first.data["unit_id"] == shuanglin.pk
    assert first.data["unit"] == "shuanglin"
    assert (first.data["step"], first.data["count"], first.data["consequence"]) == (
        1,
        1,
        "interview",
    )
    assert first.data["rank"] == 2
    entries = StreamEntry.objects.filter(
        stream=f"unit.{shuanglin.pk}", event__kind="ranking.strike"
    )
    assert entries.count() == 2
    assert (
        StreamEntry.objects.filter(
            stream=f"district.{district.pk}", event__kind="ranking.strike"
        ).count()
        == 2
    )


def test_ranking_json_final_with_strikes_and_provisional_now(log: Log, district: District) -> None:
    strike_history(log, MONTHS_2025[:3], set(MONTHS_2025[:3]))
    now = local(2025, 3, 15)
    before = reports.ranking_json(district_id=district.pk, month=MONTHS_2025[1], now=now)
    assert (before["final"], before["provisional"]) == (False, False)
    assert all(r["strike"] is None for r in before["rows"])
    reports.rankings_close(district_id=district.pk, now=now)
    feb = reports.ranking_json(district_id=district.pk, month=MONTHS_2025[1], now=now)
    assert (feb["final"], feb["provisional"]) == (True, False)
    by_unit = rows_by_unit(feb)
    strike = by_unit["shuanglin"]["strike"]
    assert strike is not None
    assert (strike["step"], strike["count"], strike["consequence"]) == (2, 2, "criticism")
    assert strike["label"]
    assert by_unit["nanxun"]["strike"] is None
    # The ranking's figures are the same before and after closing.
    assert [{**r, "strike": None} for r in feb["rows"]] == before["rows"]
    march = reports.ranking_json(district_id=district.pk, month=MONTHS_2025[2], now=now)
    assert (march["final"], march["provisional"]) == (False, True)
    assert all(r["strike"] is None for r in march["rows"])
    real_now = timezone.now()
    this_month = reports.ranking_json(
        district_id=district.pk, month=month_of(real_now), now=real_now
    )
    assert this_month["provisional"] is True
    assert this_month["final"] is False


def test_no_strike_when_every_ranked_unit_ties(log: Log, district: District) -> None:
    for town in ("nanxun", "shuanglin", "hefu"):
        case = log.register(local(2025, 1, 5), town=town)
        log.resolve(case, local(2025, 1, 6))
    assert reports.rankings_close(district_id=district.pk, now=local(2025, 2, 3)) == [
        date(2025, 1, 1)
    ]
    assert UnitStrike.objects.count() == 0
    assert not Event.objects.filter(kind="ranking.strike").exists()


def test_tie_at_the_bottom_strikes_both(log: Log, district: District) -> None:
    good = log.register(local(2025, 1, 5), town="nanxun")
    log.resolve(good, local(2025, 1, 6))
    log.register(local(2025, 1, 5), town="shuanglin")
    log.register(local(2025, 1, 5), town="hefu")
    reports.rankings_close(district_id=district.pk, now=local(2025, 2, 3))
    assert sorted(UnitStrike.objects.values_list("unit__code", "step")) == [
        ("hefu", 1),
        ("shuanglin", 1),
    ]


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [MONTHLY, RANKING])
def test_api_needs_a_login(district: District, url: str) -> None:
    response = Client().get(url, {"month": "2025-06"})
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.fixture
def outsider(district: District) -> Client:
    """Command staff of another district, which has one town of its own."""
    other = District.objects.create(code="other", case_prefix="OT", name_zh="外区", name_en="Other")
    Unit.objects.create(
        district=other,
        code="waizhen",
        kind=Unit.Kind.TERRITORIAL,
        name_zh="外镇",
        name_en="Outer Town",
        lat=30.5,
        lng=120.1,
    )
    user = User.objects.create(username="command_other")
    user.groups.set([Group.objects.get(name="command")])
    Membership.objects.create(user=user, district=other)
    client = Client()
    client.force_login(user)
    return client


def test_api_shows_only_the_users_district(
    log: Log, outsider: Client, api_client: Callable[[str], Client]
) -> None:
    june_history(log)
    mine = api_client("command").get(MONTHLY, {"month": "2025-06"}).json()
    assert mine["cases_received"] == 9
    theirs = outsider.get(MONTHLY, {"month": "2025-06"})
    assert theirs.status_code == 200
    data = theirs.json()
    assert data["cases_received"] == 0
    assert data["closure"]["handled"] == 0
    assert data["fund"] == {"advanced": "0.00", "recovered": "0.00"}
    ranking = outsider.get(RANKING, {"month": "2025-06"}).json()
    assert [(r["unit"], r["rank"], r["cases"]) for r in ranking["rows"]] == [("waizhen", None, 0)]


def test_api_monthly_and_ranking(log: Log, api_client: Callable[[str], Client]) -> None:
    june_history(log)
    client = api_client("reviewer")
    response = client.get(MONTHLY, {"month": "2025-06"})
    assert response.status_code == 200
    assert response.json() == month_json(JUNE)
    response = client.get(MONTHLY, {"from": "2025-05", "to": "2025-06"})
    assert response.status_code == 200
    assert response.json()["period"] == "2025-05..2025-06"
    assert [s["month"] for s in response.json()["series"]] == ["2025-05", "2025-06"]
    response = client.get(RANKING, {"month": "2025-06"})
    assert response.status_code == 200
    data = response.json()
    assert data["month"] == "2025-06"
    assert data["rows"][0]["unit"] == "nanxun"
    assert data["provisional"] is False


def test_api_24_month_range_is_allowed(
    district: District, api_client: Callable[[str], Client]
) -> None:
    response = api_client("command").get(MONTHLY, {"from": "2024-01", "to": "2025-12"})
    assert response.status_code == 200
    assert len(response.json()["series"]) == 24


def test_api_defaults_to_this_month_and_last_month(
    district: District, api_client: Callable[[str], Client]
) -> None:
    client = api_client("command")
    before = month_of(timezone.now())
    monthly = client.get(MONTHLY).json()
    ranking = client.get(RANKING).json()
    after = month_of(timezone.now())
    assert monthly["period"] in {before.strftime("%Y-%m"), after.strftime("%Y-%m")}
    last = {month_add(m, -1).strftime("%Y-%m") for m in (before, after)}
    assert ranking["month"] in last
    assert ranking["provisional"] is False


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        (MONTHLY, {"month": "2026-13"}, "month"),
        (MONTHLY, {"month": "2026-5"}, "month"),
        (MONTHLY, {"month": "abc"}, "month"),
        (MONTHLY, {"month": ""}, "month"),
        (MONTHLY, {"week": "2026-05"}, "week"),
        (MONTHLY, {"from": "2026-01"}, "to"),
        (MONTHLY, {"to": "2026-01"}, "from"),
        (MONTHLY, {"from": "2026-05", "to": "2026-04"}, "to"),
        (MONTHLY, {"from": "2024-01", "to": "2026-01"}, "to"),
        (MONTHLY, {"from": "2026-13", "to": "2026-12"}, "from"),
        (MONTHLY, {"month": "2026-05", "from": "2026-01", "to": "2026-02"}, "month"),
        (MONTHLY, {"format": "pdf"}, "format"),
        (RANKING, {"month": "2026-13"}, "month"),
        (RANKING, {"month": "2026-5"}, "month"),
        (RANKING, {"month": "abc"}, "month"),
        (RANKING, {"from": "2026-01", "to": "2026-02"}, "from"),
    ],
)
def test_api_refuses_bad_parameters(
    district: District,
    api_client: Callable[[str], Client],
    url: str,
    query: dict[str, str],
    field: str,
) -> None:
    response = api_client("command").get(url, query)
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    assert len(body["errors"]) == 1
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["message"]


# --- the pages ------------------------------------------------------------------------------


def figure(html: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{row_id}">.*?<td>(.*?)</td>', html, re.S)
    assert match, row_id
    return match[1].strip()


@pytest.mark.parametrize("username", ["reviewer", "command", "liaison_lianshi"])
def test_pages_open_for_every_role(
    log: Log, api_client: Callable[[str], Client], username: str
) -> None:
    june_history(log)
    client = api_client(username)
    for url in (
        "/reports/monthly/?month=2025-06",
        "/reports/monthly/?from=2025-01&to=2025-06",
        "/reports/monthly/",
        "/reports/ranking/?month=2025-06",
        "/reports/ranking/",
        "/reports/units/lianshi/",
    ):
        assert client.get(url).status_code == 200, url


def test_pages_need_a_login(district: District) -> None:
    for url in ("/reports/monthly/", "/reports/ranking/", "/reports/units/lianshi/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]


def test_unknown_unit_page_is_404(district: District, api_client: Callable[[str], Client]) -> None:
    assert api_client("command").get("/reports/units/nowhere/").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/reports/monthly/?month=2026-13",
        "/reports/monthly/?month=abc",
        "/reports/monthly/?from=2026-01",
        "/reports/monthly/?from=2026-05&to=2026-04",
        "/reports/monthly/?from=2024-01&to=2026-01",
        "/reports/monthly/?format=pdf",
        "/reports/monthly/?week=1",
        "/reports/ranking/?month=2026-5",
        "/reports/ranking/?month=abc&format=csv",
        "/reports/ranking/?foo=1",
    ],
)
def test_pages_refuse_bad_parameters(
    district: District, api_client: Callable[[str], Client], url: str
) -> None:
    assert api_client("reviewer").get(url).status_code == 400


def test_page_shows_what_the_api_gives(log: Log, api_client: Callable[[str], Client]) -> None:
    june_history(log)
    client = api_client("command")
    api = client.get(MONTHLY, {"month": "2025-06"}).json()
    page = client.get("/reports/monthly/", {"month": "2025-06"})
    assert page.context["data"] == api
    html = page.content.decode()
    assert figure(html, "fig-cases") == str(api["cases_received"]) == "9"
    assert figure(html, "fig-workers") == "60"
    assert figure(html, "fig-open") == "6"
    assert figure(html, "fig-long-open") == "1"
    assert figure(html, "fig-advanced") == "5000.00"
    assert figure(html, "fig-closure") == "45.5%"
    ranking_api = client.get(RANKING, {"month": "2025-06"}).json()
    ranking_page = client.get("/reports/ranking/", {"month": "2025-06"})
    assert ranking_page.context["data"] == ranking_api
    row = re.search(
        r'<tr class="ranking-row[^"]*" data-unit="lianshi">(.*?)</tr>',
        ranking_page.content.decode(),
        re.S,
    )
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row[1], re.S)
    assert cells[0] == "3"
    assert "15.7" in cells


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def read_xlsx(response: Any) -> dict[str, list[list[Any]]]:
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return {
        sheet.title: [list(r) for r in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }


def test_monthly_csv_holds_the_figures(log: Log, api_client: Callable[[str], Client]) -> None:
    june_history(log)
    response = api_client("reviewer").get(
        "/reports/monthly/", {"month": "2025-06", "format": "csv"}
    )
    assert 'filename="monthly-2025-06.csv"' in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][1] == "2025-06"
    figures = rows[3:14]
    assert [r[1] for r in figures] == [
        "9",
        "1",
        "60",
        "160000.00",
        "0.4545",
        "11",
        "5",
        "6",
        "1",
        "5000.00",
        "2000.00",
    ]
    window_row = next(r for r in rows if len(r) == 3 and r[1] == "window")
    assert window_row[2] == "6"
    unit_rows = {r[0]: r for r in rows if r and r[0] in {"lianshi", "shuanglin", "hefu"}}
    assert unit_rows["lianshi"][2:] == ["6", "2", "0.3333"]
    assert unit_rows["shuanglin"][2:] == ["2", "2", "1.0"]


def test_monthly_range_xlsx_has_a_sheet_per_table(
    log: Log, api_client: Callable[[str], Client]
) -> None:
    june_history(log)
    response = api_client("command").get(
        "/reports/monthly/", {"from": "2025-05", "to": "2025-06", "format": "xlsx"}
    )
    sheets = read_xlsx(response)
    assert len(sheets) == 4
    figures, _channels, units, by_month = sheets.values()
    assert figures[0][1] == "2025-05..2025-06"
    assert [r[0] for r in by_month[1:]] == ["2025-05", "2025-06"]
    assert [r[1] for r in by_month[1:]] == [4, 9]
    assert {r[0] for r in units[1:]} >= {"lianshi", "shuanglin"}


def test_ranking_csv_and_xlsx_hold_the_rows(log: Log, api_client: Callable[[str], Client]) -> None:
    june_history(log)
    client = api_client("command")
    rows = read_csv(client.get("/reports/ranking/", {"month": "2025-06", "format": "csv"}))
    header, body = rows[0], rows[1:]
    assert len(header) == 11
    assert [(r[0], r[1], r[3]) for r in body[:4]] == [
        ("1", "nanxun", "1"),
        ("1", "shuanglin", "2"),
        ("3", "lianshi", "6"),
        ("4", "hefu", "1"),
    ]
    assert body[2][9] == "15.7"
    assert len(body) == Unit.objects.filter(district__code="nanxun_district").count()
    sheets = read_xlsx(client.get("/reports/ranking/", {"month": "2025-06", "format": "xlsx"}))
    (table,) = sheets.values()
    assert [(r[0], r[1], r[3]) for r in table[1:5]] == [
        (1, "nanxun", 1),
        (1, "shuanglin", 2),
        (3, "lianshi", 6),
        (4, "hefu", 1),
    ]
    assert table[3][5] == 0.1667
    assert table[3][9] == 15.7
    assert table[-1][0] is None or table[-1][0] == ""


@pytest.fixture
def formula_unit(log: Log) -> str:
    name = '=HYPERLINK("http://evil.example","点我")'
    Unit.objects.filter(code="hefu").update(name_zh=name, name_en=name)
    return name


def test_formula_unit_name_is_neutralised(
    log: Log, formula_unit: str, api_client: Callable[[str], Client]
) -> None:
    june_history(log)
    client = api_client("command")
    ranking = read_csv(client.get("/reports/ranking/", {"month": "2025-06", "format": "csv"}))
    hefu = next(r for r in ranking if len(r) > 2 and r[1] == "hefu")
    assert hefu[2] == "'" + formula_unit
    monthly = read_csv(client.get("/reports/monthly/", {"month": "2025-06", "format": "csv"}))
    hefu = next(r for r in monthly if r and r[0] == "hefu")
    assert hefu[1] == "'" + formula_unit
    (table,) = read_xlsx(
        client.get("/reports/ranking/", {"month": "2025-06", "format": "xlsx"})
    ).values()
    hefu_cells = next(r for r in table if r[1] == "hefu")
    assert hefu_cells[2] == "'" + formula_unit
    sheets = read_xlsx(client.get("/reports/monthly/", {"month": "2025-06", "format": "xlsx"}))
    units = list(sheets.values())[2]
    assert next(r for r in units if r[0] == "hefu")[1] == "'" + formula_unit
    # Nothing in the workbooks is a formula.
    for response in (
        client.get("/reports/ranking/", {"month": "2025-06", "format": "xlsx"}),
        client.get("/reports/monthly/", {"month": "2025-06", "format": "xlsx"}),
    ):
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        for sheet in book.worksheets:
            for cells in sheet.iter_rows():
                assert all(c.data_type != "f" for c in cells)


def test_negative_score_is_exported_as_a_number(
    log: Log, api_client: Callable[[str], Client]
) -> None:
    june_history(log)
    client = api_client("command")
    ranking = read_csv(client.get("/reports/ranking/", {"month": "2025-06", "format": "csv"}))
    housing = next(r for r in ranking if len(r) > 2 and r[1] == "housing")
    assert housing[9] == "-2.0"
    (table,) = read_xlsx(
        client.get("/reports/ranking/", {"month": "2025-06", "format": "xlsx"})
    ).values()
    housing_cells = next(r for r in table if r[1] == "housing")
    assert housing_cells[9] in (-2.0, "-2.0")


def test_unit_record_lists_strikes_and_closed_months(
    log: Log, district: District, api_client: Callable[[str], Client]
) -> None:
    strike_history(log, MONTHS_2025[:3], set(MONTHS_2025[:3]))
    reports.rankings_close(district_id=district.pk, now=local(2025, 4, 2))
    client = api_client("liaison_housing")
    html = client.get("/reports/units/shuanglin/").content.decode()
    assert html.count('class="strike-row"') == 3
    for month in ("2025-01", "2025-02", "2025-03"):
        assert f"?month={month}" in html
    response = client.get("/reports/units/nanxun/")
    assert 'class="strike-row"' not in response.content.decode()
    assert [m["rank"] for m in response.context["months"]] == [1, 1, 1]


# --- cost ------------------------------------------------------------------------------------


def many_cases(log: Log, n: int, start: int) -> None:
    towns = ["lianshi", "shuanglin", "nanxun", "hefu"]
    for i in range(start, start + n):
        case = log.register(local(2025, 6, 1 + i % 28, 9 + i % 10), town=towns[i % 4])
        if i % 2:
            log.resolve(case, local(2025, 6, 1 + i % 28, 20))
        if i % 7 == 0:
            log.overdue(case, local(2025, 6, 28))


def queries(client: Client, url: str, query: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, query).status_code == 200
    return len(ctx)


REPORT_QUERIES = [
    (MONTHLY, {"month": "2025-06"}),
    (MONTHLY, {"from": "2025-04", "to": "2025-06"}),
    (RANKING, {"month": "2025-06"}),
]


def test_reports_make_a_bounded_number_of_queries(
    log: Log, api_client: Callable[[str], Client], django_assert_max_num_queries: Any
) -> None:
    client = api_client("command")
    many_cases(log, 20, 0)
    for url, query in REPORT_QUERIES:
        queries(client, url, query)  # warm the session
    small = [queries(client, url, query) for url, query in REPORT_QUERIES]
    assert max(small) <= 30
    many_cases(log, 40, 20)
    assert Case.objects.count() == 60
    for (url, query), bound in zip(REPORT_QUERIES, small, strict=True):
        with django_assert_max_num_queries(bound):
            assert client.get(url, query).status_code == 200


# --- cases without a unit, units since deactivated ------------------------------------------


def test_undispatched_case_is_listed_last_as_not_dispatched(
    log: Log, api_client: Callable[[str], Client]
) -> None:
    june_history(log)
    # A government project without a known builder: the routing table leaves it to a person.
    orphan = log.register(local(2025, 6, 14), project=ProjectType.GOVERNMENT_INVESTMENT)
    assert orphan.responsible_unit_id is None
    data = month_json(JUNE)
    assert data["closure"]["handled"] == 12
    last = data["closure"]["by_unit"][-1]
    assert (last["unit"], last["name"], last["handled"], last["concluded"]) == (None, None, 1, 0)
    assert [u["unit"] for u in data["closure"]["by_unit"][:-1]] == [
        "hefu",
        "housing",
        "lianshi",
        "nanxun",
        "shuanglin",
    ]
    client = api_client("command")
    assert client.get("/reports/monthly/", {"month": "2025-06"}).status_code == 200
    rows = read_csv(client.get("/reports/monthly/", {"month": "2025-06", "format": "csv"}))
    assert any(r[:1] == [""] and r[2:4] == ["1", "0"] for r in rows if len(r) == 5)
    ranking = reports.ranking_json(district_id=district_id(), month=JUNE, now=local(2025, 7, 2))
    assert sum(r["cases"] for r in ranking["rows"]) == 11


def test_past_month_still_names_a_unit_deactivated_since(log: Log) -> None:
    june_history(log)
    now = local(2025, 8, 2)
    monthly_before = month_json(JUNE)
    ranking_before = reports.ranking_json(district_id=district_id(), month=JUNE, now=now)
    Unit.objects.filter(code="hefu").update(active=False)
    by_unit = month_json(JUNE)["closure"]["by_unit"]
    assert [u["unit"] for u in by_unit] == ["hefu", "housing", "lianshi", "nanxun", "shuanglin"]
    assert month_json(JUNE) == monthly_before
    assert reports.ranking_json(district_id=district_id(), month=JUNE, now=now) == ranking_before
