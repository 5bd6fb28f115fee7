"""POST /api/v1/cases/{number}/transitions: the closed loop, its refusals and its events.

Each successful transition writes exactly one `case.<action>` event (actor, before, after,
reason) in its transaction and publishes it on commit; a refused one changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from incidents.domain import workdays
from incidents.domain.lifecycle import Action
from incidents.models import (
    ACTION_LABELS,
    STATE_LABELS,
    Case,
    Clock,
    Event,
    FundAccount,
    FundEntry,
    Report,
    UnitPenalty,
)
from incidents.services import district_calendar, local_tz
from tests.factories import intake_payload

URL = "/api/v1/cases"
ClientFor = Callable[[str], Client]


def post(client: Client, url: str, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def register(client: Client, **overrides: Any) -> str:
    response = post(client, URL, intake_payload(**overrides))
    assert response.status_code == 201, response.content
    return str(response.json()["case_number"])


def act(client: Client, number: str, action: str, **fields: Any) -> Any:
    return post(client, f"{URL}/{number}/transitions", {"action": action, **fields})


def act_en(client: Client, number: str, action: str, **fields: Any) -> Any:
    """`act`, asking for the answer in English (the hub's default language is Chinese)."""
    return post(
        client,
        f"{URL}/{number}/transitions",
        {"action": action, **fields},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def labels(language: str, action: str, state: str) -> tuple[str, str]:
    with translation.override(language):
        return str(ACTION_LABELS[Action(action)]), str(STATE_LABELS[state])


def snapshot(number: str) -> dict[str, Any]:
    case = Case.objects.get(number=number)
    return {
        "state": case.state,
        "revision": case.revision,
        "amount_paid": case.amount_paid,
        "responsible": case.responsible_unit_id,
        "events": Event.objects.count(),
        "clocks": list(Clock.objects.filter(case=case).values_list("kind", "status", "due_at")),
        "fund": list(FundEntry.objects.values_list("pk", flat=True)),
        "balance": FundAccount.objects.get().balance,
        "penalties": UnitPenalty.objects.count(),
    }


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    return body


class Step:
    """Take one action and check it wrote exactly one `case.<action>` event."""

    def __init__(self, capture: Any) -> None:
        self.capture = capture

    def __call__(
        self, client: Client, number: str, action: str, *, actor: str, after: str, **fields: Any
    ) -> dict[str, Any]:
        before_state = Case.objects.get(number=number).state
        last = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with self.capture() as callbacks:
            response = act(client, number, action, **fields)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["state"] == after
        new = list(Event.objects.filter(id__gt=last).order_by("id"))
        mine = [e for e in new if e.kind == f"case.{action}"]
        assert len(mine) == 1, [e.kind for e in new]
        event = mine[0]
        assert event.actor.username == actor
        assert (event.before, event.after) == (before_state, after)
        assert event.reason == fields.get("reason", "")
        assert event.case.number == number
        # Besides the transition itself, only ledger lines and merges add events.
        assert all(
            e.kind.startswith("fund.") or e.kind == "case.report_merged"
            for e in new
            if e is not event
        )
        assert len(callbacks) == len(new)  # each new event is published after commit
        assert Case.objects.get(number=number).state == after
        return dict(body, _event=event)


@pytest.fixture
def step(django_capture_on_commit_callbacks: Any) -> Step:
    return Step(django_capture_on_commit_callbacks)


def _registered(api_client: ClientFor) -> str:
    """A government project without a builder: routing leaves it to a person."""
    return register(
        api_client("clerk_lianshi"),
        project={"name": "开发区标准厂房", "type": "government_investment"},
    )


def _housing_case(api_client: ClientFor, **overrides: Any) -> str:
    """A real-estate case in Lianshi: housing leads, the town assists."""
    return register(api_client("clerk_lianshi"), **overrides)


def _pass_advance_clock(number: str) -> None:
    Clock.objects.filter(case__number=number, kind="advance").update(
        due_at=timezone.now() - timedelta(minutes=1)
    )


# --- the closed loop ---------------------------------------------------------------------------


def test_closed_loop_from_dispatch_to_close(api_client: ClientFor, step: Step) -> None:
    command = api_client("command")
    liaison = api_client("liaison_housing")
    inspector = api_client("inspector")
    number = _registered(api_client)

    body = step(
        command, number, "dispatch", actor="command", after="dispatched", unit="housing",
        assisting_units=["lianshi"], reason="住建项目",
    )  # fmt: skip
    assert body["responsible_unit"] == "housing"
    assert body["assisting_units"] == ["lianshi"]
    assert body["deadlines"]["dispatch"]["status"] == "met"
    assert body["_event"].data["slip"] == f"ZB-{number}-1"

    before_accept = timezone.now()
    body = step(liaison, number, "accept", actor="liaison_housing", after="accepted")
    assert body["commitment_letter"] == f"CN-{number}"
    due = datetime.fromisoformat(body["deadlines"]["commitment"]["due_at"])
    accepted_day = timezone.localtime(before_accept).date()
    assert due.isoformat().endswith("+08:00")
    assert due.date() == accepted_day + timedelta(days=7)
    assert due.time().isoformat() == "23:59:59"
    assert body["deadlines"]["commitment"]["status"] == "running"

    step(
        liaison, number, "escalate_inspection", actor="liaison_housing", after="inspection",
        reason="责任主体无法化解",
    )  # fmt: skip
    step(
        inspector, number, "refer_sector", actor="inspector", after="sector_review",
        reason="涉嫌违法分包",
    )  # fmt: skip
    step(inspector, number, "convene_joint_meeting", actor="inspector", after="joint_meeting")

    confirmed_at = timezone.now()
    body = step(
        command, number, "confirm_facts", actor="command", after="facts_confirmed",
        amount="80000.00",
    )  # fmt: skip
    assert body["confirmed_amount"] == "80000.00"
    advance = body["deadlines"]["advance"]
    assert advance["status"] == "running"
    case = Case.objects.get(number=number)
    calendar = district_calendar(case.district_id, {confirmed_at.year, confirmed_at.year + 1})
    expected = workdays.advance_due(confirmed_at, 5, calendar, local_tz())
    assert datetime.fromisoformat(advance["due_at"]) == expected
    assert advance["due_at"].endswith("+08:00")

    _pass_advance_clock(number)
    balance = FundAccount.objects.get().balance
    body = step(
        command, number, "advance_payment", actor="command", after="advanced",
        amount="80000.00", reason="联席会议决定垫付",
    )  # fmt: skip
    assert body["_event"].data["override"] is False
    assert FundAccount.objects.get().balance == balance - Decimal("80000.00")
    assert body["fund_movements"][-1]["kind"] == "advance"
    assert body["fund_movements"][-1]["amount"] == "80000.00"
    assert body["deadlines"]["advance"]["status"] == "met"
    penalty = UnitPenalty.objects.get(case=case)
    assert (penalty.unit.code, penalty.points) == ("housing", Decimal("2"))

    body = step(
        liaison, number, "record_recovery", actor="liaison_housing", after="recovering",
        amount="30000.00", reason="追偿第一笔",
    )  # fmt: skip
    assert body["_event"].data["outstanding"] == "50000.00"
    body = step(
        liaison, number, "record_recovery", actor="liaison_housing", after="recovering",
        amount="50000.00", reason="追偿完毕",
    )  # fmt: skip
    assert body["_event"].data["outstanding"] == "0.00"
    assert FundAccount.objects.get().balance == balance

    body = step(command, number, "close", actor="command", after="closed")
    assert body["closed_at"].endswith("+08:00")
    assert [m["kind"] for m in body["fund_movements"]] == ["advance", "recovery", "recovery"]
    assert not Clock.objects.filter(case=case, status__in=["running", "overdue"]).exists()
    kinds = [e["kind"] for e in body["events"] if e["kind"].startswith("case.")]
    assert kinds == [
        "case.registered",
        "case.dispatch",
        "case.accept",
        "case.escalate_inspection",
        "case.refer_sector",
        "case.convene_joint_meeting",
        "case.confirm_facts",
        "case.advance_payment",
        "case.record_recovery",
        "case.record_recovery",
        "case.close",
    ]


def test_resolve_with_amount_then_close(api_client: ClientFor, step: Step) -> None:
    number = _housing_case(api_client)
    liaison = api_client("liaison_housing")
    step(liaison, number, "accept", actor="liaison_housing", after="accepted")

    body = step(
        liaison, number, "resolve", actor="liaison_housing", after="resolved",
        amount="86000.00", reason="企业已足额支付",
    )  # fmt: skip

    assert body["amount_paid"] == "86000.00"
    assert body["deadlines"]["commitment"]["status"] == "met"
    assert body["_event"].data["amount_paid"] == "86000.00"
    step(api_client("clerk_lianshi"), number, "close", actor="clerk_lianshi", after="closed")


def test_resolve_without_amount_is_422(api_client: ClientFor) -> None:
    number = _housing_case(api_client)
    liaison = api_client("liaison_housing")
    assert act(liaison, number, "accept").status_code == 200
    before = snapshot(number)

    body = assert_error(act(liaison, number, "resolve"), 422)

    assert "amount" in {e["field"] for e in body["errors"]}
    assert snapshot(number) == before


def test_reject_with_reason(api_client: ClientFor, step: Step) -> None:
    number = _registered(api_client)

    step(
        api_client("clerk_lianshi"), number, "reject", actor="clerk_lianshi", after="rejected",
        reason="不属于欠薪事项",
    )  # fmt: skip

    case = Case.objects.get(number=number)
    assert not Clock.objects.filter(case=case, status__in=["running", "overdue"]).exists()
    assert Clock.objects.get(case=case, kind="dispatch").status == "cancelled"


def test_refer_police_with_reason(api_client: ClientFor, step: Step) -> None:
    number = _housing_case(api_client)
    assert act(api_client("liaison_housing"), number, "accept").status_code == 200

    body = step(
        api_client("inspector"), number, "refer_police", actor="inspector",
        after="referred_police", reason="转移财产逃避支付",
    )  # fmt: skip

    assert body["deadlines"]["commitment"]["status"] == "cancelled"


def test_merge_into_another_case_moves_its_reports(api_client: ClientFor, step: Step) -> None:
    target = _housing_case(api_client)
    duplicate = _registered(api_client)

    body = step(
        api_client("command"), duplicate, "merge", actor="command", after="merged",
        into=target, reason="同一欠薪事项",
    )  # fmt: skip

    assert body["_event"].data["into"] == target
    assert Case.objects.get(number=duplicate).merged_into.number == target
    assert Report.objects.filter(case__number=target).count() == 2
    assert Report.objects.filter(case__number=duplicate).count() == 0
    merged = Event.objects.get(case__number=target, kind="case.report_merged")
    assert merged.data["from_case"] == duplicate


@pytest.mark.parametrize("into", [None, "NX-2026-999999", "self"])
def test_merge_needs_another_known_case(api_client: ClientFor, into: str | None) -> None:
    number = _registered(api_client)
    before = snapshot(number)
    fields: dict[str, Any] = {"reason": "重复"}
    if into is not None:
        fields["into"] = number if into == "self" else into

    assert_error(act(api_client("command"), number, "merge", **fields), 422)

    assert snapshot(number) == before


def test_redispatch_issues_a_new_slip(api_client: ClientFor, step: Step) -> None:
    number = _housing_case(api_client)

    body = step(
        api_client("command"), number, "dispatch", actor="command", after="dispatched",
        unit="lianshi", reason="改由属地处理",
    )  # fmt: skip

    assert body["responsible_unit"] == "lianshi"
    assert [s["number"] for s in body["dispatch_slips"]] == [
        f"ZB-{number}-1",
        f"ZB-{number}-2",
    ]
    assert body["_event"].data["previous_unit"] == "housing"


def test_dispatch_to_unknown_unit_is_422(api_client: ClientFor) -> None:
    number = _registered(api_client)
    before = snapshot(number)
    body = assert_error(act(api_client("command"), number, "dispatch", unit="nowhere"), 422)
    assert "unit" in {e["field"] for e in body["errors"]}
    assert snapshot(number) == before


# --- refusals change nothing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("close", {}),
        ("advance_payment", {"amount": "100.00", "override": True, "reason": "x"}),
        ("record_recovery", {"amount": "100.00"}),
        ("confirm_facts", {}),
        ("convene_joint_meeting", {}),
        ("refer_sector", {"reason": "x"}),
        ("resolve", {"amount": "1.00"}),
    ],
)
def test_illegal_transition_is_409_and_changes_nothing(
    api_client: ClientFor, action: str, fields: dict[str, Any]
) -> None:
    number = _housing_case(api_client)  # dispatched
    before = snapshot(number)
    command = api_client("command")

    body = assert_error(act(command, number, action, **fields), 409)
    english = assert_error(act_en(command, number, action, **fields), 409)

    # The reason names the action and the state, in the reader's language.
    for language, answer in (("zh-hans", body), ("en", english)):
        action_label, state_label = labels(language, action, "dispatched")
        assert action_label in answer["detail"], answer
        assert state_label in answer["detail"], answer
    assert snapshot(number) == before


