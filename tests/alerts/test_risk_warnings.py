"""Early warnings: scoring readings into warnings, routing, the clock, paging, raising, the
overdue sweep, reopening, and GET /api/v1/warnings with its transitions.

Readings are stored through `readings_store` (as the API and the import do) at an explicit
`now`, and scored with `risk_score(now=...)`; the periods are chosen relative to that `now`.
Under the default rules and thresholds (yellow 30, orange 60, red 90):

- `tax_d`: the latest tax credit rating is D (tax_rating_d, 30);
- `electricity_drop`: last month's electricity fell to 30% of the three before (30);
- `no_payroll`: workers registered, nothing paid from the wage account since four months
  ago (no_payroll, 40);

so yellow = tax_d (30), orange = tax_d + electricity_drop (60), red = all three (100).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from alerts.backends import locmem
from alerts.domain.indicators import reading_parse
from alerts.domain.risk import Outcome, WarningAction
from alerts.models import (
    Alert,
    EarlyWarning,
    Reading,
    RiskRule,
    RiskSettings,
    RiskSubject,
    SmsMessage,
)
from alerts.services import outbox_send
from alerts.services import risk as risk_services
from alerts.services.common import local_day
from alerts.services.risk import (
    ScoreRun,
    WarningMove,
    readings_store,
    risk_score,
    warning_transition,
    warnings_sweep,
)
from incidents.models import District, Enterprise, Event, Project, StreamEntry, Unit
from incidents.policy import Actor, actor_for
from incidents.services import Intake, case_register
from tests.alerts.risk_helpers import credit_code, district_id
from tests.live.helpers import register_case

TZ = ZoneInfo("Asia/Shanghai")
WED = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)  # a Wednesday, no holiday near
THU = WED + timedelta(days=1)
FRI = WED + timedelta(days=2)
SAT = WED + timedelta(days=3)

ClientFor = Callable[[str], Client]
Ref = dict[str, str]

_serial = itertools.count(1)


# --- helpers ------------------------------------------------------------------------------


def code(n: int) -> str:
    return credit_code(n, base=7_000_000)


def unit(unit_code: str) -> Unit:
    return Unit.objects.get(code=unit_code)


def month(now: datetime, back: int) -> str:
    """The month `back` months before the month of `now` (local time), as "YYYY-MM"."""
    today = local_day(now)
    index = today.year * 12 + today.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=TZ)


def as_user(username: str) -> Actor:
    return actor_for(User.objects.get(username=username))


def enterprise(n: int, town: str | None = "lianshi") -> Ref:
    Enterprise.objects.create(
        district_id=district_id(),
        credit_code=code(n),
        name=f"湖州测试{n}号建筑劳务有限公司",
        town=unit(town) if town else None,
    )
    return {"credit_code": code(n)}


def project(
    project_code: str, project_type: str, town: str | None, builder: str | None = None
) -> Ref:
    Project.objects.create(
        district_id=district_id(),
        name=f"工程{project_code}",
        code=project_code,
        type=project_type,
        town=unit(town) if town else None,
        builder=unit(builder) if builder else None,
    )
    return {"project": project_code}


def store(
    now: datetime,
    ref: Ref,
    rows: list[tuple[str, str, Any]],
    *,
    reported_at: datetime | None = None,
) -> list[Reading]:
    """Store readings (indicator, period, value) about `ref` as received at `now`."""
    parsed = [
        reading_parse(
            source="feed",
            external_id=f"r{next(_serial)}",
            credit_code=ref.get("credit_code"),
            project=ref.get("project"),
            indicator=indicator,
            period=period,
            value=value,
            today=local_day(now),
            reported_at=reported_at,
        )
        for indicator, period, value in rows
    ]
    with transaction.atomic():
        result = readings_store(district_id=district_id(), batch=list(enumerate(parsed)), now=now)
    assert not result.errors
    assert result.accepted == len(rows)
    return list(
        Reading.objects.filter(external_id__in=[p.external_id for p in parsed]).order_by("pk")
    )


def tax_d(now: datetime, ref: Ref) -> dict[str, list[int]]:
    (rating,) = store(now, ref, [("tax_credit_rating", month(now, 1), "D")])
    return {"tax_rating_d": [rating.pk]}


def electricity_drop(now: datetime, ref: Ref) -> dict[str, list[int]]:
    rows = [("electricity_kwh", month(now, b), 1000) for b in (4, 3, 2)]
    rows.append(("electricity_kwh", month(now, 1), 300))
    return {"electricity_drop": sorted(r.pk for r in store(now, ref, rows))}


def no_payroll(now: datetime, ref: Ref) -> dict[str, list[int]]:
    workers, paid, *unpaid = store(
        now,
        ref,
        [
            ("registered_workers", month(now, 1), 40),
            ("wage_account_payroll", month(now, 4), 50000),
            ("wage_account_payroll", month(now, 3), 0),
            ("wage_account_payroll", month(now, 2), 0),
            ("wage_account_payroll", month(now, 1), 0),
        ],
    )
    # The hit names the workers, the last payment and the months reported unpaid.
    return {"no_payroll": sorted([workers.pk, paid.pk, *(r.pk for r in unpaid)])}


RECIPES: dict[str, tuple[Callable[[datetime, Ref], dict[str, list[int]]], ...]] = {
    "yellow": (tax_d,),
    "orange": (tax_d, electricity_drop),
    "red": (tax_d, electricity_drop, no_payroll),
}


def feed(now: datetime, ref: Ref, level: str) -> dict[str, list[int]]:
    """Readings that score `ref` at `level`; the readings each rule will cite."""
    cited: dict[str, list[int]] = {}
    for recipe in RECIPES[level]:
        cited.update(recipe(now, ref))
    return cited


def subject_of(ref: Ref) -> RiskSubject:
    if "project" in ref:
        return RiskSubject.objects.get(project__code=ref["project"])
    return RiskSubject.objects.get(enterprise__credit_code=ref["credit_code"])


def score(now: datetime, ref: Ref | None = None) -> ScoreRun:
    ids = [subject_of(ref).pk] if ref else None
    return risk_score(district_id=district_id(), now=now, subject_ids=ids)


def warning_of(ref: Ref) -> EarlyWarning:
    """The subject's warning that is not closed."""
    return EarlyWarning.objects.exclude(state="closed").get(subject=subject_of(ref))


