"""Random sequences of lifecycle actions, by random people, keep the case hub consistent.

Each example registers a fresh case (and a spare open case to merge into), then applies up
to 12 actions drawn mostly from those the table allows, by people of every role, with
parameters good and bad, while the clock moves forward. After every step:

- the case's state is the table's answer to the actions that succeeded;
- a successful action wrote exactly one `case.<action>` event with the right before/after;
- a refused action changed nothing (state, revision, events, fund, clocks, slips);
- the petition account never goes negative and equals the opening balance minus advances
  plus recoveries;
- a case has at most one live (running or overdue) clock of each kind, none once terminal.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from incidents.demo import FUND_OPENING_BALANCE
from incidents.domain.lifecycle import (
    REASON_REQUIRED,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    CaseState,
    allowed_actions,
    role_may,
)
from incidents.domain.routing import ProjectType
from incidents.errors import ServiceError
from incidents.models import Case, Clock, DispatchSlip, District, Event, FundAccount, FundEntry
from incidents.policy import Actor
from incidents.services import (
    Intake,
    ProjectInput,
    TransitionInput,
    case_register,
    case_transition,
    clocks_sweep,
)
from tests.factories import credit_code

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday a few days before National Day, so the working-day clock crosses the holiday.
START = datetime(2026, 9, 21, 9, 30, tzinfo=SHANGHAI)
USERNAMES = [
    "command",
    "clerk_lianshi",
    "liaison_housing",
    "liaison_lianshi",
    "inspector",
    "reviewer",
    "gateway_110",
]
AMOUNTS = [None, Decimal("0"), Decimal("-5"), Decimal("500"), Decimal("20000"), Decimal("86000")]
UNITS = [None, "housing", "lianshi", "transport", "no_such_unit"]
REASONS = ["", "   ", "事实清楚，金额明确"]
STEP_HOURS = [0, 1, 20, 72, 24 * 9]
LIVE = [Clock.Status.RUNNING, Clock.Status.OVERDUE]


def reachable_from(start: CaseState) -> set[CaseState]:
    seen, queue = {start}, deque([start])
    while queue:
        state = queue.popleft()
        for action in allowed_actions(state):
            target = TRANSITIONS[(state, action)]
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


REACHABLE = reachable_from(CaseState.REGISTERED)


@dataclass(frozen=True)
class Snapshot:
    state: str
    revision: int
    events: int
    fund_entries: int
    clocks: frozenset[tuple[int, str]]
    slips: int
    balance: Decimal


def snapshot(case: Case) -> Snapshot:
    case.refresh_from_db()
    return Snapshot(
        state=case.state,
        revision=case.revision,
        events=Event.objects.count(),
        fund_entries=FundEntry.objects.count(),
        clocks=frozenset(Clock.objects.filter(case=case).values_list("id", "status")),
        slips=DispatchSlip.objects.filter(case=case).count(),
        balance=FundAccount.objects.get(district_id=case.district_id).balance,
    )


def fund_total(kind: str, **filters: Any) -> Decimal:
    total = FundEntry.objects.filter(kind=kind, **filters).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0")


def check_fund(district: District) -> None:
    account = FundAccount.objects.get(district=district)
    assert account.balance >= 0
    assert fund_total(FundEntry.Kind.DEPOSIT) == FUND_OPENING_BALANCE
    assert account.balance == (
        FUND_OPENING_BALANCE
        - fund_total(FundEntry.Kind.ADVANCE)
        + fund_total(FundEntry.Kind.RECOVERY)
    )
    last = FundEntry.objects.filter(account=account).order_by("-id").first()
    assert last is not None
    assert last.balance_after == account.balance


def check_case(case: Case) -> None:
    state = CaseState(case.state)
    assert state in REACHABLE
    for kind in Clock.Kind.values:
        live = Clock.objects.filter(case=case, kind=kind, status__in=LIVE).count()
        assert live <= 1, (kind, live)
    if state in TERMINAL_STATES:
        assert not Clock.objects.filter(case=case, status__in=LIVE).exists()
    assert fund_total(FundEntry.Kind.RECOVERY, case=case) <= fund_total(
        FundEntry.Kind.ADVANCE, case=case
    )


def register(actor: Actor, *, project_type: ProjectType | None, now: datetime) -> Case:
    intake = Intake(
        channel="window",
        window="lianshi",
        complainant_name="王建国",
        complainant_phone="13812345678",
        workers_count=12,
        amount_owed=Decimal("86000.00"),
        employer_name="湖州宏达建筑劳务有限公司",
        employer_credit_code=credit_code(),
        town="lianshi",
        project=ProjectInput(name=f"练市{project_type}项目", type=project_type)
        if project_type
        else None,
    )
    result = case_register(actor=actor, intake=intake, now=now)
    assert not result.merged
    return result.case


# The action that takes a case one step further down the closed loop, drawn most often so
# that examples reach the joint meeting, the advance payment and the recovery.
A = Action
S = CaseState
DEEPER: dict[CaseState, list[Action]] = {
    S.REGISTERED: [A.DISPATCH],
    S.DISPATCHED: [A.ACCEPT],
    S.ACCEPTED: [A.ESCALATE_INSPECTION],
    S.INSPECTION: [A.CONVENE_JOINT_MEETING, A.REFER_SECTOR],
    S.SECTOR_REVIEW: [A.CONVENE_JOINT_MEETING],
    S.JOINT_MEETING: [A.CONFIRM_FACTS],
    S.FACTS_CONFIRMED: [A.ADVANCE_PAYMENT],
    S.ADVANCED: [A.RECORD_RECOVERY],
    S.RECOVERING: [A.RECORD_RECOVERY, A.CLOSE],
    S.RESOLVED: [A.CLOSE],
    S.REFERRED_POLICE: [A.CLOSE],
}


def weighted(draw: st.DrawFn, good: list[Any], anything: list[Any]) -> Any:
    """Mostly (5 in 6) a good value, sometimes any value, so that refusals happen too."""
    if good and draw(st.integers(0, 5)) < 5:
        return draw(st.sampled_from(good))
    return draw(st.sampled_from(anything))


@st.composite
def transition_inputs(draw: st.DrawFn, state: CaseState, own: str, spare: str) -> TransitionInput:
    roll = draw(st.integers(0, 19))
    if roll < 16 and state in DEEPER:
        action = draw(st.sampled_from(DEEPER[state]))
    elif roll < 19 and allowed_actions(state):
        action = draw(st.sampled_from(allowed_actions(state)))
    else:
        action = draw(st.sampled_from(list(Action)))
    return TransitionInput(
        action=action,
        reason=weighted(draw, [REASONS[-1]], REASONS),
        unit=weighted(draw, ["housing", "lianshi"], UNITS),
        assisting_units=tuple(draw(st.lists(st.sampled_from(["lianshi", "water"]), max_size=2))),
        amount=weighted(draw, [Decimal("500"), Decimal("20000"), Decimal("86000")], AMOUNTS),
        override=draw(st.booleans()),
        into=weighted(draw, [spare], [spare, own, None, "NX-1999-000001"]),
    )


@st.composite
def person_for(draw: st.DrawFn, action: Action, people: dict[str, Actor]) -> str:
    """Mostly someone whose role may take `action`, sometimes anyone."""
    able = [name for name, person in people.items() if role_may(person.roles, action)]
    name: str = weighted(draw, able, USERNAMES)
    return name


@settings(
    # LIFECYCLE_EXAMPLES=1000 for a longer hunt.
    max_examples=int(os.environ.get("LIFECYCLE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    project_type=st.sampled_from(
        # housing (the town assists), the town, the water bureau, nobody (a government
        # project without a builder stays registered), the town (no project)
        [
            ProjectType.REAL_ESTATE,
            ProjectType.OTHER_CONSTRUCTION,
            ProjectType.WATER,
            ProjectType.GOVERNMENT_INVESTMENT,
            None,
        ]
    ),
    steps=st.integers(min_value=0, max_value=12),
)
def test_random_action_sequences_keep_the_hub_consistent(
    district: District,
    actor: Callable[[str], Actor],
    data: st.DataObject,
    project_type: ProjectType | None,
    steps: int,
) -> None:
    people = {name: actor(name) for name in USERNAMES}
    now = START
    case = register(people["command"], project_type=project_type, now=now)
    spare = register(people["command"], project_type=None, now=now)
    assert case.employer_id != spare.employer_id
    check_case(case)
    check_fund(district)

    for _ in range(steps):
        now += timedelta(hours=data.draw(st.sampled_from(STEP_HOURS), label="hours"))
        if data.draw(st.integers(0, 19), label="sweep") == 0:
            clocks_sweep(now=now)
            check_case(case)
            check_fund(district)
            continue
        before = snapshot(case)
        state = CaseState(before.state)
        change = data.draw(transition_inputs(state, case.number, spare.number), label="change")
        person = people[data.draw(person_for(change.action, people), label="actor")]
        action_events = Event.objects.filter(case=case, kind=f"case.{change.action.value}")
        action_events_before = action_events.count()
        advance_clock = (
            Clock.objects.filter(case=case, kind=Clock.Kind.ADVANCE).order_by("id").last()
        )
        refusal: ServiceError | None = None
        try:
            case_transition(actor=person, case_number=case.number, change=change, now=now)
        except ServiceError as exc:
            refusal = exc
        if refusal is not None:
            event(f"refused {type(refusal).__name__}")
            assert snapshot(case) == before, (change, refusal.detail)
        else:
            event(f"{state} -{change.action.value}-> ok")
            after = snapshot(case)
            assert (state, change.action) in TRANSITIONS
            assert after.state == TRANSITIONS[(state, change.action)]
            assert after.revision == before.revision + 1
            assert role_may(person.roles, change.action)
            if change.action in REASON_REQUIRED:
                assert change.reason.strip()
            assert action_events.count() == action_events_before + 1
            written = action_events.order_by("-id").first()
            assert written is not None
            assert (written.before, written.after) == (state.value, after.state)
            assert written.actor_id == person.user_id
            moved = FundEntry.objects.filter(case=case).order_by("-id")[
                : after.fund_entries - before.fund_entries
            ]
            if change.action == Action.ADVANCE_PAYMENT:
                assert person.is_command
                assert advance_clock is not None
                if advance_clock.due_at >= now:
                    assert change.override
                    assert change.reason.strip()
                assert [(m.kind, m.amount) for m in moved] == [("advance", change.amount)]
                assert after.balance == before.balance - change.amount
            elif change.action == Action.RECORD_RECOVERY:
                assert [(m.kind, m.amount) for m in moved] == [("recovery", change.amount)]
                assert after.balance == before.balance + change.amount
            else:
                assert after.fund_entries == before.fund_entries
                assert after.balance == before.balance
        check_case(case)
        check_fund(district)
    event(f"ended in {case.state}")
