"""Races between real database connections (threads), on SQLite and on PostgreSQL.

Each thread opens its own connection and closes it when done; the tests commit, so they
run with `transaction=True`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.domain.lifecycle import Action
from incidents.errors import Conflict
from incidents.models import Case, CaseCounter, FundAccount, FundEntry, Report, UnitPenalty
from incidents.policy import Actor
from incidents.services import (
    Intake,
    ProjectInput,
    TransitionInput,
    case_register,
    case_transition,
)
from tests.factories import credit_code, intake_payload

pytestmark = pytest.mark.django_db(transaction=True)

ActorFor = Callable[[str], Actor]
T = TypeVar("T")


def race(jobs: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run `jobs` in threads released together; return each result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[T | BaseException | None] = [None] * len(jobs)

    def run(i: int, job: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = job()
        except BaseException as exc:  # the main thread asserts on it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return results  # type: ignore[return-value]


def intake(code: str, *, channel: str = "window", name: str = "王建国") -> Intake:
    return Intake(
        channel=channel,
        window="lianshi" if channel == "window" else None,
        complainant_name=name,
        complainant_phone="13812345678",
        workers_count=4,
        amount_owed=Decimal("12000.00"),
        employer_name="湖州宏达建筑劳务有限公司",
        employer_credit_code=code,
        town="lianshi",
        project=ProjectInput("练市新城", "real_estate"),  # type: ignore[arg-type]
    )


def test_two_reports_for_one_employer_at_once_make_one_case(district: Any, actor: ActorFor) -> None:
    code = credit_code()
    clerk, command = actor("clerk_lianshi"), actor("command")

    results = race(
        [
            lambda: case_register(actor=clerk, intake=intake(code, name="王建国")),
            lambda: case_register(
                actor=command, intake=intake(code, channel="police_110", name="李海峰")
            ),
        ]
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert sorted(r.merged for r in results) == [False, True]  # type: ignore[union-attr]
    case = Case.objects.get(employer__credit_code=code)
    assert sorted(Report.objects.filter(case=case).values_list("complainant_name", flat=True)) == [
        "李海峰",
        "王建国",
    ]
    assert Case.objects.count() == 1


def test_concurrent_case_numbers_are_unique(district: Any, actor: ActorFor) -> None:
    clerk = actor("clerk_lianshi")
    codes = [credit_code() for _ in range(6)]

    results = race(
        [lambda code=code: case_register(actor=clerk, intake=intake(code)) for code in codes]
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    numbers = sorted(Case.objects.values_list("number", flat=True))
    year = timezone.localtime().year
    assert numbers == [f"NX-{year}-{i:06d}" for i in range(1, 7)]
    assert CaseCounter.objects.get(year=year).last == 6


def _facts_confirmed(actor: ActorFor, amount: Decimal) -> str:
    """A housing case whose facts were confirmed 40 days ago (the advance clock has passed)."""
    command = actor("command")
    start = timezone.now() - timedelta(days=45)
    case = case_register(actor=actor("clerk_lianshi"), intake=intake(credit_code()), now=start).case
    at = start
    for action, fields in [
        (Action.ACCEPT, {}),
        (Action.ESCALATE_INSPECTION, {"reason": "无法化解"}),
        (Action.CONVENE_JOINT_MEETING, {}),
        (Action.CONFIRM_FACTS, {"amount": amount}),
    ]:
        at += timedelta(days=1)
        case_transition(
            actor=command,
            case_number=case.number,
            change=TransitionInput(action=action, **fields),
            now=at,
        )
    return case.number


def test_concurrent_advances_never_overdraw_the_fund(district: Any, actor: ActorFor) -> None:
    first = _facts_confirmed(actor, Decimal("60000.00"))
    second = _facts_confirmed(actor, Decimal("60000.00"))
    FundAccount.objects.update(balance=Decimal("100000.00"))
    command = actor("command")

    def advance(number: str) -> Case:
        return case_transition(
            actor=command,
            case_number=number,
            change=TransitionInput(
                action=Action.ADVANCE_PAYMENT, amount=Decimal("60000.00"), reason="垫付"
            ),
        )

    results = race([lambda: advance(first), lambda: advance(second)])

    done = [r for r in results if isinstance(r, Case)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(done) == 1, results
    assert len(refused) == 1, results
    assert FundAccount.objects.get().balance == Decimal("40000.00")
    advances = FundEntry.objects.filter(kind="advance")
    assert [e.balance_after for e in advances] == [Decimal("40000.00")]
    states = dict(Case.objects.filter(number__in=[first, second]).values_list("number", "state"))
    assert sorted(states.values()) == ["advanced", "facts_confirmed"]
    # The refused advance left no penalty and no ledger line behind.
    assert UnitPenalty.objects.count() == 1


def test_many_concurrent_advances_keep_the_balance_non_negative(
    district: Any, actor: ActorFor
) -> None:
    numbers = [_facts_confirmed(actor, Decimal("30000.00")) for _ in range(4)]
    FundAccount.objects.update(balance=Decimal("70000.00"))
    command = actor("command")

    results = race(
        [
            lambda n=n: case_transition(
                actor=command,
                case_number=n,
                change=TransitionInput(
                    action=Action.ADVANCE_PAYMENT, amount=Decimal("30000.00"), reason="垫付"
                ),
            )
            for n in numbers
        ]
    )

    done = [r for r in results if isinstance(r, Case)]
    assert len(done) == 2, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Case))
    assert FundAccount.objects.get().balance == Decimal("10000.00")
    assert FundEntry.objects.filter(kind="advance").count() == 2


def test_concurrent_retries_with_one_idempotency_key_store_one_report(district: Any) -> None:
    user = User.objects.get(username="clerk_lianshi")
    body = json.dumps(intake_payload())

    def send() -> tuple[int, Any]:
        client = Client()
        client.force_login(user)
        response = client.post(
            "/api/v1/cases", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        return response.status_code, response.json()

    results = race([send, send, send])

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert {r[0] for r in results} == {201}, results  # type: ignore[index]
    assert len({r[1]["case_number"] for r in results}) == 1  # type: ignore[index]
    assert Case.objects.count() == 1
    assert Report.objects.count() == 1
