"""Deadlines: starting and stopping clocks, and the sweep that marks passed ones overdue."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.services.paging import alerts_cancel, clock_alert_key, clock_alert_raise
from command_center.ops.store import counted
from incidents.domain import workdays
from incidents.events import event_record
from incidents.models import (
    Case,
    Clock,
)
from incidents.services.common import district_calendar, local_tz


def clock_start(case: Case, kind: str, *, started_at: datetime, due_at: datetime) -> Clock:
    return Clock.objects.create(case=case, kind=kind, started_at=started_at, due_at=due_at)


def clocks_stop(case: Case, stops: dict[str, str], *, now: datetime) -> None:
    """Stop the case's live clocks of the given kinds; alerts about late ones stop too."""
    for kind, status in stops.items():
        live = Clock.objects.filter(
            case=case, kind=kind, status__in=[Clock.Status.RUNNING, Clock.Status.OVERDUE]
        )
        overdue = live.filter(status=Clock.Status.OVERDUE).values_list("pk", flat=True)
        late = [clock_alert_key(pk) for pk in overdue]
        live.update(status=status, stopped_at=now)
        if late:
            alerts_cancel(keys=late, now=now, why="deadline_stopped")


def clock_due(case: Case, kind: str, now: datetime) -> datetime:
    tz = local_tz()
    if kind == Clock.Kind.COMMITMENT:
        return workdays.commitment_due(now, settings.COMMITMENT_DAYS, tz)
    calendar = district_calendar(case.district_id, {now.year, now.year + 1})
    return workdays.advance_due(now, settings.ADVANCE_WORKING_DAYS, calendar, tz)


@counted("clock_sweeps", total="clocks_overdue")  # figures of /metrics
def clocks_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark passed clocks overdue and write an event for each; returns how many.

    Reads only running clocks that are due (a partial index), so its cost follows the clocks
    due, not the cases. The conditional UPDATE makes concurrent sweepers safe: each clock is
    claimed by exactly one of them.
    """
    now = now or timezone.now()
    marked = 0
    while True:
        due = list(
            Clock.objects.filter(status=Clock.Status.RUNNING, due_at__lt=now)
            .select_related("case")
            .prefetch_related("case__assisting_units", "case__incidents")
            .order_by("due_at")[:batch]
        )
        if not due:
            return marked
        for clock in due:
            with transaction.atomic():
                claimed = Clock.objects.filter(pk=clock.pk, status=Clock.Status.RUNNING).update(
                    status=Clock.Status.OVERDUE, overdue_at=now
                )
                if not claimed:
                    continue
                event_record(
                    at=now,
                    district=clock.case.district_id,
                    case=clock.case,
                    kind="clock.overdue",
                    actor=None,
                    before=clock.case.state,
                    after=clock.case.state,
                    data={"clock": clock.kind, "due_at": clock.due_at.isoformat()},
                )
                clock_alert_raise(clock=clock, now=now)
                marked += 1
        if len(due) < batch:
            return marked
