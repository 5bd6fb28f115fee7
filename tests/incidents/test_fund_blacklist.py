"""The petition special account (a ledger with a balance per unit) and the blacklist."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from incidents.domain.lifecycle import Action
from incidents.models import BlacklistEntry, Event, FundAccount, FundEntry, Membership
from incidents.policy import Actor
from incidents.services import (
    Intake,
    ProjectInput,
    TransitionInput,
    case_register,
    case_transition,
)
from tests.factories import credit_code, id_number, intake_payload

ClientFor = Callable[[str], Client]
ActorFor = Callable[[str], Actor]
OPENING = Decimal("5000000.00")


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return body


# --- the fund ledger ----------------------------------------------------------------------------


def advanced_case(actor: ActorFor, *, project: ProjectInput, town: str, amount: Decimal) -> str:
    """Walk a case through the closed loop to an advance of `amount`, with `now=` times."""
    start = timezone.now() - timedelta(days=60)
    command = actor("command")
    case = case_register(
        actor=actor("clerk_lianshi"),
        intake=Intake(
            channel="window",
            window="lianshi",
            received_at=start,
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=5,
            amount_owed=amount,
            employer_name="湖州恒丰建设有限公司",
            employer_credit_code=credit_code(),
            town=town,
            project=project,
        ),
        now=start,
    ).case
    steps = [
        (Action.ACCEPT, {}),
        (Action.ESCALATE_INSPECTION, {"reason": "无法化解"}),
        (Action.CONVENE_JOINT_MEETING, {}),
        (Action.CONFIRM_FACTS, {"amount": amount}),
    ]
    at = start
    for action, fields in steps:
        at += timedelta(days=1)
        case_transition(
            actor=command,
            case_number=case.number,
            change=TransitionInput(action=action, **fields),
            now=at,
        )
    # 30 days later the 5-working-day clock has passed, whatever the holidays.
    case_transition(
        actor=command,
        case_number=case.number,
        change=TransitionInput(action=Action.ADVANCE_PAYMENT, amount=amount, reason="垫付"),
        now=at + timedelta(days=30),
    )
    return case.number


def recover(actor: ActorFor, number: str, amount: Decimal) -> None:
    case_transition(
        actor=actor("command"),
        case_number=number,
        change=TransitionInput(action=Action.RECORD_RECOVERY, amount=amount, reason="追偿"),
    )


def test_fund_shows_opening_balance(api_client: ClientFor) -> None:
    body = api_client("command").get("/api/v1/fund").json()
    assert body == {"balance": "5000000.00", "units": []}


def test_fund_ledger_gives_balance_and_outstanding_per_unit(
    api_client: ClientFor, actor: ActorFor
) -> None:
    housing = advanced_case(
        actor, project=ProjectInput("孔雀城", "real_estate"), town="lianshi",  # type: ignore[arg-type]
        amount=Decimal("80000.00"),
    )  # fmt: skip
    advanced_case(
        actor, project=ProjectInput("练市大桥", "transport"), town="lianshi",  # type: ignore[arg-type]
        amount=Decimal("20000.50"),
    )  # fmt: skip
    recover(actor, housing, Decimal("30000.00"))

    body = api_client("command").get("/api/v1/fund").json()

    assert body["balance"] == "4929999.50"
    assert body["units"] == [
        {"unit": "housing", "advanced": "80000.00", "recovered": "30000.00",
         "outstanding": "50000.00"},
        {"unit": "transport", "advanced": "20000.50", "recovered": "0.00",
         "outstanding": "20000.50"},
    ]  # fmt: skip
    ledger = list(FundEntry.objects.order_by("id").values_list("kind", "amount", "balance_after"))
    assert ledger == [
        ("deposit", OPENING, OPENING),
        ("advance", Decimal("80000.00"), Decimal("4920000.00")),
        ("advance", Decimal("20000.50"), Decimal("4899999.50")),
        ("recovery", Decimal("30000.00"), Decimal("4929999.50")),
    ]
    assert FundAccount.objects.get().balance == Decimal("4929999.50")
    assert api_client("reviewer").get("/api/v1/fund").json() == body


def test_every_fund_movement_is_an_event(actor: ActorFor) -> None:
    number = advanced_case(
        actor, project=ProjectInput("孔雀城", "real_estate"), town="lianshi",  # type: ignore[arg-type]
        amount=Decimal("1000.00"),
    )  # fmt: skip
    recover(actor, number, Decimal("1000.00"))
    kinds = [(e.kind, e.data["amount"]) for e in Event.objects.filter(kind__startswith="fund.")]
    assert kinds == [
        ("fund.deposit", "5000000.00"),
        ("fund.advance", "1000.00"),
        ("fund.recovery", "1000.00"),
    ]


# --- the blacklist --------------------------------------------------------------------------------


@pytest.fixture
def employer(api_client: ClientFor) -> dict[str, Any]:
    """An employer with one open case."""
    payload = intake_payload()
    response = post(api_client("clerk_lianshi"), "/api/v1/cases", payload)
    assert response.status_code == 201, response.content
    return {**payload["employer"], "case_number": response.json()["case_number"]}


def listing(employer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "reason": "恶意欠薪,转移财产",
        "credit_code": employer["credit_code"],
        "case_numbers": [employer["case_number"]],
        **extra,
    }


@pytest.mark.parametrize("username", ["command", "inspector"])
def test_command_and_inspector_may_blacklist(
    api_client: ClientFor, employer: dict[str, Any], username: str
) -> None:
    response = post(api_client(username), "/api/v1/blacklist", listing(employer))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "listed"
    assert body["enterprise"]["credit_code"] == employer["credit_code"]
    assert body["cases"] == [employer["case_number"]]
    assert body["listed_by"] == username
    assert body["listed_at"].endswith("+08:00")
    event = Event.objects.get(kind="blacklist.listed")
    assert event.actor.username == username
    assert event.reason == "恶意欠薪,转移财产"
    assert event.data["cases"] == [employer["case_number"]]


@pytest.mark.parametrize(
    "username", ["clerk_lianshi", "liaison_housing", "reviewer", "gateway_110"]
)
def test_other_roles_may_not_blacklist(
    api_client: ClientFor, employer: dict[str, Any], username: str
) -> None:
    events = Event.objects.count()
    assert_error(post(api_client(username), "/api/v1/blacklist", listing(employer)), 403)
    assert not BlacklistEntry.objects.exists()
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"reason": ""}, 422),
        ({"reason": "x"}, 422),  # neither employer nor person
        ({"reason": "x", "credit_code": "91330503MA0000000X"}, 422),  # not a known employer
        ({"reason": "x", "person_name": "张三", "person_id_number": "330503198513121234"}, 422),
        ({"reason": "x", "person_name": "张三", "colour": "red"}, 422),
    ],
)
def test_bad_blacklist_requests_store_nothing(
    api_client: ClientFor, district: Any, body: dict[str, Any], status: int
) -> None:
    events = Event.objects.count()
    assert_error(post(api_client("command"), "/api/v1/blacklist", body), status)
    assert not BlacklistEntry.objects.exists()
    assert Event.objects.count() == events


def test_blacklist_a_responsible_person(api_client: ClientFor, district: Any) -> None:
    number = id_number(seq=456)
    response = post(
        api_client("command"),
        "/api/v1/blacklist",
        {"reason": "拒不支付", "person_name": "张三", "person_id_number": number},
    )
    assert response.status_code == 201, response.content
    listed = api_client("reviewer").get("/api/v1/blacklist").json()["results"]
    assert listed[0]["person"]["name"] == "张三"
    assert listed[0]["person"]["id_number"] != number  # masked for a reviewer
    full = api_client("command").get("/api/v1/blacklist").json()["results"]
    assert full[0]["person"]["id_number"] == number


def test_appeal_is_recorded_as_an_event(api_client: ClientFor, employer: dict[str, Any]) -> None:
    entry = post(api_client("inspector"), "/api/v1/blacklist", listing(employer)).json()

    response = post(
        api_client("clerk_lianshi"), f"/api/v1/blacklist/{entry['id']}/appeal",
        {"reason": "已全额支付"},
    )  # fmt: skip

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "appealed"
    assert response.json()["appeal_reason"] == "已全额支付"
    event = Event.objects.get(kind="blacklist.appealed")
    assert (event.before, event.after) == ("listed", "appealed")
    assert event.actor.username == "clerk_lianshi"
    # An appealed entry is still in force.
    again = post(
        api_client("clerk_lianshi"), f"/api/v1/blacklist/{entry['id']}/appeal", {"reason": "再次"}
    )
    assert_error(again, 409)


@pytest.fixture
def second_commander(district: Any) -> Client:
    user = User.objects.create_user("command_2", password="x")
    user.groups.add(Group.objects.get(name="command"))
    Membership.objects.create(user=user, district=district)
    client = Client()
    client.force_login(user)
    return client


def test_the_person_who_listed_may_not_remove(
    api_client: ClientFor, employer: dict[str, Any]
) -> None:
    command = api_client("command")
    entry = post(command, "/api/v1/blacklist", listing(employer)).json()
    events = Event.objects.count()

    response = post(command, f"/api/v1/blacklist/{entry['id']}/remove", {"reason": "已整改"})

    assert_error(response, 403)
    assert BlacklistEntry.objects.get().status == "listed"
    assert Event.objects.count() == events


def test_a_different_commander_removes_with_an_event(
    api_client: ClientFor, employer: dict[str, Any], second_commander: Client
) -> None:
    entry = post(api_client("command"), "/api/v1/blacklist", listing(employer)).json()

    response = post(
        second_commander, f"/api/v1/blacklist/{entry['id']}/remove", {"reason": "已整改"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["removed_by"]) == ("removed", "command_2")
    assert body["removed_at"].endswith("+08:00")
    event = Event.objects.get(kind="blacklist.removed")
    assert (event.actor.username, event.reason) == ("command_2", "已整改")
    assert_error(
        post(second_commander, f"/api/v1/blacklist/{entry['id']}/remove", {"reason": "x"}), 409
    )


def test_only_command_staff_remove(api_client: ClientFor, employer: dict[str, Any]) -> None:
    entry = post(api_client("command"), "/api/v1/blacklist", listing(employer)).json()
    for username in ("inspector", "clerk_lianshi", "reviewer"):
        response = post(
            api_client(username), f"/api/v1/blacklist/{entry['id']}/remove", {"reason": "x"}
        )
        assert_error(response, 403)
    assert BlacklistEntry.objects.get().status == "listed"


def test_remove_without_reason_is_422(
    api_client: ClientFor, employer: dict[str, Any], second_commander: Client
) -> None:
    entry = post(api_client("command"), "/api/v1/blacklist", listing(employer)).json()
    response = post(second_commander, f"/api/v1/blacklist/{entry['id']}/remove", {"reason": ""})
    assert_error(response, 422)
    assert BlacklistEntry.objects.get().status == "listed"


def test_unknown_entry_is_404(api_client: ClientFor, district: Any) -> None:
    response = post(api_client("command"), "/api/v1/blacklist/999999/appeal", {"reason": "x"})
    assert_error(response, 404)


def test_intake_shows_a_blacklisted_employer(
    api_client: ClientFor, employer: dict[str, Any], second_commander: Client
) -> None:
    entry = post(api_client("command"), "/api/v1/blacklist", listing(employer)).json()
    clerk = api_client("clerk_lianshi")
    employer_body = {"name": employer["name"], "credit_code": employer["credit_code"]}

    other_project = post(
        clerk,
        "/api/v1/cases",
        intake_payload(employer=employer_body, project={"name": "另一工地", "type": "water"}),
    )
    assert other_project.status_code == 201, other_project.content
    standing = other_project.json()["employer"]
    assert standing["blacklisted"] is True
    assert standing["blacklist"][0]["reason"] == "恶意欠薪,转移财产"
    assert standing["open_cases"] == [employer["case_number"]]

    merged = post(clerk, "/api/v1/cases", intake_payload(employer=employer_body))
    assert merged.status_code == 200
    assert merged.json()["employer"]["blacklisted"] is True

    # Under appeal it is still listed; once removed it is not.
    post(clerk, f"/api/v1/blacklist/{entry['id']}/appeal", {"reason": "申诉"})
    again = post(clerk, "/api/v1/cases", intake_payload(employer=employer_body))
    assert again.json()["employer"]["blacklisted"] is True
    post(second_commander, f"/api/v1/blacklist/{entry['id']}/remove", {"reason": "已整改"})
    cleared = post(clerk, "/api/v1/cases", intake_payload(employer=employer_body))
    assert cleared.json()["employer"]["blacklisted"] is False
