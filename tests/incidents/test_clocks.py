"""The clock sweep: passed clocks turn overdue once, with one event each, at a cost that
follows the clocks due rather than the cases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Case, Clock, Event
from incidents.policy import Actor
from incidents.services import Intake, ProjectInput, case_register, clocks_sweep
from incidents.services import clocks as clock_services
from tests.factories import credit_code

ActorFor = Callable[[str], Actor]


def intake(*, routed: bool, received_at: datetime | None = None) -> Intake:
    """A complaint that routing dispatches at once (routed) or leaves registered."""
    project = (
        ProjectInput("练市新城", "real_estate")  # type: ignore[arg-type]
        if routed
        else ProjectInput("开发区厂房", "government_investment")  # type: ignore[arg-type]
    )
    return Intake(
        channel="window",
        window="lianshi",
        received_at=received_at,
        complainant_name="王建国",
        complainant_phone="13812345678",
        workers_count=3,
        amount_owed=Decimal("9000.00"),
        employer_name="湖州宏达建筑劳务有限公司",
        employer_credit_code=credit_code(),
        town="lianshi",
        project=project,
    )


def registered_cases(actor: ActorFor, n: int) -> list[Case]:
    """`n` cases left for a person to route: each has a running dispatch clock."""
    clerk = actor("clerk_lianshi")
    return [case_register(actor=clerk, intake=intake(routed=False)).case for _ in range(n)]


def dispatch_clocks(cases: list[Case]) -> list[Clock]:
    return [Clock.objects.get(case=c, kind="dispatch") for c in cases]


def test_sweep_marks_passed_running_clocks_overdue_with_one_event_each(
    actor: ActorFor, django_capture_on_commit_callbacks: Any
) -> None:
    late = registered_cases(actor, 3)
    not_yet = registered_cases(actor, 2)
    now = timezone.now()
    Clock.objects.filter(case__in=late).update(due_at=now - timedelta(minutes=5))
    Clock.objects.filter(case__in=not_yet).update(due_at=now + timedelta(minutes=5))

    with django_capture_on_commit_callbacks() as callbacks:
        marked = clocks_sweep(now=now)

    assert marked == 3
    for clock in dispatch_clocks(late):
        assert clock.status == "overdue"
        assert clock.overdue_at == now
    assert {c.status for c in dispatch_clocks(not_yet)} == {"running"}
    events = list(Event.objects.filter(kind="clock.overdue"))
    assert sorted(e.case_id for e in events) == sorted(c.pk for c in late)
    for event in events:
        assert event.data["clock"] == "dispatch"
        assert event.actor is None
        assert event.at == now
        assert event.before == event.after == "registered"
    assert len(callbacks) == 3
    # The case itself does not change state: overdue is a clock's state.
    assert {c.state for c in Case.objects.filter(pk__in=[c.pk for c in late])} == {"registered"}


def test_clock_due_exactly_now_is_not_yet_overdue(actor: ActorFor) -> None:
    (case,) = registered_cases(actor, 1)
    clock = Clock.objects.get(case=case)
    assert clocks_sweep(now=clock.due_at) == 0
    assert clocks_sweep(now=clock.due_at + timedelta(seconds=1)) == 1


def test_sweep_ignores_met_and_cancelled_clocks(actor: ActorFor) -> None:
    clerk = actor("clerk_lianshi")
    dispatched = case_register(actor=clerk, intake=intake(routed=True)).case
    (cancelled,) = registered_cases(actor, 1)
    Clock.objects.filter(case=cancelled).update(status="cancelled")
    Clock.objects.update(due_at=timezone.now() - timedelta(days=1))

    assert clocks_sweep(now=timezone.now()) == 0
    assert Clock.objects.get(case=dispatched).status == "met"
    assert not Event.objects.filter(kind="clock.overdue").exists()


def test_second_sweep_marks_nothing(actor: ActorFor) -> None:
    registered_cases(actor, 3)
    later = timezone.now() + timedelta(days=30)
    assert clocks_sweep(now=later) == 3
    events = Event.objects.count()

    assert clocks_sweep(now=later) == 0
    assert clocks_sweep(now=later + timedelta(days=1)) == 0
    assert Event.objects.count() == events


def test_sweep_in_batches_marks_every_clock(actor: ActorFor) -> None:
    registered_cases(actor, 7)
    assert clocks_sweep(now=timezone.now() + timedelta(days=30), batch=3) == 7
    assert Clock.objects.filter(status="overdue").count() == 7


def test_overlapping_sweeps_claim_each_clock_once(
    actor: ActorFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second sweeper runs while the first is between its read and its claims: each clock
    is marked by exactly one of them (the claim is a conditional UPDATE)."""
    cases = registered_cases(actor, 3)
    now = timezone.now() + timedelta(days=30)
    real_record = clock_services.event_record
    results: list[int] = []

    def record_then_race(**kwargs: Any) -> Any:
        event = real_record(**kwargs)
        if not results:
            results.append(-1)  # run the rival once, after the first claim
            results.append(clocks_sweep(now=now))
        return event

    monkeypatch.setattr(clock_services, "event_record", record_then_race)
    first = clocks_sweep(now=now)

    second = results[1]
    assert first + second == 3
    assert (first, second) == (1, 2)
    assert Event.objects.filter(kind="clock.overdue").count() == 3
    for case in cases:
        assert Event.objects.filter(kind="clock.overdue", case=case).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_in_threads_mark_each_clock_once(district: Any, actor: ActorFor) -> None:
    registered_cases(actor, 6)
    now = timezone.now() + timedelta(days=30)
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(clocks_sweep(now=now, batch=2))
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not errors, errors
    assert sum(counts) == 6
    assert Clock.objects.filter(status="overdue").count() == 6
    events = list(Event.objects.filter(kind="clock.overdue").values_list("case_id", flat=True))
    assert len(events) == len(set(events)) == 6


def _sweep_queries(now: datetime) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        marked = clocks_sweep(now=now)
    return marked, len(ctx.captured_queries)


def test_sweep_cost_follows_the_clocks_due_not_the_cases(actor: ActorFor) -> None:
    clerk = actor("clerk_lianshi")
    for _ in range(50):
        case_register(actor=clerk, intake=intake(routed=True))  # dispatch clock met
    later = timezone.now() + timedelta(days=30)
    registered_cases(actor, 3)
    assert Case.objects.count() == 53

    marked, queries_for_3 = _sweep_queries(later)
    assert marked == 3

    registered_cases(actor, 6)
    marked, queries_for_6 = _sweep_queries(later)
    assert marked == 6

    per_clock = (queries_for_6 - queries_for_3) / 3
    fixed = queries_for_3 - 3 * per_clock
    # Per clock: its claim, and its event (the district log's lock, the insert, the hash
    # chain's head moved, the streams' previous ids, the stream entries), inside a savepoint.
    assert per_clock <= 9, (queries_for_3, queries_for_6)
    assert fixed <= 4, (queries_for_3, queries_for_6)
    # With 50 cases whose clocks are met, 3 due clocks still cost far fewer than 50 queries.
    assert queries_for_3 <= 3 * 9 + 4

    _, queries_for_none = _sweep_queries(later)
    assert queries_for_none <= 2
