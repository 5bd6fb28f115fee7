"""What the live dashboard shows, for one person: reads only, in a fixed number of queries.

- open cases by state and by responsible unit;
- clocks overdue and clocks due today;
- open mass incidents with their level and elapsed time;
- the month's key figures, as the district reports them: cases received, the share on
  construction projects, workers, amount owed, and the closure rate (of the cases received
  this month, the share closed);
- the latest events of the person's stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from alerts.models import period_label
from alerts.selectors import alert_board
from alerts.selectors_risk import warning_board
from incidents import selectors
from incidents.domain.lifecycle import OPEN_STATES, CaseState
from incidents.events import event_frame, stream_latest
from incidents.models import STATE_LABELS, Clock
from incidents.policy import Actor, dashboard_stream, visible_cases
from playbooks.selectors import dashboard_checklists

LATEST_EVENTS = 30
CLOCK_ROWS = 10
OPEN = [s.value for s in OPEN_STATES]


@dataclass(frozen=True)
class MonthFigures:
    month: str
    cases: int
    construction_share: float | None
    workers: int
    amount_owed: Decimal
    closed: int
    closure_rate: float | None


def month_figures(actor: Actor, *, now: datetime | None = None) -> MonthFigures:
    local = timezone.localtime(now or timezone.now())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    cases = visible_cases(actor).filter(received_at__gte=start).exclude(state=CaseState.MERGED)
    row = cases.aggregate(
        n=Count("pk"),
        construction=Count("pk", filter=Q(project__isnull=False)),
        workers=Sum("workers_count"),
        amount=Sum("amount_owed"),
        closed=Count("pk", filter=Q(state=CaseState.CLOSED)),
    )
    n = row["n"] or 0
    return MonthFigures(
        month=start.strftime("%Y-%m"),
        cases=n,
        construction_share=(row["construction"] / n) if n else None,
        workers=row["workers"] or 0,
        amount_owed=row["amount"] or Decimal("0"),
        closed=row["closed"] or 0,
        closure_rate=(row["closed"] / n) if n else None,
    )


def open_by_state(actor: Actor) -> list[dict[str, Any]]:
    counts = dict(
        visible_cases(actor)
        .filter(state__in=OPEN)
        .values("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return [
        {"state": state.value, "label": STATE_LABELS[state], "count": counts[state.value]}
        for state in CaseState
        if counts.get(state.value)
    ]


def open_by_unit(actor: Actor, *, now: datetime) -> list[dict[str, Any]]:
    # Lateness as an EXISTS per open case (the live clocks' index), not a join with every
    # clock: the join made PostgreSQL read the whole clocks table (2M rows for 1M cases).
    rows = (
        visible_cases(actor)
        .filter(state__in=OPEN)
        .values("responsible_unit__code")
        .annotate(n=Count("pk"), late=Count("pk", filter=selectors.overdue_q(now)))
        .order_by("-n", "responsible_unit__code")
    )
    names = {u.code: u.name for u in selectors.units_of(actor.district_id)}
    return [
        {
            "unit": r["responsible_unit__code"],
            "name": names.get(r["responsible_unit__code"] or "", "—"),
            "count": r["n"],
            "overdue": r["late"],
        }
        for r in rows
    ]


def clocks(actor: Actor, *, now: datetime) -> dict[str, Any]:
    local = timezone.localtime(now)
    end_of_day = timezone.make_aware(
        datetime.combine(local.date(), time.max), timezone.get_current_timezone()
    )
    base = Clock.objects.filter(
        case__in=visible_cases(actor).filter(state__in=OPEN)
    ).select_related("case")
    overdue = base.filter(
        Q(status=Clock.Status.OVERDUE) | Q(status=Clock.Status.RUNNING, due_at__lt=now)
    )
    today = base.filter(status=Clock.Status.RUNNING, due_at__gte=now, due_at__lte=end_of_day)
    return {
        "overdue_count": overdue.count(),
        "overdue": list(overdue.order_by("due_at")[:CLOCK_ROWS]),
        "today_count": today.count(),
        "today": list(today.order_by("due_at")[:CLOCK_ROWS]),
    }


def latest_events(actor: Actor) -> tuple[list[dict[str, Any]], int]:
    """The newest events of the person's stream, newest first, and the newest id."""
    stream = dashboard_stream(actor)
    if stream is None:
        return [], 0
    frames = [event_frame(e) for e in stream_latest(stream, limit=LATEST_EVENTS)]
    return frames, (frames[0]["id"] if frames else 0)


def summary(actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    incidents = list(selectors.incidents_visible(actor, status="open")[:20])
    return {
        "now": now,
        "figures": month_figures(actor, now=now),
        "by_state": open_by_state(actor),
        "by_unit": open_by_unit(actor, now=now),
        "clocks": clocks(actor, now=now),
        "incidents": [selectors.incident_summary(i, now=now) for i in incidents],
        "since": now - timedelta(days=1),
        "alerts": (board := alert_board(actor, now=now)),
        "period": period_label(board.period),
        "checklists": dashboard_checklists(actor, now=now),
        "warnings": warning_board(actor, now=now),
    }
