"""The facts of an after-action report, from crafted event lists with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from incidents.domain.after_action import (
    EventRecord,
    IncidentFacts,
    PlannedStep,
    after_action_facts,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
INCIDENT = IncidentFacts(
    id=7,
    code="INC-7",
    title="练市新城工地农民工聚集讨薪",
    kind="site_gathering",
    town="lianshi",
    lat=30.713,
    lng=120.429,
    level="III",
    people_count=40,
    reported_at=T0,
    unit_names={"lianshi": "练市镇", "police": "公安局", "housing": "住建局"},
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Log:
    """Builds an event list with rising ids."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def add(self, kind: str, minutes: float, **fields: Any) -> Log:
        fields.setdefault("data", {})
        self.events.append(
            EventRecord(id=len(self.events) + 1, kind=kind, at=at(minutes), **fields)
        )
        return self


def facts(log: Log, planned: list[PlannedStep] | None = None) -> dict[str, Any]:
    return after_action_facts(INCIDENT, log.events, planned or [])


def scripted() -> Log:
    """Reported at 0 (40 people, III), activated at 5, raised to 120 people (II) at 20,
    contained at 60, closed at 95."""
    return (
        Log()
        .add(
            "incident.reported",
            0,
            actor="command",
            after="reported",
            data={"people_count": 40, "level": "III", "case_numbers": ["NX-1"]},
        )
        .add("incident.activate", 5, actor="command", data={"level": "III"})
        .add("incident.chat", 6, actor="liaison_lianshi", data={"text": "到了", "level": "III"})
        .add(
            "incident.update",
            20,
            actor="liaison_lianshi",
            data={"people_count": 120, "people_count_before": 40, "level": "II"},
        )
        .add("incident.set_level", 30, actor="command", data={"level": "III", "level_before": "II"})
        .add("incident.contain", 60, actor="command", data={"level": "III"})
        .add("incident.close", 95, actor="command", reason="工资当场支付", data={"level": "III"})
    )


# --- summary -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("title", "练市新城工地农民工聚集讨薪"),
        ("town_name", "练市镇"),
        ("level", "II"),  # the highest reached, though it was lowered again
        ("people", 120),
        ("reported_at", at(0)),
        ("activated_at", at(5)),
        ("contained_at", at(60)),
        ("closed_at", at(95)),
        ("duration_minutes", 95),
        ("outcome", "工资当场支付"),
        ("closed_by", "command"),
    ],
)
def test_summary_of_a_scripted_incident(field: str, expected: Any) -> None:
    assert facts(scripted())["summary"][field] == expected


def test_summary_of_an_incident_without_events_falls_back_on_its_static_facts() -> None:
    summary = facts(Log())["summary"]
    assert summary["level"] == "III"
    assert summary["people"] == 40
    assert summary["reported_at"] == T0
    assert summary["closed_at"] is None
    assert summary["duration_minutes"] is None
    assert summary["outcome"] == ""


def test_an_incident_reopened_takes_its_last_close() -> None:
    log = scripted().add("incident.close", 200, reason="second close", data={"level": "III"})
    summary = facts(log)["summary"]
    assert summary["closed_at"] == at(200)
    assert summary["outcome"] == "second close"
    assert summary["duration_minutes"] == 200


# --- timeline ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("incident.chat", False),
        ("sms.sent", False),
        ("sms.delivered", False),
        ("sms.failed", False),
        ("after_action.edited", False),
        ("incident.acknowledged", True),
        ("alert.raised", True),
        ("checklist.step_moved", True),
        ("case.resolve", True),
        ("fund.advance", True),
    ],
)
def test_timeline_leaves_out_chat_and_sms_noise(kind: str, shown: bool) -> None:
    log = Log().add(kind, 1, data={"alert_id": 1})
    assert [t["kind"] for t in facts(log)["timeline"]] == ([kind] if shown else [])


def test_timeline_entries_say_when_who_and_what() -> None:
    timeline = facts(scripted())["timeline"]
    assert [t["kind"] for t in timeline] == [
        "incident.reported",
        "incident.activate",
        "incident.update",
        "incident.set_level",
        "incident.contain",
        "incident.close",
    ]
    update = timeline[2]
    assert update["at"] == at(20)
    assert update["who"] == "liaison_lianshi"
    assert update["details"] == [
        ("people_count_before", "40"),
        ("people_count", "120"),
        ("level", "II"),
    ]
    assert timeline[-1]["reason"] == "工资当场支付"


