"""Paging and escalation: who gets an SMS when, on a clock the tests control."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from alerts.models import Alert, DutyShift, Officer, SensitivePeriod, SmsMessage
from alerts.services import alert_escalate, alerts_escalate, clock_alert_raise
from incidents.models import Clock, Event, Incident
from incidents.policy import actor_for
from incidents.services import IncidentChange, clocks_sweep, incident_transition, room_acknowledge
from tests.alerts.helpers import alerts_of, messages_of, put_on_duty
from tests.live.helpers import incident_open, register_case

PAGED = {"hrss", "housing", "police", "petition", "lianshi"}


@pytest.fixture
def duty(district: Any) -> Any:
    put_on_duty(district)
    return district


def primary(unit_code: str) -> Officer:
    return DutyShift.objects.get(
        unit__code=unit_code, day=timezone.localdate(), rung="primary"
    ).officer


def transition(incident: Incident, action: str, **fields: Any) -> None:
    command = actor_for(User.objects.get(username="command"))
    incident_transition(
        actor=command, incident_id=incident.pk, change=IncidentChange(action=action, **fields)
    )


def test_an_opened_incident_pages_the_four_departments_and_the_town(duty: Any) -> None:
    incident = incident_open("command", town="lianshi", people=40)  # level III

    alerts = alerts_of(incident.pk)
    assert set(alerts) == PAGED
    for code, alert in alerts.items():
        (message,) = messages_of(alert)
        assert message.officer == primary(code)
        assert message.template == "incident_opened"
        assert message.body.startswith("【欠薪联合指挥】III级群体性事件" + incident.code)
        assert message.body.endswith(f"/i/{incident.pk} {message.reference}")
        assert message.status == "queued"
        assert alert.state == "open"
        assert alert.escalate_at == alert.raised_at + timedelta(minutes=15)
    raised = Event.objects.filter(incident=incident, kind="alert.raised")
    assert raised.count() == len(PAGED)
    assert all(e.data["recipients"] for e in raised)


def test_a_graver_incident_pages_the_leader_at_once(duty: Any) -> None:
    incident = incident_open("command", people=150)  # level II
    police = alerts_of(incident.pk)["police"]
    assert police.ladder == [["leader", "primary"], ["backup"], ["command"]]
    assert {m.officer for m in messages_of(police)} == {
        primary("police"),
        DutyShift.objects.get(unit__code="police", day=timezone.localdate(), rung="leader").officer,
    }


def test_a_sensitive_period_pages_more_people_and_escalates_sooner(duty: Any) -> None:
    today = timezone.localdate()
    SensitivePeriod.objects.create(
        district=duty, name="春节前集中治欠", starts_on=today, ends_on=today
    )
    incident = incident_open("command", people=40)  # level III
    police = alerts_of(incident.pk)["police"]
    assert police.sensitive is True
    assert police.ladder == [["leader", "primary"], ["backup"], ["command"]]
    assert police.escalate_at == police.raised_at + timedelta(minutes=5)


def test_an_unacknowledged_alert_climbs_the_ladder_once_per_step(duty: Any) -> None:
    incident = incident_open("command", people=40)
    police = alerts_of(incident.pk)["police"]
    t0 = police.raised_at

    assert alerts_escalate(now=t0 + timedelta(minutes=14, seconds=59)) == 0
    assert alerts_escalate(now=t0 + timedelta(minutes=15)) == len(PAGED)
    assert alerts_escalate(now=t0 + timedelta(minutes=15)) == 0  # never twice
    police.refresh_from_db()
    assert police.stage == 1
    second = [m for m in messages_of(police) if m.stage == 1]
    # The backup on duty when the step is taken (the next day's, just before midnight).
    day = timezone.localdate(t0 + timedelta(minutes=15))
    assert [m.officer for m in second] == [
        DutyShift.objects.get(unit__code="police", day=day, rung="backup").officer
    ]
    assert second[0].template == "incident_escalated"
    assert "区公安分局预警15分钟未获确认" in second[0].body

    assert alerts_escalate(now=t0 + timedelta(minutes=30)) == len(PAGED)  # to the leader
    # No command officer is on duty in this district: the ladder ends, visibly.
    Officer.objects.filter(unit__isnull=True).delete()
    assert alerts_escalate(now=t0 + timedelta(minutes=45)) == len(PAGED)
    police.refresh_from_db()
    assert police.state == "exhausted"
    assert Event.objects.filter(kind="alert.exhausted", data__alert_id=police.pk).count() == 1
    assert alerts_escalate(now=t0 + timedelta(hours=5)) == 0


def test_an_acknowledged_alert_never_escalates(duty: Any) -> None:
    incident = incident_open("command", people=40)
    police = alerts_of(incident.pk)["police"]
    room_acknowledge(
        actor=actor_for(User.objects.get(username="liaison_police")), incident_id=incident.pk
    )

    police.refresh_from_db()
    assert police.state == "acknowledged"
    assert police.acknowledged_via == "room"
    assert alerts_escalate(now=police.raised_at + timedelta(hours=1)) == len(PAGED) - 1
    police.refresh_from_db()
    assert (police.state, police.stage) == ("acknowledged", 0)
    assert not SmsMessage.objects.filter(alert=police, stage__gt=0).exists()


def test_an_escalation_claimed_by_one_sweeper_is_not_fired_by_another(duty: Any) -> None:
    incident = incident_open("command", people=40)
    police = alerts_of(incident.pk)["police"]
    later = police.raised_at + timedelta(minutes=20)
    assert alert_escalate(police.pk, expected_stage=0, now=later, why="not_acknowledged")
    assert not alert_escalate(police.pk, expected_stage=0, now=later, why="not_acknowledged")
    assert SmsMessage.objects.filter(alert=police, stage=1).count() == 1


def test_a_rung_with_nobody_on_duty_is_passed_at_once(duty: Any) -> None:
    DutyShift.objects.filter(unit__code="police", day=timezone.localdate(), rung="primary").delete()
    incident = incident_open("command", people=40)
    police = alerts_of(incident.pk)["police"]
    assert police.stage == 1
    (message,) = messages_of(police)
    assert message.template == "incident_opened"  # the first one paged gets the alert itself
    event = Event.objects.get(kind="alert.raised", data__alert_id=police.pk)
    assert event.data["nobody_on_duty"] == ["primary"]


def test_with_nobody_to_page_the_alert_is_exhausted_at_once(district: Any) -> None:
    incident = incident_open("command", people=40)
    alerts = alerts_of(incident.pk)
    assert {a.state for a in alerts.values()} == {"exhausted"}
    assert not SmsMessage.objects.exists()
    assert Event.objects.filter(incident=incident, kind="alert.exhausted").count() == len(PAGED)


def test_a_graver_level_pages_again_but_only_once_per_level(duty: Any) -> None:
    incident = incident_open("command", people=40)  # III
    transition(incident, "set_level", level="II", reason="冲击项目部")
    raised = Alert.objects.filter(incident=incident, reason="level_raised")
    assert raised.count() == len(PAGED)
    assert {m.template for a in raised for m in messages_of(a)} == {"incident_level_raised"}

    transition(incident, "set_level", level="III", reason="情绪平稳")
    transition(incident, "set_level", level="II", reason="再次升级")
    assert raised.count() == len(PAGED)


def test_closing_an_incident_stops_its_alerts(duty: Any) -> None:
    incident = incident_open("command", people=40)
    transition(incident, "activate")
    transition(incident, "close", reason="工资已现场发放")
    assert {a.state for a in alerts_of(incident.pk).values()} == {"cancelled"}
    assert alerts_escalate(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_late_deadline_pages_the_units_liaison_until_it_is_met(duty: Any) -> None:
    case = register_case(project_type="real_estate")  # housing leads
    clock = Clock.objects.create(
        case=case,
        kind=Clock.Kind.COMMITMENT,
        started_at=timezone.now() - timedelta(days=8),
        due_at=timezone.now() - timedelta(hours=1),
    )
    assert clocks_sweep(now=timezone.now()) >= 1
    alert = Alert.objects.get(case=case, reason="clock_overdue")
    assert alert.unit.code == "housing"
    (message,) = messages_of(alert)
    assert message.officer is not None
    assert message.officer.is_liaison
    assert message.officer.user == User.objects.get(username="liaison_housing")
    assert f"案件{case.number}的" in message.body
    assert clock_alert_raise(clock=clock, now=timezone.now()) is None  # once per clock

    from incidents.services.clocks import clocks_stop

    clocks_stop(case, {Clock.Kind.COMMITMENT: Clock.Status.MET}, now=timezone.now())
    alert.refresh_from_db()
    assert alert.state == "cancelled"


def test_no_sms_carries_the_complainants_name_or_phone(duty: Any) -> None:
    case = register_case(workers=40)  # complainant 王建国, 13812345678
    incident = incident_open("command", people=40, cases=[case.number])
    transition(incident, "set_level", level="I", reason="堵路")
    bodies = list(SmsMessage.objects.filter(incident=incident).values_list("body", flat=True))
    assert bodies
    for body in bodies:
        assert "王建国" not in body
        assert "13812345678" not in body
        assert incident.title not in body  # free text from people stays out too


def test_an_sms_that_cannot_be_written_never_blocks_the_incident(
    duty: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts.domain import messages

    monkeypatch.setitem(
        messages.TEMPLATES,
        "incident_opened",
        messages.Template(
            "incident_opened", "{level}" * 200, messages.TEMPLATES["incident_opened"].params
        ),
    )
    incident = incident_open("command", people=40)  # the report stands
    police = alerts_of(incident.pk)["police"]
    assert police.state == "open"
    assert not SmsMessage.objects.filter(alert=police).exists()
    event = Event.objects.get(kind="alert.raised", data__alert_id=police.pk)
    assert event.data["refused"] == [primary("police").name]
    assert police.escalate_at is not None  # nobody was told: it escalates in time
