"""Chasing missing daily reports (零报告) in a sensitive period: once past the due hour, each
town and each of the four departments that has not filed today gets one alert, paging its
leader on duty; units that filed, days outside a sensitive period and hours before the due
hour page nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from pytest_django import Settings

from alerts.backends import locmem
from alerts.demo import load_duty
from alerts.models import Alert, DutyShift, Officer, SensitivePeriod, SmsMessage
from alerts.services import (
    alert_settings,
    alerts_escalate,
    zero_report_file,
    zero_reports_check,
)
from incidents.models import District, Event, Unit
from incidents.policy import Actor

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = {"hrss", "housing", "police", "petition"}


def at(hour: int, minute: int = 0) -> datetime:
    """Today at hour:minute in Asia/Shanghai (the hub's zone), aware."""
    return datetime.combine(timezone.localdate(), time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def on_duty(settings: Settings, district: District) -> None:
    """Demo officers on duty everywhere; only the periods a test adds are sensitive."""
    settings.SMS_BACKEND = "locmem"
    settings.PUBLIC_BASE_URL = "https://hub.example.gov.cn"
    locmem.reset()
    load_duty(district, today=timezone.localdate())
    row = alert_settings(district.pk)
    row.builtin_periods = False
    row.save()


@pytest.fixture
def sensitive_today(on_duty: None, district: District) -> SensitivePeriod:
    today = timezone.localdate()
    return SensitivePeriod.objects.create(
        district=district,
        name="进博会保障",
        starts_on=today - timedelta(days=2),
        ends_on=today + timedelta(days=2),
    )


def chased() -> dict[str, Alert]:
    return {
        a.unit.code: a
        for a in Alert.objects.filter(reason="zero_report_missing").select_related("unit")
    }


def everything() -> tuple[int, int, int]:
    return Alert.objects.count(), SmsMessage.objects.count(), Event.objects.count()


def reporting_units() -> set[str]:
    towns = Unit.objects.filter(kind=Unit.Kind.TERRITORIAL, active=True)
    return set(towns.values_list("code", flat=True)) | DEPARTMENTS


def test_after_the_due_hour_every_unit_that_has_not_filed_is_chased(
    district: District, sensitive_today: SensitivePeriod
) -> None:
    now = at(11)

    raised = zero_reports_check(district_id=district.pk, now=now)

    alerts = chased()
    assert raised == len(alerts) == 14
    assert set(alerts) == reporting_units()
    for code, alert in alerts.items():
        assert alert.key == f"zero:{alert.unit_id}:{now.date().isoformat()}"
        assert alert.sensitive
        assert alert.ladder == [["leader"], ["command"]]
        assert (alert.state, alert.stage) == (Alert.State.OPEN, 0)
        assert alert.escalate_at == now + timedelta(minutes=5)  # a sensitive period's delay
        leader = DutyShift.objects.get(unit__code=code, day=now.date(), rung="leader").officer
        (message,) = SmsMessage.objects.filter(alert=alert).select_related("officer")
        assert message.officer == leader
        assert message.to == leader.phone
        assert message.template == "zero_report_missing"
        assert alert.unit.name_zh in message.body
    missing = Event.objects.filter(kind="zero_report.missing")
    assert sorted(e.data["unit"] for e in missing) == sorted(reporting_units())
    assert {e.data["day"] for e in missing} == {now.date().isoformat()}
    assert Event.objects.filter(kind="alert.raised").count() == 14


def test_checking_again_the_same_day_raises_nothing_new(
    district: District, sensitive_today: SensitivePeriod
) -> None:
    zero_reports_check(district_id=district.pk, now=at(11))
    before = everything()

    again = zero_reports_check(district_id=district.pk, now=at(11, 30))
    later = zero_reports_check(district_id=district.pk, now=at(16))

    assert (again, later) == (0, 0)
    assert everything() == before


def test_units_that_filed_are_not_chased(
    district: District, sensitive_today: SensitivePeriod, actor: Callable[[str], Actor]
) -> None:
    for username in ("liaison_police", "liaison_lianshi"):
        _, created = zero_report_file(actor=actor(username), nothing_to_report=True, now=at(9, 30))
        assert created

    raised = zero_reports_check(district_id=district.pk, now=at(11))

    assert raised == 12
    assert set(chased()) == reporting_units() - {"police", "lianshi"}
    units = {e.data["unit"] for e in Event.objects.filter(kind="zero_report.missing")}
    assert units == reporting_units() - {"police", "lianshi"}


@pytest.mark.parametrize(("hour", "minute"), [(0, 0), (9, 0), (9, 59)])
def test_before_the_due_hour_nobody_is_chased(
    district: District, sensitive_today: SensitivePeriod, hour: int, minute: int
) -> None:
    before = everything()

    assert zero_reports_check(district_id=district.pk, now=at(hour, minute)) == 0
    assert everything() == before


def test_the_due_hour_is_the_districts_setting(
    district: District, sensitive_today: SensitivePeriod
) -> None:
    row = alert_settings(district.pk)
    row.zero_report_hour = 8
    row.save()

    assert zero_reports_check(district_id=district.pk, now=at(7, 59)) == 0
    assert zero_reports_check(district_id=district.pk, now=at(8)) == 14


def test_outside_a_sensitive_period_nobody_is_chased(district: District, on_duty: None) -> None:
    before = everything()

    assert zero_reports_check(district_id=district.pk, now=at(11)) == 0
    assert zero_reports_check(district_id=district.pk, now=at(23, 59)) == 0
    assert everything() == before


def test_a_period_that_ended_yesterday_chases_nobody(district: District, on_duty: None) -> None:
    today = timezone.localdate()
    SensitivePeriod.objects.create(
        district=district,
        name="国庆",
        starts_on=today - timedelta(days=7),
        ends_on=today - timedelta(days=1),
    )
    before = everything()

    assert zero_reports_check(district_id=district.pk, now=at(11)) == 0
    assert everything() == before


def test_an_unanswered_chase_escalates_to_joint_command(
    district: District, sensitive_today: SensitivePeriod
) -> None:
    now = at(11)
    zero_reports_check(district_id=district.pk, now=now)
    command = Officer.objects.get(district=district, unit__isnull=True)

    moved = alerts_escalate(now=now + timedelta(minutes=6))

    assert moved == 14
    police = chased()["police"]
    assert police.stage == 1
    (paged,) = SmsMessage.objects.filter(alert=police, stage=1)
    assert paged.officer == command


def test_filing_late_stops_the_chase(
    district: District, sensitive_today: SensitivePeriod, actor: Callable[[str], Actor]
) -> None:
    now = at(11)
    zero_reports_check(district_id=district.pk, now=now)

    zero_report_file(actor=actor("liaison_police"), nothing_to_report=True, now=now)
    alerts_escalate(now=now + timedelta(minutes=6))

    police = chased()["police"]
    assert police.state != Alert.State.OPEN
    assert not SmsMessage.objects.filter(alert=police, stage=1).exists()
