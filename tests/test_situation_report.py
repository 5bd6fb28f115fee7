"""The daily joint situation report: drafted once, in a sensitive period, from the drafting
hour; its figures from crafted records; who reads the reports and who writes the notes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from alerts.models import EarlyWarning, RiskSubject, SensitivePeriod, ZeroReport
from alerts.services import alert_settings
from command_center import situation
from command_center.models import SituationReport
from command_center.situation import (
    situation_draft,
    situation_drafts_sweep,
    situation_edit,
    situation_figures,
)
from command_center.tasks import draft_situation_reports
from incidents.errors import Forbidden, Invalid, NotFound
from incidents.models import Case, District, Enterprise, Event, FundAccount, Incident, Unit
from incidents.policy import Actor
from incidents.services import Intake, ProjectInput, case_register, fund_move
from tests.factories import credit_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 11, 5)
YESTERDAY = DAY - timedelta(days=1)
ActorFor = Callable[[str], Actor]
ClientFor = Callable[[str], Client]


def at(hour: int, minute: int = 0, *, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def drafted_today(district: District) -> SituationReport:
    """Today's report, drafted in a one-day sensitive period at today's drafting hour
    (whatever the hour the suite runs at)."""
    today = timezone.localdate()
    SensitivePeriod.objects.create(district=district, name="保障期", starts_on=today, ends_on=today)
    drafting = timezone.localtime().replace(
        hour=settings.SITUATION_REPORT_HOUR, minute=0, second=0, microsecond=0
    )
    report = situation_draft(district_id=district.pk, now=drafting)
    assert report is not None
    return report


@pytest.fixture
def period(normal_time: None, district: District) -> SensitivePeriod:
    """A sensitive period from 1 to 10 November 2025 (built-in periods are off)."""
    return SensitivePeriod.objects.create(
        district=district,
        name="进博会保障",
        starts_on=date(2025, 11, 1),
        ends_on=date(2025, 11, 10),
    )


@pytest.fixture
def report(period: SensitivePeriod, district: District) -> SituationReport:
    drafted = situation_draft(district_id=district.pk, now=at(8))
    assert drafted is not None
    return drafted


# --- drafting ------------------------------------------------------------------------------


def test_a_report_is_drafted_once_from_the_hour_in_a_sensitive_period(
    period: SensitivePeriod, district: District
) -> None:
    assert situation_draft(district_id=district.pk, now=at(6, 59)) is None
    assert not SituationReport.objects.exists()
    drafted = situation_draft(district_id=district.pk, now=at(7))
    assert drafted is not None
    assert (drafted.day, drafted.period, drafted.drafted_at) == (DAY, "进博会保障", at(7))
    assert situation_draft(district_id=district.pk, now=at(7, 1)) is None
    assert situation_draft(district_id=district.pk, now=at(23, 59)) is None
    assert SituationReport.objects.count() == 1


def test_the_local_day_decides_not_the_utc_one(period: SensitivePeriod, district: District) -> None:
    # 1 November 07:30 in Shanghai is still 31 October in UTC.
    drafted = situation_draft(district_id=district.pk, now=at(7, 30, day=date(2025, 11, 1)))
    assert drafted is not None
    assert drafted.day == date(2025, 11, 1)


@pytest.mark.parametrize("day", [date(2025, 10, 31), date(2025, 11, 11)])
def test_no_report_outside_a_sensitive_period(
    period: SensitivePeriod, district: District, day: date
) -> None:
    assert situation_draft(district_id=district.pk, now=at(9, day=day)) is None
    assert situation_drafts_sweep(now=at(9, day=day)) == 0
    assert not SituationReport.objects.exists()


def test_the_hour_is_a_setting(period: SensitivePeriod, district: District, settings: Any) -> None:
    settings.SITUATION_REPORT_HOUR = 9
    assert situation_draft(district_id=district.pk, now=at(8, 59)) is None
    assert situation_draft(district_id=district.pk, now=at(9)) is not None


def test_the_sweep_drafts_each_district_once(period: SensitivePeriod, district: District) -> None:
    assert situation_drafts_sweep(now=at(6)) == 0
    assert situation_drafts_sweep(now=at(8)) == 1
    assert situation_drafts_sweep(now=at(8, 10)) == 0
    assert list(SituationReport.objects.values_list("district_id", "day")) == [(district.pk, DAY)]


def test_the_celery_task_calls_the_sweep(
    period: SensitivePeriod, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def sweep(**kwargs: Any) -> int:
        seen.append(kwargs)
        return 3

    monkeypatch.setattr("command_center.tasks.situation_drafts_sweep", sweep)
    assert draft_situation_reports() == 3
    assert seen == [{}]


def test_a_report_drafted_meanwhile_by_another_worker_is_kept(
    period: SensitivePeriod, district: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = situation.situation_figures

    def racing(**kwargs: Any) -> dict[str, Any]:
        # Another worker commits its draft while this one computes the figures.
        SituationReport.objects.create(district=district, day=DAY, figures={"other": True})
        return real(**kwargs)

    monkeypatch.setattr(situation, "situation_figures", racing)
    assert situation_draft(district_id=district.pk, now=at(8)) is None
    assert list(SituationReport.objects.values_list("figures", flat=True)) == [{"other": True}]


# --- figures -------------------------------------------------------------------------------


def register(actor: Actor, now: datetime) -> Case:
    return case_register(
        actor=actor,
        intake=Intake(
            channel="window",
            window="lianshi",
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=12,
            amount_owed=Decimal("86000.00"),
            employer_name="湖州宏达建筑劳务有限公司",
            employer_credit_code=credit_code(),
            town="lianshi",
            project=ProjectInput("练市新城", "real_estate"),  # type: ignore[arg-type]
        ),
        now=now,
    ).case


def incident(district: District, *, reported_at: datetime, level: str, status: str) -> Incident:
    return Incident.objects.create(
        district=district,
        title="聚集讨薪",
        town=Unit.objects.get(district=district, code="lianshi"),
        lat=30.713,
        lng=120.429,
        people_count=40,
        kind="site_gathering",
        level=level,
        status=status,
        reported_by=User.objects.get(username="command"),
        reported_at=reported_at,
    )


def warning(district: District, n: int, *, level: str, state: str, due_at: datetime) -> None:
    enterprise = Enterprise.objects.create(
        district=district, credit_code=credit_code(), name=f"企业{n}"
    )
    subject = RiskSubject.objects.create(district=district, enterprise=enterprise)
    EarlyWarning.objects.create(
        district=district,
        code=f"EW-TEST-{n}",
        subject=subject,
        level=level,
        score=50,
        state=state,
        raised_at=at(1, day=YESTERDAY),
        due_at=due_at,
    )


def test_figures_count_yesterday_and_now(
    period: SensitivePeriod, district: District, actor: ActorFor
) -> None:
    clerk = actor("clerk_lianshi")
    register(clerk, at(23, 59, day=DAY - timedelta(days=2)))  # the day before yesterday
    register(clerk, at(0, 0, day=YESTERDAY))
    closed = register(clerk, at(23, 59, day=YESTERDAY))
    register(clerk, at(0, 0))  # today, before drafting
    Case.objects.filter(pk=closed.pk).update(state="closed")

    incident(district, reported_at=at(12, day=YESTERDAY), level="II", status="active")
    incident(district, reported_at=at(13, day=YESTERDAY), level="IV", status="closed")
    incident(
        district, reported_at=at(12, day=DAY - timedelta(days=3)), level="I", status="reported"
    )

    warning(district, 1, level="red", state="open", due_at=at(6))  # overdue at 08:00
    warning(district, 2, level="orange", state="handling", due_at=at(6))
    warning(district, 3, level="yellow", state="open", due_at=at(20))
    warning(district, 4, level="yellow", state="closed", due_at=at(6))

    fund_move(
        district_id=district.pk, kind="advance", amount=Decimal("1000.50"), now=at(9, day=YESTERDAY)
    )
    fund_move(
        district_id=district.pk, kind="recovery", amount=Decimal("300"), now=at(10, day=YESTERDAY)
    )
    fund_move(
        district_id=district.pk,
        kind="advance",
        amount=Decimal("50"),
        now=at(23, day=DAY - timedelta(days=2)),
    )
    fund_move(district_id=district.pk, kind="advance", amount=Decimal("20"), now=at(0, 30))

    reporting = alert_settings(district.pk).zero_report_units.filter(active=True)
    expected_units = sorted(reporting.values_list("code", flat=True))
    command = User.objects.get(username="command")
    for code in ("lianshi", "police"):
        ZeroReport.objects.create(
            district=district,
            unit=Unit.objects.get(district=district, code=code),
            day=YESTERDAY,
            filed_by=command,
        )
    ZeroReport.objects.create(  # today's report counts tomorrow
        district=district,
        unit=Unit.objects.get(district=district, code="hrss"),
        day=DAY,
        filed_by=command,
    )

    figures = situation_figures(district_id=district.pk, day=DAY, now=at(8))

    assert figures["as_of"] == "2025-11-05T08:00:00+08:00"
    assert figures["yesterday"] == "2025-11-04"
    assert figures["cases"] == {"registered_yesterday": 2, "open_now": 3}
    assert figures["incidents"] == {
        "reported_yesterday": 2,
        "open_now": 2,
        "open_by_level": {"IV": 0, "III": 0, "II": 1, "I": 1},
    }
    assert figures["warnings"] == {
        "open_now": 3,
        "open_by_level": {"yellow": 1, "orange": 1, "red": 1},
        "overdue_now": 1,
    }
    balance = Decimal("5000000.00") - Decimal("1000.50") + 300 - 50 - 20
    assert FundAccount.objects.get(district=district).balance == balance
    assert figures["fund"] == {
        "advanced_yesterday": "1000.50",
        "recovered_yesterday": "300.00",
        "balance_now": f"{balance:.2f}",
    }
    assert figures["zero_reports"] == {
        "required": True,
        "filed": 2,
        "expected": len(expected_units),
        "missing": [c for c in expected_units if c not in {"lianshi", "police"}],
    }


def test_no_daily_reports_are_expected_for_a_day_outside_the_period(
    period: SensitivePeriod, district: District
) -> None:
    figures = situation_figures(district_id=district.pk, day=date(2025, 11, 1), now=at(8))
    assert figures["zero_reports"] == {"required": False, "filed": 0, "expected": 0, "missing": []}


def test_a_drafted_report_keeps_the_figures_of_its_drafting_time(
    report: SituationReport, district: District, actor: ActorFor
) -> None:
    assert report.figures == situation_figures(district_id=district.pk, day=DAY, now=at(8))
    register(actor("clerk_lianshi"), at(8, 30))
    report.refresh_from_db()
    assert report.figures["cases"]["open_now"] == 0


# --- notes ---------------------------------------------------------------------------------


def test_command_edits_the_notes_and_the_edit_is_logged(
    report: SituationReport, actor: ActorFor, django_capture_on_commit_callbacks: Any
) -> None:
    callbacks: DjangoCaptureOnCommitCallbacks = django_capture_on_commit_callbacks
    with callbacks(execute=False) as captured:
        edited = situation_edit(
            actor=actor("command"), report_id=report.pk, notes="  各部门集中办公  ", now=at(9)
        )
    assert (edited.notes, edited.edited_at) == ("各部门集中办公", at(9))
    assert edited.edited_by == User.objects.get(username="command")
    event = Event.objects.get(kind="situation.edited")
    assert event.actor == edited.edited_by
    assert event.data == {"report_id": report.pk, "day": "2025-11-05", "note": "各部门集中办公"}
    assert len(captured) == 1  # the relay, after commit


@pytest.mark.parametrize("username", ["reviewer", "inspector", "liaison_lianshi", "clerk_lianshi"])
def test_only_command_edits_the_notes(
    report: SituationReport, actor: ActorFor, username: str
) -> None:
    with pytest.raises(Forbidden):
        situation_edit(actor=actor(username), report_id=report.pk, notes="x")
    report.refresh_from_db()
    assert report.notes == ""
    assert not Event.objects.filter(kind="situation.edited").exists()


def test_notes_too_long_or_of_an_unknown_report_are_refused(
    report: SituationReport, actor: ActorFor
) -> None:
    with pytest.raises(Invalid):
        situation_edit(actor=actor("command"), report_id=report.pk, notes="x" * 10_001)
    with pytest.raises(NotFound):
        situation_edit(actor=actor("command"), report_id=report.pk + 1, notes="x")
    assert not Event.objects.filter(kind="situation.edited").exists()


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("command", 200),
        ("reviewer", 200),
        ("inspector", 200),
        ("liaison_lianshi", 403),
        ("clerk_lianshi", 403),
        ("gateway_110", 403),
    ],
)
def test_who_reads_the_reports(
    report: SituationReport, api_client: ClientFor, username: str, status: int
) -> None:
    client = api_client(username)
    listing = client.get("/reports/situation/")
    detail = client.get(f"/reports/situation/{report.pk}/")
    assert (listing.status_code, detail.status_code) == (status, status)
    if status == 200:
        assert f"/reports/situation/{report.pk}/" in listing.content.decode()
        html = detail.content.decode()
        assert 'id="table-cases"' in html
        assert ('id="situation-notes-form"' in html) is (username == "command")


def test_an_unknown_report_is_not_found(report: SituationReport, api_client: ClientFor) -> None:
    assert api_client("command").get(f"/reports/situation/{report.pk + 1}/").status_code == 404


def test_command_posts_the_notes(report: SituationReport, api_client: ClientFor) -> None:
    response = api_client("command").post(
        f"/reports/situation/{report.pk}/", {"notes": "四部门到岗"}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.notes == "四部门到岗"
    page = api_client("reviewer").get(f"/reports/situation/{report.pk}/").content.decode()
    assert "四部门到岗" in page


def test_a_reviewer_cannot_post_notes(report: SituationReport, api_client: ClientFor) -> None:
    response = api_client("reviewer").post(f"/reports/situation/{report.pk}/", {"notes": "x"})
    assert response.status_code == 403
    report.refresh_from_db()
    assert report.notes == ""


def test_notes_too_long_re_render_the_page(report: SituationReport, api_client: ClientFor) -> None:
    response = api_client("command").post(
        f"/reports/situation/{report.pk}/", {"notes": "x" * 10_001}
    )
    assert response.status_code == 422
    assert 'id="situation-error"' in response.content.decode()


def test_posting_notes_needs_the_csrf_token(report: SituationReport) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="command"))
    assert client.post(f"/reports/situation/{report.pk}/", {"notes": "x"}).status_code == 403
    page = client.get(f"/reports/situation/{report.pk}/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