def test_timeline_names_units_and_people_paged() -> None:
    log = Log().add(
        "alert.raised",
        1,
        data={
            "alert_id": 3,
            "unit": "police",
            "recipients": [{"name": "张警官", "to": "138****5678"}, {"name": "李所长"}],
        },
    )
    (item,) = facts(log)["timeline"]
    assert item["who"] is None
    assert item["details"] == [("unit", "公安局"), ("recipients", "张警官, 李所长")]


def test_linked_cases_history_before_the_link_is_not_in_the_timeline() -> None:
    log = Log().add(
        "case.registered",
        -600,
        case_number="NX-1",
        after="registered",
        data={"amount_owed": "86000.00"},
        in_stream=False,
    )
    result = facts(log)
    assert result["timeline"] == []
    assert result["money"]["owed"] == "86000.00"


# --- steps ---------------------------------------------------------------------------------


def step_data(step_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "checklist_id": 1,
        "step_id": step_id,
        "step": f"s{step_id}",
        "title": f"步骤{step_id}",
        "owner": "lianshi",
        "due_at": at(15).isoformat(),
        **extra,
    }


PLANNED = [
    PlannedStep(1, 1, "s1", "步骤1", "lianshi", at(15)),
    PlannedStep(1, 2, "s2", "步骤2", "police", at(30)),
    PlannedStep(1, 3, "s3", "步骤3", "command", at(200)),
]


def checklist_log() -> Log:
    return Log().add("checklist.started", 5, data={"checklist_id": 1, "steps": 3})


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        # done on time
        ([("checklist.step_moved", 10, "done")], ("done", at(10), False, 0)),
        # done 25 minutes after its due time
        ([("checklist.step_moved", 40, "done")], ("done", at(40), True, 25)),
        # marked late by the sweep at 16, done at 20: late by 5 minutes when done
        (
            [("checklist.step_late", 16, None), ("checklist.step_moved", 20, "done")],
            ("done", at(20), True, 5),
        ),
        # never finished: late until the incident closed (at 95)
        ([("checklist.step_moved", 10, "in_progress")], ("in_progress", None, True, 80)),
        # done, then reopened: not done any more
        (
            [("checklist.step_moved", 10, "done"), ("checklist.step_moved", 12, "open")],
            ("open", None, True, 80),
        ),
        # skipped counts as finished
        ([("checklist.step_moved", 12, "skipped")], ("skipped", at(12), False, 0)),
    ],
)
def test_step_state_done_time_and_lateness(
    moves: list[tuple[str, float, str | None]], expected: tuple[Any, ...]
) -> None:
    log = checklist_log()
    for kind, minutes, state in moves:
        data = step_data(1, minutes_late=1) if kind == "checklist.step_late" else step_data(1)
        log.add(kind, minutes, after=state or "", data=data)
    log.add("incident.close", 95, reason="done")
    step = next(s for s in facts(log, PLANNED)["steps"] if s["step_id"] == 1)
    assert (step["state"], step["done_at"], step["late"], step["minutes_late"]) == expected


def test_steps_never_touched_still_show_from_the_plan() -> None:
    log = checklist_log().add("incident.close", 95, reason="done")
    steps = facts(log, PLANNED)["steps"]
    assert [(s["title"], s["owner_name"], s["state"], s["late"]) for s in steps] == [
        ("步骤1", "练市镇", "open", True),
        ("步骤2", "公安局", "open", True),
        ("步骤3", "command", "open", False),  # due after the incident closed
    ]
    assert steps[0]["minutes_late"] == 80


def test_steps_of_a_checklist_started_after_the_cutoff_are_not_shown() -> None:
    assert facts(Log(), PLANNED)["steps"] == []


# --- alerts --------------------------------------------------------------------------------


def alert_log() -> Log:
    log = Log()
    raised = {"reason": "incident_opened", "unit": "police"}
    log.add("alert.raised", 0, data={"alert_id": 1, **raised, "recipients": [{"name": "张"}]})
    log.add("alert.raised", 0, data={"alert_id": 2, **raised, "unit": "housing"})
    log.add("alert.raised", 1, data={"alert_id": 3, **raised, "unit": "lianshi"})
    for n, (alert, kind) in enumerate(
        [(1, "sms.sent"), (1, "sms.delivered"), (2, "sms.sent"), (2, "sms.failed"), (3, "sms.sent")]
    ):
        log.add(kind, 0.5, data={"alert_id": alert, "message_id": 10 + alert + (n > 3)})
    log.add("sms.sent", 0.6, data={"alert_id": 1, "message_id": 11})  # the same message twice
    log.add(
        "alert.acknowledged",
        2,
        data={"alert_id": 1, "by": "张警官", "via": "sms", "response_seconds": 120},
    )
    log.add("alert.acknowledged", 10, data={"alert_id": 3, "by": "liaison_lianshi", "via": "room"})
    log.add("alert.escalated", 15, data={"alert_id": 2, "recipients": [{"name": "王局长"}]})
    log.add("alert.exhausted", 30, data={"alert_id": 2})
    return log