def test_action_on_a_closed_case_is_409(api_client: ClientFor) -> None:
    number = _registered(api_client)
    assert act(api_client("command"), number, "reject", reason="不属于欠薪").status_code == 200
    before = snapshot(number)
    assert_error(act(api_client("command"), number, "dispatch", unit="housing"), 409)
    assert snapshot(number) == before


@pytest.mark.parametrize(
    ("action", "setup"),
    [
        ("reject", []),
        ("escalate_inspection", ["accept"]),
        ("refer_police", ["accept"]),
        ("merge", []),
    ],
)
def test_missing_reason_is_422_and_changes_nothing(
    api_client: ClientFor, action: str, setup: list[str]
) -> None:
    number = _housing_case(api_client)
    command = api_client("command")
    for earlier in setup:
        assert act(command, number, earlier).status_code == 200
    other = _registered(api_client)
    before = snapshot(number)

    extra = {"into": other} if action == "merge" else {}
    body = assert_error(act(command, number, action, reason="   ", **extra), 422)

    assert {e["field"] for e in body["errors"]} == {"reason"}
    assert snapshot(number) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "teleport"},
        {"action": "accept", "override": "yes"},
        {"action": "resolve", "amount": "-1"},
        {"action": "resolve", "amount": "1.001"},
        {"action": "accept", "colour": "red"},
        {},
    ],
)
def test_bad_transition_body_is_422(api_client: ClientFor, payload: dict[str, Any]) -> None:
    number = _housing_case(api_client)
    before = snapshot(number)
    response = post(api_client("command"), f"{URL}/{number}/transitions", payload)
    assert_error(response, 422)
    assert snapshot(number) == before


