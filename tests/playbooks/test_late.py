"""Late checklist steps, on a clock the tests control (`now=` to the sweeps; nobody sleeps).

A step past its due time and not finished is marked late once, writes
`checklist.step_late` and pages its owner (primary officer on duty, then the leader, then
command; a step of the joint command's own pages command). Finishing it stops the page;
reopening it after its due time makes it late again. A closed incident's steps are never
late; a sensitive period's checklist is shown late but pages nobody.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import Alert, DutyShift, Officer, SensitivePeriod, SmsMessage
from alerts.services import alert_settings, alerts_escalate
from alerts.services.common import local_day
from incidents.domain.streams import district_stream, incident_stream, unit_stream
from incidents.errors import Forbidden, NotFound
from incidents.models import District, Event, Incident, Unit
from playbooks.models import Checklist, ChecklistStep
from playbooks.services import checklists as checklists_module
from playbooks.services import (
    checklists_sweep,
    period_checklists_start,
    playbooks_tick,
    step_is_late,
)
from tests.playbooks.conftest import Move, StepOf, Transition

PERIOD_TEMPLATE = "holiday_colocation"


@pytest.fixture
def t0(active_incident: Incident) -> datetime:
    """When the incident was activated, which is when its checklist started."""
    assert active_incident.activated_at is not None
    return active_incident.activated_at


def minutes(start: datetime, n: float) -> datetime:
    return start + timedelta(minutes=n)


def on_duty_as(unit: Unit, rung: str, at: datetime) -> Officer:
    return DutyShift.objects.get(unit=unit, day=local_day(at), rung=rung).officer


def late_events(**filters: Any) -> list[Event]:
    return list(Event.objects.filter(kind="checklist.step_late", **filters).order_by("id"))


def late_alerts() -> dict[str, Alert]:
    """The step-late alerts by the key of their step."""
    steps = {s.pk: s.key for s in ChecklistStep.objects.all()}
    found = {}
    for alert in Alert.objects.filter(reason="step_late").select_related("unit"):
        step_id = int(alert.key.split(":")[1])
        found[steps[step_id]] = alert
    return found


def late_keys(incident: Incident, now: datetime) -> set[str]:
    return {
        s.key
        for s in ChecklistStep.objects.filter(checklist__incident=incident).select_related(
            "checklist__incident"
        )
        if step_is_late(s, now=now)
    }


# --- marking late ----------------------------------------------------------------------------


def test_nothing_is_late_before_its_due_time(
    active_incident: Incident, t0: datetime, step: StepOf
) -> None:
    assert checklists_sweep(now=t0) == 0
    assert checklists_sweep(now=minutes(t0, 15)) == 0  # due at +15: on time, not late
    town = step(active_incident, "town_on_site")
    assert town.due_at == minutes(t0, 15)
    assert not step_is_late(town, now=minutes(t0, 15))
    assert late_keys(active_incident, minutes(t0, 15)) == set()
    assert late_events() == []
    assert not Alert.objects.filter(reason="step_late").exists()
    assert not ChecklistStep.objects.filter(late_at__isnull=False).exists()


def test_each_late_step_is_marked_once_and_pages_its_unit(
    active_incident: Incident, t0: datetime, step: StepOf
) -> None:
    now = minutes(t0, 16)
    assert checklists_sweep(now=now) == 2
    assert late_keys(active_incident, now) == {"town_on_site", "police_order"}

    events = late_events()
    assert len(events) == 2
    alerts = late_alerts()
    assert set(alerts) == {"town_on_site", "police_order"}
    for key, code in (("town_on_site", "lianshi"), ("police_order", "police")):
        late = step(active_incident, key)
        assert late.late_at == now
        assert late.state == "open"
        assert step_is_late(late, now=now)
        (event,) = [e for e in events if e.data["step_id"] == late.pk]
        assert event.at == now
        assert event.actor is None
        assert event.incident == active_incident
        assert event.data["minutes_late"] == 1
        assert event.data["late"] is True
        assert event.data["owner"] == code
        assert {
            district_stream(active_incident.district_id),
            incident_stream(active_incident.pk),
            unit_stream(late.owner_unit_id),
        } <= set(event.entries.values_list("stream", flat=True))

        alert = alerts[key]
        assert alert.unit == late.owner_unit
        assert alert.incident == active_incident
        assert alert.key == f"step:{late.pk}:late:0"
        assert alert.ladder == [["primary"], ["leader"], ["command"]]
        assert (alert.state, alert.stage) == ("open", 0)
        assert alert.raised_at == now
        (message,) = SmsMessage.objects.filter(alert=alert)
        assert message.officer == on_duty_as(late.owner_unit, "primary", now)
        assert message.template == "step_late"
        assert late.title_zh[:20] in message.body
        assert timezone.localtime(late.due_at).strftime("%H:%M") in message.body


def test_minutes_late_count_from_the_due_time(
    active_incident: Incident, t0: datetime, step: StepOf
) -> None:
    assert checklists_sweep(now=minutes(t0, 15 + 42.5)) == 4  # +15 twice, +30 twice
    police = step(active_incident, "police_order")
    (event,) = late_events(data__step_id=police.pk)
    assert event.data["minutes_late"] == 42


def test_a_late_step_of_the_joint_command_pages_command_alone(
    active_incident: Incident, t0: datetime, step: StepOf
) -> None:
    now = minutes(t0, 31)
    assert checklists_sweep(now=now) == 4  # two at +15, representatives and first_report
    report = step(active_incident, "first_report")
    alert = late_alerts()["first_report"]
    assert alert.unit is None
    assert alert.key == f"step:{report.pk}:late:0"
    assert alert.ladder == [["command"]]
    messages = list(SmsMessage.objects.filter(alert=alert).select_related("officer"))
    commanders = set(Officer.objects.filter(unit__isnull=True, active=True))
    assert commanders
    assert {m.officer for m in messages} == commanders
    assert {m.template for m in messages} == {"step_late"}
    (event,) = late_events(data__step_id=report.pk)
    assert event.data["owner"] == "command"

    # Nobody is above command: unanswered, the alert ends there, visibly.
    delay = alert_settings(active_incident.district_id).escalate_minutes
    alerts_escalate(now=minutes(now, delay))
    alert.refresh_from_db()
    assert alert.state == "exhausted"
    assert SmsMessage.objects.filter(alert=alert).count() == len(messages)


def test_sweeping_again_marks_nothing_new(
    active_incident: Incident, t0: datetime, step: StepOf
) -> None:
    first = minutes(t0, 16)
    assert checklists_sweep(now=first) == 2
    counts = (len(late_events()), Alert.objects.count(), SmsMessage.objects.count())
    assert checklists_sweep(now=first) == 0
    assert checklists_sweep(now=minutes(t0, 20)) == 0
    assert (len(late_events()), Alert.objects.count(), SmsMessage.objects.count()) == counts
    assert step(active_incident, "police_order").late_at == first


def test_two_sweepers_at_once_alert_each_step_once(
    active_incident: Incident, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second sweeper runs while the first holds its list of due steps: whichever
    claims a step first marks it; the other passes it by."""
    now = minutes(t0, 31)
    late = checklists_module._late
    inner: list[int] = []

    def first_sweeper_marks(step: ChecklistStep, at: datetime) -> None:
        if not inner:
            inner.append(-1)
            inner[0] = checklists_sweep(now=at)  # the second sweeper, mid-way through
        late(step, at)

    monkeypatch.setattr(checklists_module, "_late", first_sweeper_marks)
    outer = checklists_sweep(now=now)
    assert inner[0] >= 1
    assert outer + inner[0] == 4
    assert len(late_events()) == 4
    assert len({e.data["step_id"] for e in late_events()}) == 4
    alerts = Alert.objects.filter(reason="step_late")
    assert alerts.count() == 4
    assert len(set(alerts.values_list("key", flat=True))) == 4
    assert SmsMessage.objects.filter(template="step_late").count() == 4