def raise_warning(now: datetime, ref: Ref, level: str) -> EarlyWarning:
    feed(now, ref, level)
    assert score(now, ref).opened == 1
    warning = warning_of(ref)
    assert warning.level == level
    return warning


def events(kind: str, warning: EarlyWarning) -> list[Event]:
    return list(Event.objects.filter(kind=kind, data__warning_id=warning.pk).order_by("pk"))


def streams_of(event: Event) -> set[str]:
    return set(StreamEntry.objects.filter(event=event).values_list("stream", flat=True))


def snapshot(warning: EarlyWarning) -> tuple[Any, ...]:
    w = EarlyWarning.objects.get(pk=warning.pk)
    return (
        w.state,
        w.level,
        w.unit_id,
        w.revision,
        w.accepted_at,
        w.closed_at,
        w.outcome,
        w.outcome_note,
        w.case_id,
        Event.objects.filter(data__warning_id=w.pk).count(),
    )


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def move(client: Client, warning: EarlyWarning, **body: Any) -> Any:
    return post(client, f"/api/v1/warnings/{warning.pk}/transitions", body)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


# --- levels, scores and reasons -----------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected_score"), [("yellow", 30), ("orange", 60), ("red", 100)]
)
def test_readings_raise_a_warning_at_the_level_their_score_reaches(
    normal_time: None, level: str, expected_score: int
) -> None:
    ref = enterprise(1, "lianshi")
    cited = feed(WED, ref, level)

    run = score(WED)

    assert (run.scored, run.opened, run.raised) == (1, 1, 0)
    subject = subject_of(ref)
    assert (subject.score, subject.level) == (expected_score, level)
    assert subject.scored_version == subject.version
    warning = warning_of(ref)
    assert (warning.level, warning.score, warning.state) == (level, expected_score, "open")
    assert warning.code == f"YJ-2026-{warning.pk:06d}"
    assert warning.raised_at == WED
    assert warning.unit == unit("lianshi")
    assert {r["rule"]: r["readings"] for r in warning.reasons} == cited
    weights = {"tax_rating_d": 30, "electricity_drop": 30, "no_payroll": 40}
    assert {r["rule"]: r["weight"] for r in warning.reasons} == {r: weights[r] for r in cited}
    assert sum(r["weight"] for r in warning.reasons) == expected_score

    (raised,) = Event.objects.filter(kind="warning.raised")
    assert raised.data["warning_id"] == warning.pk
    assert raised.data["level"] == level
    assert raised.data["unit"] == "lianshi"
    assert raised.data["subject_ref"] == {"credit_code": code(1)}
    assert (raised.data["lat"], raised.data["lng"]) == (unit("lianshi").lat, unit("lianshi").lng)
    assert raised.actor_id is None
    assert streams_of(raised) == {f"district.{district_id()}", f"unit.{unit('lianshi').pk}"}


def test_the_reasons_explain_the_rule_that_was_met(normal_time: None) -> None:
    ref = enterprise(1)
    feed(WED, ref, "red")
    score(WED)

    reasons = {r["rule"]: r["detail"] for r in warning_of(ref).reasons}

    assert reasons["tax_rating_d"] == {
        "indicator": "tax_credit_rating",
        "rating": "D",
        "period": "2026-10",
    }
    assert reasons["electricity_drop"]["month"] == "2026-10"
    assert reasons["electricity_drop"]["value"] == "300.00"
    assert reasons["electricity_drop"]["average"] == "1000.00"
    assert reasons["no_payroll"]["last_paid"] == "2026-07-31"
    assert reasons["no_payroll"]["workers"] == 40