def test_stale_expected_revision_is_409(api_client: ClientFor) -> None:
    number = _housing_case(api_client)
    revision = Case.objects.get(number=number).revision
    before = snapshot(number)
    response = act(api_client("liaison_housing"), number, "accept", expected_revision=revision - 1)
    assert_error(response, 409)
    assert snapshot(number) == before
    ok = act(api_client("liaison_housing"), number, "accept", expected_revision=revision)
    assert ok.status_code == 200


# --- advance payment: clock, override, fund, penalty ----------------------------------------------


@pytest.fixture
def facts_confirmed(api_client: ClientFor) -> str:
    """A housing case whose facts (80,000 yuan) the joint meeting has just confirmed."""
    number = _housing_case(api_client)
    liaison, command = api_client("liaison_housing"), api_client("command")
    for client, action, fields in [
        (liaison, "accept", {}),
        (liaison, "escalate_inspection", {"reason": "无法化解"}),
        (command, "convene_joint_meeting", {}),
        (command, "confirm_facts", {"amount": "80000.00"}),
    ]:
        response = act(client, number, action, **fields)
        assert response.status_code == 200, response.content
    return number


def test_liaison_may_not_advance_payment(api_client: ClientFor, facts_confirmed: str) -> None:
    before = snapshot(facts_confirmed)
    response = act(
        api_client("liaison_housing"), facts_confirmed, "advance_payment", amount="80000.00",
        override=True, reason="急",
    )  # fmt: skip
    assert_error(response, 403)
    assert snapshot(facts_confirmed) == before