def test_a_step_finished_in_time_is_never_late(
    active_incident: Incident, t0: datetime, step: StepOf, move: Move
) -> None:
    police = step(active_incident, "police_order")
    move("liaison_police", police, "done")
    petition = step(active_incident, "representatives")
    move("liaison_petition", petition, "skipped", note="工人代表已散去")

    now = minutes(t0, 6 * 60)
    marked = checklists_sweep(now=now)
    assert marked == 4  # town_on_site, hr_verify, first_report, payment_plan
    police.refresh_from_db()
    petition.refresh_from_db()
    for finished in (police, petition):
        assert finished.late_at is None
        assert not step_is_late(finished, now=now)
        assert not late_events(data__step_id=finished.pk)
    assert set(late_alerts()) == {"town_on_site", "hr_verify", "first_report", "payment_plan"}


@pytest.mark.parametrize(("state", "note"), [("done", ""), ("skipped", "特警已接管现场")])
def test_finishing_a_late_step_stops_its_alert(
    active_incident: Incident,
    t0: datetime,
    step: StepOf,
    move: Move,
    state: str,
    note: str,
) -> None:
    assert checklists_sweep(now=minutes(t0, 16)) == 2
    alert = late_alerts()["police_order"]
    police = step(active_incident, "police_order")

    move("liaison_police", police, state, note=note)
    alert.refresh_from_db()
    assert alert.state == "cancelled"
    assert alert.escalate_at is None
    cancelled = Event.objects.get(kind="alert.cancelled", data__alert_id=alert.pk)
    assert cancelled.data["why"] == "step_finished"
    moved = Event.objects.filter(kind="checklist.step_moved").latest("id")
    assert moved.data["was_late"] is True
    # The other late step's alert is untouched, and the stopped one never escalates.
    assert late_alerts()["town_on_site"].state == "open"
    alerts_escalate(now=minutes(t0, 60))
    alert.refresh_from_db()
    assert (alert.state, alert.stage) == ("cancelled", 0)
    assert SmsMessage.objects.filter(alert=alert).count() == 1