def test_every_warning_written_fits_its_columns(
    normal_time: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = EarlyWarning.save

    def save_checked(self: EarlyWarning, *args: Any, **kwargs: Any) -> None:
        self.clean_fields()  # what PostgreSQL enforces: lengths, choices, required fields
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(EarlyWarning, "save", save_checked)

    raise_warning(WED, enterprise(1), "yellow")


def test_a_score_below_yellow_opens_no_warning(normal_time: None) -> None:
    ref = enterprise(1)
    store(WED, ref, [("property_fee_arrears_months", month(WED, 1), 4)])  # 20 points

    run = score(WED)

    assert (run.scored, run.opened) == (1, 0)
    subject = subject_of(ref)
    assert (subject.score, subject.level) == (20, "")
    assert [h["rule"] for h in subject.hits] == ["property_fees_unpaid"]
    assert not EarlyWarning.objects.exists()
    assert not Event.objects.filter(kind__startswith="warning.").exists()


def test_the_thresholds_are_the_districts(normal_time: None) -> None:
    RiskSettings.objects.create(district_id=district_id(), yellow_at=10, orange_at=20, red_at=30)
    ref = enterprise(1)
    tax_d(WED, ref)
    score(WED)
    assert warning_of(ref).level == "red"


def test_an_inactive_rule_is_not_counted(normal_time: None) -> None:
    risk_services.risk_rules_install_defaults(district_id=district_id())
    RiskRule.objects.filter(code="tax_rating_d").update(active=False)
    ref = enterprise(1)
    tax_d(WED, ref)

    run = score(WED)

    assert (run.scored, run.opened) == (1, 0)
    assert subject_of(ref).score == 0
    assert not EarlyWarning.objects.exists()


# --- routing ------------------------------------------------------------------------------


def complaint_about(n: int) -> None:
    """A wage-arrears complaint about enterprise `n`, made at the Lianshi window."""
    case_register(
        actor=as_user("clerk_lianshi"),
        intake=Intake(
            channel="window",
            window="lianshi",
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=5,
            amount_owed=Decimal("20000.00"),
            employer_name="湖州测试建筑劳务有限公司",
            employer_credit_code=code(n),
            town="lianshi",
        ),
    )


def _enterprise_with_a_case_only(n: int) -> Ref:
    """An enterprise with no town of its own, named in a complaint made in Lianshi."""
    ref = enterprise(n, town=None)
    complaint_about(n)
    # Intake fills the town in; take it away again so only the case knows where it works.
    Enterprise.objects.filter(credit_code=code(n)).update(town=None)
    return ref


ROUTES: list[tuple[str, Callable[[], Ref], str | None]] = [
    ("real estate project", lambda: project("JS-1", "real_estate", "shuanglin"), "housing"),
    ("commercial complex", lambda: project("JS-2", "commercial_complex", "linghu"), "housing"),
    ("transport project", lambda: project("JS-3", "transport", "linghu"), "transport"),
    ("other construction", lambda: project("JS-4", "other_construction", "shuanglin"), "shuanglin"),
    (
        "government project",
        lambda: project("JS-5", "government_investment", "hefu", builder="nx_invest"),
        "nx_invest",
    ),
    ("enterprise with a town", lambda: enterprise(1, "linghu"), "linghu"),
    ("enterprise with only a case", lambda: _enterprise_with_a_case_only(2), "lianshi"),
    ("enterprise known nowhere", lambda: {"credit_code": code(3)}, None),
    ("project in no town", lambda: project("JS-6", "other_construction", None), None),
]


@pytest.mark.parametrize(
    ("make", "expected"), [(m, e) for _n, m, e in ROUTES], ids=[n for n, _m, _e in ROUTES]
)
def test_a_warning_is_routed_like_a_case(
    normal_time: None, make: Callable[[], Ref], expected: str | None
) -> None:
    ref = make()
    tax_d(WED, ref)

    score(WED)

    warning = warning_of(ref)
    if expected is None:
        assert warning.unit is None
        assert warning.routing_note
        (raised,) = Event.objects.filter(kind="warning.raised")
        assert streams_of(raised) == {f"district.{district_id()}"}
    else:
        assert warning.unit == unit(expected)


# --- the clock ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "level", "due"),
    [
        (WED, "red", date(2026, 11, 19)),
        (FRI, "red", date(2026, 11, 23)),  # Friday: the Monday
        (SAT, "red", date(2026, 11, 23)),  # a weekend day: the Monday
        (WED, "orange", date(2026, 11, 23)),
        (WED, "yellow", date(2026, 11, 25)),
        (FRI, "yellow", date(2026, 11, 27)),
    ],
    ids=["red-wed", "red-fri", "red-sat", "orange-wed", "yellow-wed", "yellow-fri"],
)
def test_the_warning_is_due_at_the_end_of_its_working_days(
    normal_time: None, now: datetime, level: str, due: date
) -> None:
    warning = raise_warning(now, enterprise(1), level)
    assert warning.due_at == end_of(due)
    assert warning.due_at.astimezone(TZ).isoformat() == f"{due.isoformat()}T23:59:59+08:00"


def test_the_district_sets_the_working_days(normal_time: None) -> None:
    RiskSettings.objects.create(district_id=district_id(), red_workdays=2, yellow_workdays=1)
    red = raise_warning(WED, enterprise(1), "red")
    yellow = raise_warning(WED, enterprise(2), "yellow")
    assert red.due_at == end_of(date(2026, 11, 20))
    assert yellow.due_at == end_of(date(2026, 11, 19))


# --- paging -------------------------------------------------------------------------------