def test_each_alert_with_its_messages_and_response() -> None:
    items = {a["alert_id"]: a for a in facts(alert_log())["alerts"]["items"]}
    police, housing, town = items[1], items[2], items[3]
    assert (police["unit_name"], police["sent"], police["delivered"], police["failed"]) == (
        "公安局",
        1,
        1,
        0,
    )
    assert police["state"] == "acknowledged"
    assert police["acknowledged_at"] == at(2)
    assert (police["acknowledged_by"], police["acknowledged_via"]) == ("张警官", "sms")
    assert police["response_seconds"] == 120
    assert (housing["sent"], housing["failed"], housing["state"]) == (1, 1, "exhausted")
    assert housing["paged"] == ["王局长"]
    assert housing["response_seconds"] is None
    # No response_seconds in the event: computed from when it was raised.
    assert town["response_seconds"] == 9 * 60


def test_alert_totals_and_median_response() -> None:
    assert facts(alert_log())["alerts"]["totals"] == {
        "alerts": 3,
        "sent": 3,
        "delivered": 1,
        "failed": 1,
        "acknowledged": 2,
        "exhausted": 1,
        "median_response_seconds": (120 + 540) // 2,
    }


def test_no_alerts() -> None:
    alerts = facts(scripted())["alerts"]
    assert alerts["items"] == []
    assert alerts["totals"]["median_response_seconds"] is None


# --- money and cases -----------------------------------------------------------------------


def money_log() -> Log:
    log = Log()
    log.add(
        "case.registered",
        -900,
        case_number="NX-1",
        after="registered",
        in_stream=False,
        data={"amount_owed": "86000.00"},
    )
    log.add(
        "case.registered",
        -800,
        case_number="NX-2",
        after="registered",
        in_stream=False,
        data={"amount_owed": "40000"},
    )
    log.add("incident.reported", 0, data={"case_numbers": ["NX-1"], "people_count": 40})
    log.add("incident.link_cases", 10, data={"case_numbers": ["NX-2"]})
    log.add(
        "case.resolve",
        50,
        case_number="NX-1",
        before="accepted",
        after="resolved",
        data={"amount_paid": "60000.00"},
    )
    log.add(
        "fund.advance", 60, case_number="NX-2", data={"amount": "30000.00", "state": "advanced"}
    )
    log.add(
        "case.advance_payment",
        60,
        case_number="NX-2",
        before="facts_confirmed",
        after="advanced",
        data={"amount": "30000.00"},
    )
    log.add(
        "fund.recovery", 80, case_number="NX-2", data={"amount": "10000.00", "state": "recovering"}
    )
    return log


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("owed", "126000.00"),
        ("paid", "60000.00"),
        ("advanced", "30000.00"),  # counted once, from the fund's own event
        ("recovered", "10000.00"),
        ("outstanding", "36000.00"),  # 26000 of NX-1 and 10000 of NX-2
        ("unrecovered", "20000.00"),
    ],
)
def test_money_in_yuan(field: str, expected: str) -> None:
    assert facts(money_log())["money"][field] == expected


def test_linked_cases_with_their_state_at_the_cutoff() -> None:
    cases = facts(money_log())["cases"]
    assert [(c["number"], c["state"], c["owed"], c["outstanding"]) for c in cases] == [
        ("NX-1", "resolved", "86000.00", "26000.00"),
        ("NX-2", "recovering", "40000.00", "10000.00"),
    ]


def test_no_money_without_cases() -> None:
    assert facts(scripted())["money"] == {
        "owed": "0.00",
        "paid": "0.00",
        "advanced": "0.00",
        "recovered": "0.00",
        "outstanding": "0.00",
        "unrecovered": "0.00",
    }


def test_the_same_event_given_twice_counts_once() -> None:
    log = money_log()
    log.events.append(log.events[-1])
    assert facts(log)["money"]["recovered"] == "10000.00"