def test_a_step_reopened_after_its_due_time_is_late_again(
    active_incident: Incident, t0: datetime, step: StepOf, move: Move
) -> None:
    assert checklists_sweep(now=minutes(t0, 16)) == 2
    police = step(active_incident, "police_order")
    first_alert = late_alerts()["police_order"]
    move("liaison_police", police, "done")
    reopened = move("command", police, "open")
    assert reopened.revision == 2
    assert reopened.late_at is None

    later = minutes(t0, 25)
    assert checklists_sweep(now=later) == 1
    police.refresh_from_db()
    assert police.late_at == later
    alerts = Alert.objects.filter(reason="step_late", key__startswith=f"step:{police.pk}:")
    assert set(alerts.values_list("key", "state")) == {
        (first_alert.key, "cancelled"),
        (f"step:{police.pk}:late:2", "open"),
    }
    assert len(late_events(data__step_id=police.pk)) == 2
    assert checklists_sweep(now=minutes(t0, 26)) == 0


def test_a_closed_incidents_steps_are_never_late(
    active_incident: Incident, t0: datetime, transition: Transition
) -> None:
    assert checklists_sweep(now=minutes(t0, 16)) == 2
    transition(active_incident, "close", reason="工资已现场发放，人员散去")
    # Closing stopped the alerts already raised, those of the late steps included.
    assert {a.state for a in late_alerts().values()} == {"cancelled"}

    much_later = minutes(t0, 10 * 24 * 60)
    assert checklists_sweep(now=much_later) == 0
    assert late_keys(active_incident, much_later) == set()
    assert len(late_events()) == 2
    assert Alert.objects.filter(reason="step_late").count() == 2


def test_a_step_late_alert_escalates_to_the_units_leader(
    active_incident: Incident, t0: datetime, step: StepOf
) -> None:
    assert checklists_sweep(now=minutes(t0, 16)) == 2
    alert = late_alerts()["police_order"]
    police = step(active_incident, "police_order")
    delay = alert_settings(active_incident.district_id).escalate_minutes
    assert alert.escalate_at == alert.raised_at + timedelta(minutes=delay)

    alerts_escalate(now=alert.raised_at + timedelta(minutes=delay) - timedelta(seconds=1))
    alert.refresh_from_db()
    assert alert.stage == 0

    at = alert.raised_at + timedelta(minutes=delay)
    alerts_escalate(now=at)
    alert.refresh_from_db()
    assert (alert.state, alert.stage) == ("open", 1)
    (second,) = SmsMessage.objects.filter(alert=alert, stage=1).select_related("officer")
    assert second.officer == on_duty_as(police.owner_unit, "leader", at)
    assert second.template == "step_escalated"
    assert police.title_zh[:20] in second.body
    escalated = Event.objects.get(kind="alert.escalated", data__alert_id=alert.pk)
    assert escalated.data["rungs"] == ["leader"]


# --- sensitive periods ---------------------------------------------------------------------


@pytest.fixture
def period(playbooks: District, on_duty: None) -> SensitivePeriod:
    today = timezone.localdate()
    return SensitivePeriod.objects.create(
        district=playbooks,
        name="春节前集中治欠",
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=3),
    )


def period_key(period: SensitivePeriod) -> str:
    starts_on: date = period.starts_on
    return f"{period.name}:{starts_on.isoformat()}"