def test_a_red_warning_pages_the_units_liaison(on_duty: None) -> None:
    # By the real clock: an SMS queued in the past would have expired before it is sent.
    warning = raise_warning(timezone.now(), enterprise(1, "lianshi"), "red")

    alert = Alert.objects.get(key=f"warning:{warning.pk}:red")
    assert alert.reason == "warning_raised"
    assert alert.unit == unit("lianshi")
    assert alert.state == "open"
    (message,) = SmsMessage.objects.filter(alert=alert)
    assert message.template == "warning_raised"
    assert message.officer is not None
    assert message.officer.user is not None
    assert message.officer.user.username == "liaison_lianshi"
    due = warning.due_at.astimezone(TZ)
    assert message.body.startswith(f"【欠薪联合指挥】红色预警{warning.code}：湖州测试1号")
    assert f"{due.month}月{due.day}日23:59" in message.body
    assert f"/alerts/warnings/{warning.pk}/" in message.body

    assert outbox_send() == 1
    (sent,) = locmem.outbox
    assert (sent.template, sent.to) == ("warning_raised", message.to)
    assert sent.params["code"] == warning.code


def test_the_red_page_says_when_the_warning_is_due(on_duty: None) -> None:
    warning = raise_warning(WED, enterprise(1, "lianshi"), "red")
    (message,) = SmsMessage.objects.filter(alert__key=f"warning:{warning.pk}:red")
    assert "请于11月19日23:59前介入核查" in message.body


@pytest.mark.parametrize("level", ["yellow", "orange"])
def test_yellow_and_orange_warnings_do_not_page(on_duty: None, level: str) -> None:
    raise_warning(timezone.now(), enterprise(1, "lianshi"), level)
    assert not Alert.objects.exists()
    assert not SmsMessage.objects.exists()
    assert outbox_send() == 0


def test_a_red_warning_with_no_unit_pages_command(on_duty: None) -> None:
    warning = raise_warning(WED, enterprise(9, town=None), "red")
    assert warning.unit is None
    alert = Alert.objects.get(key=f"warning:{warning.pk}:red")
    assert alert.unit is None
    (message,) = SmsMessage.objects.filter(alert=alert)
    assert message.officer is not None
    assert message.officer.unit_id is None  # command's own officer


@pytest.mark.parametrize(
    "name",
    ["", "浙江省湖州市南浔区宏达建筑劳务有限公司"],
    ids=["known by credit code only", "long name"],
)
def test_a_red_warning_pages_whatever_the_subjects_name(on_duty: None, name: str) -> None:
    Enterprise.objects.create(
        district_id=district_id(),
        credit_code=code(8),
        name=name,
        town=unit("lianshi"),
        registered_by_reading=not name,
    )
    warning = raise_warning(WED, {"credit_code": code(8)}, "red")
    assert SmsMessage.objects.filter(
        alert__key=f"warning:{warning.pk}:red", template="warning_raised"
    ).exists()