def test_advance_before_the_clock_without_override_is_409(
    api_client: ClientFor, facts_confirmed: str
) -> None:
    before = snapshot(facts_confirmed)
    response = act_en(
        api_client("command"), facts_confirmed, "advance_payment", amount="80000.00",
        reason="想提前",
    )  # fmt: skip
    body = assert_error(response, 409)
    assert "override" in body["detail"]
    assert snapshot(facts_confirmed) == before


def test_advance_before_the_clock_with_override_but_no_reason_is_refused(
    api_client: ClientFor, facts_confirmed: str
) -> None:
    before = snapshot(facts_confirmed)
    response = act(
        api_client("command"), facts_confirmed, "advance_payment", amount="80000.00",
        override=True,
    )  # fmt: skip
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert snapshot(facts_confirmed) == before


def test_command_override_with_reason_advances_early_and_records_it(
    api_client: ClientFor, facts_confirmed: str, step: Step
) -> None:
    body = step(
        api_client("command"), facts_confirmed, "advance_payment", actor="command",
        after="advanced", amount="80000.00", override=True, reason="春节前维稳,提前垫付",
    )  # fmt: skip

    event = body["_event"]
    assert event.data["override"] is True
    assert event.data["amount"] == "80000.00"
    assert event.reason == "春节前维稳,提前垫付"
    assert UnitPenalty.objects.filter(case__number=facts_confirmed).count() == 1