def test_a_sensitive_period_starts_its_playbook_once(
    period: SensitivePeriod, district: District
) -> None:
    now = timezone.now()
    (checklist,) = period_checklists_start(district_id=district.pk, now=now)
    assert checklist.template.key == PERIOD_TEMPLATE
    assert checklist.incident is None
    assert checklist.period == period_key(period)
    assert checklist.started_at == now
    assert checklist.started_by is None
    steps = {s.key: s for s in checklist.steps.select_related("owner_unit")}
    assert steps["hr_on_site"].owner_unit == Unit.objects.get(code="hrss")
    assert steps["roster_checked"].owner_unit is None
    assert steps["hr_on_site"].due_at == now + timedelta(minutes=60)
    (event,) = Event.objects.filter(kind="checklist.started")
    assert event.incident is None
    assert event.data["period"] == period_key(period)
    assert not SmsMessage.objects.filter(template="step_opened").exists()

    assert period_checklists_start(district_id=district.pk, now=now) == []
    # A later day of the same period: still the one checklist.
    assert period_checklists_start(district_id=district.pk, now=now + timedelta(days=2)) == []
    assert Checklist.objects.count() == 1
    assert Event.objects.filter(kind="checklist.started").count() == 1


def test_the_next_period_gets_its_own_checklist(
    period: SensitivePeriod, district: District
) -> None:
    now = timezone.now()
    assert len(period_checklists_start(district_id=district.pk, now=now)) == 1
    next_day = period.ends_on + timedelta(days=7)
    SensitivePeriod.objects.create(
        district=district, name="国庆节", starts_on=next_day, ends_on=next_day
    )
    later = now + timedelta(days=(next_day - timezone.localdate()).days)
    (second,) = period_checklists_start(district_id=district.pk, now=later)
    assert second.period == f"国庆节:{next_day.isoformat()}"
    assert Checklist.objects.count() == 2


def test_outside_a_sensitive_period_no_playbook_starts(playbooks: District, on_duty: None) -> None:
    today = timezone.localdate()
    SensitivePeriod.objects.create(
        district=playbooks,
        name="已过去的节日",
        starts_on=today - timedelta(days=10),
        ends_on=today - timedelta(days=1),
    )
    assert period_checklists_start(district_id=playbooks.pk, now=timezone.now()) == []
    assert playbooks_tick(now=timezone.now()) == 0
    assert not Checklist.objects.exists()
    assert not Event.objects.filter(kind="checklist.started").exists()


def test_a_periods_late_steps_are_shown_but_page_nobody(
    period: SensitivePeriod, district: District
) -> None:
    now = timezone.now()
    (checklist,) = period_checklists_start(district_id=district.pk, now=now)
    later = now + timedelta(minutes=61)
    assert checklists_sweep(now=later) == 4  # the four departments' steps, due at +60
    events = late_events()
    assert {e.data["step"] for e in events} == {
        "hr_on_site",
        "housing_on_site",
        "police_on_site",
        "petition_on_site",
    }
    for event in events:
        assert event.incident is None
        assert event.data["checklist_id"] == checklist.pk
        assert event.data["minutes_late"] == 1
        owner = Unit.objects.get(code=event.data["owner"])
        assert unit_stream(owner.pk) in set(event.entries.values_list("stream", flat=True))
    assert not Alert.objects.exists()
    assert not SmsMessage.objects.exists()
    steps = list(checklist.steps.select_related("checklist__incident"))
    assert {s.key for s in steps if step_is_late(s, now=later)} == {e.data["step"] for e in events}
    assert checklists_sweep(now=later + timedelta(hours=3)) == 2  # command's, at +120, +240
    assert not Alert.objects.exists()


def test_a_periods_steps_are_moved_by_their_units(
    period: SensitivePeriod, district: District, move: Move
) -> None:
    (checklist,) = period_checklists_start(district_id=district.pk, now=timezone.now())
    hrss = checklist.steps.get(key="hr_on_site")
    assert move("liaison_hrss", hrss, "done").state == "done"
    # A unit that owns no step of it does not even see it.
    with pytest.raises(NotFound):
        move("liaison_lianshi", checklist.steps.get(key="police_on_site"), "done")
    with pytest.raises(Forbidden):
        move("liaison_hrss", checklist.steps.get(key="police_on_site"), "done")
    event = Event.objects.filter(kind="checklist.step_moved").latest("id")
    assert event.incident is None
    assert event.data["step_id"] == hrss.pk
    assert event.data["progress"] == {"done": 1, "total": 6}