def test_the_red_page_is_in_chinese_whatever_the_requests_language(
    on_duty: None, api_client: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    enterprise(1, "lianshi")
    rows = [
        ("tax_credit_rating", month(now, 1), "D"),
        *(("electricity_kwh", month(now, b), 1000) for b in (4, 3, 2)),
        ("electricity_kwh", month(now, 1), 300),
        ("registered_workers", month(now, 1), 40),
        ("wage_account_payroll", month(now, 4), 50000),
        *(("wage_account_payroll", month(now, b), 0) for b in (3, 2, 1)),
    ]
    batch = [
        {
            "source": "feed",
            "id": f"x{i}",
            "subject": {"credit_code": code(1)},
            "indicator": indicator,
            "period": period,
            "value": value,
        }
        for i, (indicator, period, value) in enumerate(rows)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client("gateway_110").post(
            "/api/v1/indicators",
            json.dumps({"readings": batch}),
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 201, response.content
    (message,) = SmsMessage.objects.filter(template="warning_raised")
    assert "红色预警" in message.body


# --- raising ------------------------------------------------------------------------------


def test_an_open_warning_goes_up_to_red_and_never_comes_down(on_duty: None) -> None:
    ref = enterprise(1, "lianshi")
    yellow = raise_warning(WED, ref, "yellow")
    assert yellow.due_at == end_of(date(2026, 11, 25))

    electricity_drop(THU, ref)
    no_payroll(THU, ref)
    run = score(THU)

    assert (run.opened, run.raised) == (0, 1)
    warning = EarlyWarning.objects.get()  # the same one, no second
    assert warning.pk == yellow.pk
    assert (warning.level, warning.score) == ("red", 100)
    assert warning.due_at == end_of(date(2026, 11, 20))  # moved earlier: red from Thursday
    assert warning.raised_at == WED
    assert warning.revision == 1
    assert {r["rule"] for r in warning.reasons} == {
        "tax_rating_d",
        "electricity_drop",
        "no_payroll",
    }
    (raised,) = events("warning.level_raised", warning)
    assert (raised.data["was"], raised.data["level"]) == ("yellow", "red")
    assert len(events("warning.raised", warning)) == 1
    alert = Alert.objects.get(key=f"warning:{warning.pk}:red")
    assert alert.reason == "warning_raised"

    # October's electricity is corrected: the drop is gone, the score falls to 70 (orange).
    store(FRI, ref, [("electricity_kwh", month(FRI, 1), 1000)])
    run = score(FRI)

    assert (run.opened, run.raised) == (0, 0)
    subject = subject_of(ref)
    assert (subject.score, subject.level) == (70, "orange")
    warning.refresh_from_db()
    assert (warning.level, warning.score) == ("red", 100)
    assert warning.due_at == end_of(date(2026, 11, 20))
    assert len(events("warning.level_raised", warning)) == 1
    assert Alert.objects.count() == 1


def test_a_raise_never_puts_the_due_time_later(normal_time: None) -> None:
    ref = enterprise(1)
    yellow = raise_warning(WED, ref, "yellow")  # due Wednesday 25th
    # Orange a week later would be due three working days after that: the clock stays.
    electricity_drop(WED + timedelta(days=7), ref)
    score(WED + timedelta(days=7), ref)
    warning = EarlyWarning.objects.get()
    assert warning.level == "orange"
    assert warning.due_at == yellow.due_at


# --- overdue ------------------------------------------------------------------------------


def test_an_unanswered_warning_is_marked_overdue_once(on_duty: None) -> None:
    warning = raise_warning(WED, enterprise(1, "lianshi"), "red")
    due = warning.due_at

    assert warnings_sweep(now=due - timedelta(seconds=1)) == 0
    assert warnings_sweep(now=due + timedelta(minutes=1)) == 1
    assert warnings_sweep(now=due + timedelta(minutes=2)) == 0

    warning.refresh_from_db()
    assert warning.overdue_at == due + timedelta(minutes=1)
    assert warning.state == "open"
    (overdue,) = events("warning.overdue", warning)
    assert streams_of(overdue) == {f"district.{district_id()}", f"unit.{unit('lianshi').pk}"}
    alert = Alert.objects.get(key=f"warning:{warning.pk}:overdue")
    assert alert.reason == "warning_overdue"
    assert alert.unit == unit("lianshi")
    assert SmsMessage.objects.filter(alert=alert, template="warning_overdue").exists()


def test_an_accepted_warning_is_never_overdue(on_duty: None) -> None:
    warning = raise_warning(WED, enterprise(1, "lianshi"), "red")
    warning_transition(
        actor=as_user("liaison_lianshi"),
        warning_id=warning.pk,
        move=WarningMove(WarningAction.ACCEPT),
        now=WED + timedelta(hours=1),
    )

    assert warnings_sweep(now=warning.due_at + timedelta(days=3)) == 0

    warning.refresh_from_db()
    assert warning.overdue_at is None
    assert not Alert.objects.filter(reason="warning_overdue").exists()


# --- reopening ----------------------------------------------------------------------------


def _close(warning: EarlyWarning, now: datetime) -> None:
    warning_transition(
        actor=as_user("command"),
        warning_id=warning.pk,
        move=WarningMove(WarningAction.CLOSE, note="核查：企业已补发", outcome=Outcome.PREVENTED),
        now=now,
    )


def test_a_closed_warning_is_not_reopened_by_the_same_risk(normal_time: None) -> None:
    ref = enterprise(1)
    first = raise_warning(WED, ref, "yellow")
    _close(first, WED + timedelta(hours=2))

    run = score(THU)  # a day on: every subject is rescored, the same rule is met

    assert (run.scored, run.opened) == (1, 0)
    assert subject_of(ref).level == "yellow"
    assert EarlyWarning.objects.count() == 1

    # A rule that had not been met is met now: a new warning opens.
    store(FRI, ref, [("property_fee_arrears_months", month(FRI, 1), 4)])
    run = score(FRI)

    assert run.opened == 1
    second = warning_of(ref)
    assert second.pk != first.pk
    assert second.level == "yellow"
    assert {r["rule"] for r in second.reasons} == {"tax_rating_d", "property_fees_unpaid"}
    assert len(events("warning.raised", second)) == 1


def test_a_closed_warning_is_followed_by_a_new_one_at_a_higher_level(normal_time: None) -> None:
    ref = enterprise(1)
    first = raise_warning(WED, ref, "yellow")
    _close(first, WED + timedelta(hours=2))
    # The same rule, but the district now calls its score orange.
    RiskSettings.objects.filter(district_id=district_id()).update(yellow_at=10, orange_at=30)

    run = score(THU, ref)

    assert run.opened == 1
    second = warning_of(ref)
    assert (second.level, second.score) == ("orange", 30)
    assert {r["rule"] for r in second.reasons} == {"tax_rating_d"}


def test_a_closed_warning_is_not_reopened_by_a_lower_level(normal_time: None) -> None:
    ref = enterprise(1)
    first = raise_warning(WED, ref, "orange")
    _close(first, WED + timedelta(hours=2))
    RiskRule.objects.filter(code="electricity_drop").update(active=False)  # now yellow

    assert score(THU, ref).opened == 0
    assert EarlyWarning.objects.count() == 1


# --- no lost readings ---------------------------------------------------------------------


def test_a_reading_after_scoring_leaves_the_subject_due_again(normal_time: None) -> None:
    ref = enterprise(1)
    tax_d(WED, ref)
    assert score(WED).scored == 1
    subject = subject_of(ref)
    assert subject.scored_version == subject.version
    assert score(WED + timedelta(minutes=1)).scored == 0  # nothing is due

    electricity_drop(WED + timedelta(minutes=2), ref)
    subject.refresh_from_db()
    assert subject.version > subject.scored_version

    run = score(WED + timedelta(minutes=3))  # no subject named: the due ones

    assert (run.scored, run.opened, run.raised) == (1, 0, 1)
    subject.refresh_from_db()
    assert subject.scored_version == subject.version
    assert subject.level == "orange"

    # Scored again with nothing new: no second warning, nothing raised.
    again = risk_score(
        district_id=district_id(), now=WED + timedelta(minutes=4), subject_ids=[subject.pk]
    )
    assert (again.scored, again.opened, again.raised) == (1, 0, 0)
    assert EarlyWarning.objects.count() == 1
    assert Event.objects.filter(kind="warning.raised").count() == 1


def test_a_reading_stored_while_scoring_runs_is_not_lost(
    normal_time: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = enterprise(1)
    tax_d(WED, ref)
    real_assess = risk_services._assess_batch
    arrived: list[int] = []

    def assess_while_a_reading_arrives(*args: Any, **kwargs: Any) -> Any:
        if not arrived:  # another request stores a reading after the subjects were loaded
            arrived.extend(r.pk for r in store(WED, ref, [("water_m3", month(WED, 1), 5)]))
        return real_assess(*args, **kwargs)

    monkeypatch.setattr(risk_services, "_assess_batch", assess_while_a_reading_arrives)
    score(WED)
    monkeypatch.undo()

    subject = subject_of(ref)
    assert arrived
    assert subject.version > subject.scored_version  # still due
    assert score(WED + timedelta(minutes=1)).scored == 1
    subject.refresh_from_db()
    assert subject.scored_version == subject.version


def test_every_subject_is_rescored_daily(normal_time: None) -> None:
    ref = enterprise(1)
    tax_d(WED, ref)
    score(WED)
    assert score(WED + timedelta(hours=19)).scored == 0
    assert score(WED + timedelta(hours=21)).scored == 1
    assert subject_of(ref).scored_at == WED + timedelta(hours=21)


def test_a_reading_dated_a_little_ahead_of_the_hubs_clock_is_not_lost(
    normal_time: None,
) -> None:
    ref = enterprise(1)
    tax_d(WED, ref)
    score(WED)
    # The feed's clock runs five minutes fast.
    store(
        WED,
        ref,
        [("property_fee_arrears_months", month(WED, 1), 4)],
        reported_at=WED + timedelta(minutes=5),
    )
    score(WED)  # scoring right after the commit

    score(WED + timedelta(hours=1))  # an hour later, the sweep

    assert "property_fees_unpaid" in {h["rule"] for h in subject_of(ref).hits}


def test_a_new_case_about_a_watched_enterprise_leaves_it_due(normal_time: None) -> None:
    ref = enterprise(1, "lianshi")
    tax_d(WED, ref)
    score(WED)
    complaint_about(1)
    subject = subject_of(ref)
    assert subject.version > subject.scored_version


# --- the API: transitions -----------------------------------------------------------------


@pytest.fixture
def red(on_duty: None) -> EarlyWarning:
    """A red warning about an enterprise in Lianshi, raised now (by the real clock), paged."""
    return raise_warning(timezone.now(), enterprise(1, "lianshi"), "red")


def test_the_units_liaison_accepts_and_the_pages_stop(
    red: EarlyWarning, api_client: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    alert = Alert.objects.get(key=f"warning:{red.pk}:red")
    assert alert.state == "open"

    with django_capture_on_commit_callbacks(execute=True):
        response = move(api_client("liaison_lianshi"), red, action="accept", note="已约谈企业")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "handling"
    assert body["accepted_at"] is not None
    assert body["actions"] == ["close"]
    red.refresh_from_db()
    assert red.accepted_by is not None
    assert red.accepted_by.username == "liaison_lianshi"
    assert red.revision == 1
    alert.refresh_from_db()
    assert alert.state == "cancelled"
    (accepted,) = events("warning.accepted", red)
    assert accepted.actor is not None
    assert accepted.actor.username == "liaison_lianshi"
    assert accepted.reason == "已约谈企业"
    assert accepted.data["late"] is False
    assert streams_of(accepted) == {f"district.{district_id()}", f"unit.{unit('lianshi').pk}"}


def test_a_transition_locks_the_warning_on_every_database(normal_time: None) -> None:
    warning = raise_warning(timezone.now(), enterprise(1, "lianshi"), "yellow")
    warning_transition(
        actor=as_user("liaison_lianshi"),
        warning_id=warning.pk,
        move=WarningMove(WarningAction.ACCEPT),
    )
    warning.refresh_from_db()
    assert warning.state == "handling"


def test_the_detail_shows_the_readings_the_reasons_cite(
    red: EarlyWarning, api_client: ClientFor
) -> None:
    response = api_client("liaison_lianshi").get(f"/api/v1/warnings/{red.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == red.pk
    assert body["subject"] == {"credit_code": code(1)}
    assert body["unit"] == "lianshi"
    assert body["overdue"] is False
    cited = {i for r in body["reasons"] for i in r["readings"]}
    assert {r["id"] for r in body["readings"]} == cited
    assert set(body["actions"]) == {"accept", "close"}
    assert {r["rule"] for r in body["reasons"]} == {
        "tax_rating_d",
        "electricity_drop",
        "no_payroll",
    }


def test_closing_needs_an_outcome_and_a_note(red: EarlyWarning, api_client: ClientFor) -> None:
    client = api_client("liaison_lianshi")
    before = snapshot(red)

    for body, field in [
        ({"action": "close", "note": "查无欠薪"}, "outcome"),
        ({"action": "close", "outcome": "no_risk"}, "note"),
        ({"action": "close", "outcome": "no_risk", "note": "   "}, "note"),
    ]:
        assert fields(assert_error(move(client, red, **body), 422)) == {field}
        assert snapshot(red) == before
    assert_error(move(client, red, action="close", outcome="fixed", note="x"), 422)
    assert_error(move(client, red, action="shelve"), 422)
    assert snapshot(red) == before

    response = move(client, red, action="close", outcome="no_risk", note="用电下降系停产检修")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["outcome"], body["outcome_note"]) == (
        "closed",
        "no_risk",
        "用电下降系停产检修",
    )
    assert body["closed_at"] is not None
    assert body["actions"] == []
    (closed,) = events("warning.closed", red)
    assert closed.actor is not None
    assert closed.actor.username == "liaison_lianshi"
    assert closed.data["outcome"] == "no_risk"


def test_case_opened_names_a_real_case(red: EarlyWarning, api_client: ClientFor) -> None:
    client = api_client("command")
    before = snapshot(red)

    for extra in ({}, {"case_number": "NX-2026-999999"}):
        body = assert_error(
            move(client, red, action="close", outcome="case_opened", note="已立案", **extra), 422
        )
        assert fields(body) == {"case_number"}
        assert snapshot(red) == before

    case = register_case()
    response = move(
        client,
        red,
        action="close",
        outcome="case_opened",
        note="已立案处理",
        case_number=case.number,
    )

    assert response.status_code == 200, response.content
    assert response.json()["case_number"] == case.number
    red.refresh_from_db()
    assert red.case == case
    (closed,) = events("warning.closed", red)
    assert closed.data["case_number"] == case.number


def test_only_command_reassigns(
    red: EarlyWarning, api_client: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    before = snapshot(red)
    assert_error(move(api_client("liaison_lianshi"), red, action="reassign", unit="housing"), 403)
    assert snapshot(red) == before
    body = assert_error(move(api_client("command"), red, action="reassign", unit="nowhere"), 422)
    assert fields(body) == {"unit"}
    assert_error(move(api_client("command"), red, action="reassign"), 422)
    assert snapshot(red) == before

    move(api_client("liaison_lianshi"), red, action="accept")
    response = move(api_client("command"), red, action="reassign", unit="housing", note="属住建")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["unit"], body["accepted_at"]) == ("open", "housing", None)
    (reassigned,) = events("warning.reassigned", red)
    assert reassigned.actor is not None
    assert reassigned.actor.username == "command"
    assert reassigned.data["was"] == "lianshi"
    assert reassigned.reason == "属住建"
    assert api_client("liaison_lianshi").get(f"/api/v1/warnings/{red.pk}").status_code == 404
    assert api_client("liaison_housing").get(f"/api/v1/warnings/{red.pk}").status_code == 200


def test_reassigning_a_red_warning_stops_paging_the_old_unit(
    red: EarlyWarning, api_client: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = move(api_client("command"), red, action="reassign", unit="housing")
    assert response.status_code == 200
    old = Alert.objects.get(key=f"warning:{red.pk}:red")
    assert old.unit == unit("lianshi")
    assert old.state != "open"


def test_another_units_liaison_does_not_see_the_warning(
    red: EarlyWarning, api_client: ClientFor
) -> None:
    client = api_client("liaison_housing")
    assert_error(client.get(f"/api/v1/warnings/{red.pk}"), 404)
    listed = client.get("/api/v1/warnings")
    assert listed.status_code == 200
    assert listed.json()["count"] == 0
    before = snapshot(red)
    assert_error(move(client, red, action="accept"), 404)
    assert snapshot(red) == before


@pytest.mark.parametrize("username", ["reviewer", "inspector"])
def test_district_wide_readers_see_but_do_not_act(
    red: EarlyWarning, api_client: ClientFor, username: str
) -> None:
    client = api_client(username)
    detail = client.get(f"/api/v1/warnings/{red.pk}")
    assert detail.status_code == 200
    assert detail.json()["actions"] == []
    assert [w["id"] for w in client.get("/api/v1/warnings").json()["results"]] == [red.pk]
    before = snapshot(red)
    for body in (
        {"action": "accept"},
        {"action": "close", "outcome": "no_risk", "note": "x"},
        {"action": "reassign", "unit": "housing"},
    ):
        assert_error(move(client, red, **body), 403)
    assert snapshot(red) == before


def test_an_unknown_warning_is_not_found(district: District, api_client: ClientFor) -> None:
    assert_error(api_client("command").get("/api/v1/warnings/999999"), 404)
    assert_error(move(api_client("command"), EarlyWarning(pk=999999), action="accept"), 404)


def test_anonymous_sees_no_warnings(district: District) -> None:
    assert_error(Client().get("/api/v1/warnings"), 401)


@pytest.mark.parametrize(
    "body",
    [
        {"action": "accept"},
        {"action": "close", "outcome": "no_risk", "note": "再关一次"},
        {"action": "reassign", "unit": "housing"},
    ],
    ids=["accept", "close", "reassign"],
)
def test_a_closed_warning_does_not_move(
    red: EarlyWarning, api_client: ClientFor, body: dict[str, Any]
) -> None:
    client = api_client("command")
    assert move(client, red, action="close", outcome="no_risk", note="核查无误").status_code == 200
    before = snapshot(red)

    response = move(client, red, **body)

    assert_error(response, 409)  # a conflict with its state, as for cases
    assert snapshot(red) == before


def test_accepting_twice_is_refused(red: EarlyWarning, api_client: ClientFor) -> None:
    client = api_client("liaison_lianshi")
    assert move(client, red, action="accept").status_code == 200
    before = snapshot(red)
    assert_error(move(client, red, action="accept"), 409)
    assert snapshot(red) == before


# --- the API: the list --------------------------------------------------------------------


@pytest.fixture
def board(on_duty: None) -> dict[str, EarlyWarning]:
    """Four warnings raised a minute apart (real clock), oldest first:

    a: yellow, Lianshi, open; b: orange, Shuanglin, handling; c: red, Lianshi, open and
    overdue; d: yellow, Linghu, closed.
    """
    base = timezone.now() - timedelta(minutes=10)
    a = raise_warning(base, enterprise(1, "lianshi"), "yellow")
    b = raise_warning(base + timedelta(minutes=1), enterprise(2, "shuanglin"), "orange")
    c = raise_warning(base + timedelta(minutes=2), enterprise(3, "lianshi"), "red")
    d = raise_warning(base + timedelta(minutes=3), enterprise(4, "linghu"), "yellow")
    command = as_user("command")
    warning_transition(actor=command, warning_id=b.pk, move=WarningMove(WarningAction.ACCEPT))
    warning_transition(
        actor=command,
        warning_id=d.pk,
        move=WarningMove(WarningAction.CLOSE, note="数据有误", outcome=Outcome.DATA_ERROR),
    )
    assert warnings_sweep(now=c.due_at + timedelta(minutes=1)) == 1  # a is due later
    return {"a": a, "b": b, "c": c, "d": d}


def _listed(client: Client, query: str = "") -> list[int]:
    response = client.get(f"/api/v1/warnings?{query}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"]) or body["page_size"] < body["count"]
    return [w["id"] for w in body["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "dcba"),
        ("state=open", "ca"),
        ("state=handling", "b"),
        ("state=closed", "d"),
        ("level=yellow", "da"),
        ("level=red", "c"),
        ("unit=lianshi", "ca"),
        ("unit=housing", ""),
        ("overdue=true", "c"),
        ("overdue=false", "dba"),
        ("state=open&level=yellow", "a"),
        ("state=open&unit=lianshi&overdue=false", "a"),
    ],
)
def test_the_list_filters(
    board: dict[str, EarlyWarning], api_client: ClientFor, query: str, expected: str
) -> None:
    assert _listed(api_client("command"), query) == [board[k].pk for k in expected]


def test_the_list_shows_a_liaison_their_units_warnings_only(
    board: dict[str, EarlyWarning], api_client: ClientFor
) -> None:
    client = api_client("liaison_lianshi")
    assert _listed(client) == [board["c"].pk, board["a"].pk]
    assert _listed(client, "unit=shuanglin") == []
    summary = client.get("/api/v1/warnings?level=red").json()["results"][0]
    assert summary["overdue"] is True
    assert summary["unit"] == "lianshi"


def test_the_list_pages(board: dict[str, EarlyWarning], api_client: ClientFor) -> None:
    client = api_client("command")
    pages = []
    for page in (1, 2, 3):
        body = client.get(f"/api/v1/warnings?page={page}&page_size=3").json()
        assert (body["count"], body["page"], body["page_size"]) == (4, page, 3)
        pages.append([w["id"] for w in body["results"]])
    order = [board[k].pk for k in "dcba"]
    assert pages == [order[:3], order[3:], []]


@pytest.mark.parametrize(
    "query",
    [
        "state=lost",
        "level=purple",
        "overdue=maybe",
        "page=0",
        "page=abc",
        "page_size=0",
        "page_size=201",
        "unit=" + "x" * 41,
    ],
)
def test_a_bad_list_query_is_refused(district: District, api_client: ClientFor, query: str) -> None:
    assert_error(api_client("command").get(f"/api/v1/warnings?{query}"), 422)


@pytest.mark.parametrize("name", ["", "浙江省湖州市南浔区宏达建筑劳务有限公司"])
def test_the_red_page_fits_two_segments_with_a_large_id_and_a_real_address(
    normal_time: None, settings: Any, name: str
) -> None:
    # PostgreSQL ids grow without bound and production links are longer than the default.
    from alerts.domain.messages import render, segments
    from alerts.services.outbox import LONGEST_REFERENCE
    from alerts.services.risk import _sms_params

    settings.PUBLIC_BASE_URL = "https://qxzh.nanxun.gov.cn"
    enterprise_row = Enterprise.objects.create(
        district_id=district_id(), credit_code=code(7), name=name, town=unit("lianshi")
    )
    subject = RiskSubject.objects.create(district_id=district_id(), enterprise=enterprise_row)
    warning = EarlyWarning(
        pk=99_999_999,
        district_id=district_id(),
        subject=subject,
        level="red",
        score=100,
        raised_at=WED,
        due_at=WED,
    )
    warning.code = f"YJ-2026-{warning.pk:06d}"
    body = render("warning_raised", {**_sms_params(warning), "ref": LONGEST_REFERENCE})
    assert segments(body) <= 2