def test_advance_is_refused_when_the_fund_is_short(
    api_client: ClientFor, facts_confirmed: str
) -> None:
    _pass_advance_clock(facts_confirmed)
    FundAccount.objects.update(balance=Decimal("79999.99"))
    before = snapshot(facts_confirmed)

    response = act_en(
        api_client("command"), facts_confirmed, "advance_payment", amount="80000.00",
        reason="垫付",
    )  # fmt: skip

    body = assert_error(response, 409)
    assert "balance" in body["detail"]
    assert snapshot(facts_confirmed) == before
    assert FundAccount.objects.get().balance == Decimal("79999.99")


def test_each_advance_costs_the_responsible_unit_two_points(
    api_client: ClientFor, facts_confirmed: str
) -> None:
    _pass_advance_clock(facts_confirmed)
    response = act(
        api_client("command"), facts_confirmed, "advance_payment", amount="50000.00",
        reason="垫付",
    )  # fmt: skip
    assert response.status_code == 200, response.content

    penalties = UnitPenalty.objects.filter(case__number=facts_confirmed)
    assert [(p.unit.code, p.points) for p in penalties] == [("housing", Decimal("2"))]
    entry = FundEntry.objects.get(case__number=facts_confirmed)
    assert (entry.kind, entry.amount, entry.unit.code) == ("advance", Decimal("50000"), "housing")


def test_advance_over_the_confirmed_amount_is_422(
    api_client: ClientFor, facts_confirmed: str
) -> None:
    _pass_advance_clock(facts_confirmed)
    before = snapshot(facts_confirmed)
    response = act(
        api_client("command"), facts_confirmed, "advance_payment", amount="80000.01",
        reason="垫付",
    )  # fmt: skip
    assert_error(response, 422)
    assert snapshot(facts_confirmed) == before


@pytest.fixture
def advanced(api_client: ClientFor, facts_confirmed: str) -> str:
    _pass_advance_clock(facts_confirmed)
    response = act(
        api_client("command"), facts_confirmed, "advance_payment", amount="80000.00",
        reason="垫付",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return facts_confirmed


def test_recovery_over_what_is_outstanding_is_422(api_client: ClientFor, advanced: str) -> None:
    before = snapshot(advanced)
    response = act(
        api_client("liaison_housing"), advanced, "record_recovery", amount="80000.01",
        reason="追偿",
    )  # fmt: skip
    body = assert_error(response, 422)
    assert "amount" in {e["field"] for e in body["errors"]}
    assert snapshot(advanced) == before


def test_close_with_an_advance_not_recovered_is_409(api_client: ClientFor, advanced: str) -> None:
    liaison = api_client("liaison_housing")
    response = act(liaison, advanced, "record_recovery", amount="79999.99", reason="追偿")
    assert response.status_code == 200
    before = snapshot(advanced)

    body = assert_error(act_en(api_client("command"), advanced, "close"), 409)

    assert "0.01" in body["detail"]
    assert "not recovered" in body["detail"]
    assert snapshot(advanced) == before
    response = act(liaison, advanced, "record_recovery", amount="0.01", reason="追偿完毕")
    assert response.status_code == 200
    assert act(api_client("command"), advanced, "close").status_code == 200


def test_bulk_dispatch_acts_on_each_case_on_its_own(api_client: ClientFor) -> None:
    first, second = _registered(api_client), _registered(api_client)
    already = _housing_case(api_client)  # dispatched: dispatch again is a reassignment
    rejected = _registered(api_client)
    assert act(api_client("command"), rejected, "reject", reason="不属于欠薪").status_code == 200

    response = post(
        api_client("command"),
        f"{URL}/bulk-transitions",
        {
            "action": "dispatch",
            "unit": "lianshi",
            "reason": "属地",
            "case_numbers": [first, second, already, rejected, "NX-2026-999999"],
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["done"] == [first, second, already]
    assert [r["case_number"] for r in body["refused"]] == [rejected, "NX-2026-999999"]
    states = dict(Case.objects.values_list("number", "state"))
    assert states[first] == states[second] == states[already] == "dispatched"
    assert states[rejected] == "rejected"
    assert Event.objects.filter(kind="case.dispatch").count() == 3
