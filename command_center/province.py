"""What a province's command sees: each district's figures side by side, and the gravest
incidents (level II and above) of every district, live.

Reads only, in a fixed number of queries whatever the number of districts: each figure is
one query grouped by district. The provincial command acts on nothing; a district's own
staff run its cases and incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from command_center.reports import month_of
from incidents.domain.incidents import LEVELS_ASCENDING, OPEN_STATUSES, PROVINCE_LEVELS
from incidents.domain.lifecycle import OPEN_STATES, CaseState
from incidents.domain.streams import province_stream
from incidents.errors import NotFound
from incidents.events import event_frame, stream_latest
from incidents.models import Case, Clock, District, Event, Incident, Province
from incidents.policy import Actor
from incidents.selectors import incident_summary
from incidents.services.common import local_tz

LATEST_EVENTS = 30
TIMELINE_EVENTS = 500
OPEN = [s.value for s in OPEN_STATES]
OPEN_INCIDENT = [s.value for s in OPEN_STATUSES]
WATCHED_LEVELS = [level.value for level in reversed(LEVELS_ASCENDING) if level in PROVINCE_LEVELS]
LEVELS = [level.value for level in reversed(LEVELS_ASCENDING)]


@dataclass
class DistrictFigures:
    """One district's row (or the province's total)."""

    code: str
    name: str
    open_cases: int = 0
    month_cases: int = 0
    month_closed: int = 0
    open_workers: int = 0
    open_amount: Decimal = Decimal("0")
    overdue_cases: int = 0
    incidents: dict[str, int] = field(default_factory=dict)

    @property
    def closure_rate(self) -> float | None:
        return self.month_closed / self.month_cases if self.month_cases else None

    @property
    def by_level(self) -> list[int]:
        """Open incidents per level, gravest first (as `LEVELS`)."""
        return [self.incidents.get(level, 0) for level in LEVELS]

    def add(self, other: DistrictFigures) -> None:
        self.open_cases += other.open_cases
        self.month_cases += other.month_cases
        self.month_closed += other.month_closed
        self.open_workers += other.open_workers
        self.open_amount += other.open_amount
        self.overdue_cases += other.overdue_cases
        for level, n in other.incidents.items():
            self.incidents[level] = self.incidents.get(level, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "district": self.code,
            "name": self.name,
            "open_cases": self.open_cases,
            "month_cases": self.month_cases,
            "month_closed": self.month_closed,
            "closure_rate": None if self.closure_rate is None else round(self.closure_rate, 4),
            "open_workers": self.open_workers,
            "open_amount": f"{self.open_amount:.2f}",
            "overdue_cases": self.overdue_cases,
            "open_incidents": dict(zip(LEVELS, self.by_level, strict=True)),
        }


def province_of(actor: Actor) -> Province:
    if actor.province_id is None:
        raise NotFound(_("No such province."))
    return Province.objects.get(pk=actor.province_id)


def district_figures(province: Province, *, now: datetime) -> list[DistrictFigures]:
    """Every district of the province, by name, with its figures for the month of `now`."""
    month_start = timezone.make_aware(datetime.combine(month_of(now), time.min), local_tz())
    districts = list(District.objects.filter(province=province).order_by("code"))
    rows = {d.pk: DistrictFigures(code=d.code, name=d.name) for d in districts}
    received = Q(received_at__gte=month_start) & ~Q(state=CaseState.MERGED)
    for r in (
        Case.objects.filter(district__province=province)
        .values("district_id")
        .annotate(
            open=Count("pk", filter=Q(state__in=OPEN)),
            month=Count("pk", filter=received),
            closed=Count("pk", filter=received & Q(state=CaseState.CLOSED)),
            workers=Sum("workers_count", filter=Q(state__in=OPEN)),
            amount=Sum("amount_owed", filter=Q(state__in=OPEN)),
        )
        .order_by()
    ):
        row = rows[r["district_id"]]
        row.open_cases, row.month_cases, row.month_closed = r["open"], r["month"], r["closed"]
        row.open_workers = r["workers"] or 0
        row.open_amount = r["amount"] or Decimal("0")
    late = Q(status=Clock.Status.OVERDUE) | Q(status=Clock.Status.RUNNING, due_at__lt=now)
    overdue = (
        Clock.objects.filter(late, case__district__province=province, case__state__in=OPEN)
        .values("case__district_id")
        .annotate(n=Count("case_id", distinct=True))
        .order_by()
        .values_list("case__district_id", "n")
    )
    for district_id, n in overdue:
        rows[district_id].overdue_cases = n
    incidents = (
        Incident.objects.filter(district__province=province, status__in=OPEN_INCIDENT)
        .values("district_id", "level")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("district_id", "level", "n")
    )
    for district_id, level, n in incidents:
        rows[district_id].incidents[level] = n
    return [rows[d.pk] for d in districts]


def watched_incidents(province: Province) -> QuerySet[Incident]:
    """The province's open incidents of level II and above, gravest and newest first."""
    return (
        Incident.objects.filter(
            district__province=province, level__in=WATCHED_LEVELS, status__in=OPEN_INCIDENT
        )
        .select_related("district", "town", "commander")
        .order_by("level", "-reported_at")
    )


def incident_row(incident: Incident, *, now: datetime) -> dict[str, Any]:
    row = incident_summary(incident, now=now)
    row["district"] = {"code": incident.district.code, "name": incident.district.name}
    return row


def summary(actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    """The province page's figures (and the API's body)."""
    now = now or timezone.now()
    province = province_of(actor)
    districts = district_figures(province, now=now)
    total = DistrictFigures(code="", name=province.name)
    for row in districts:
        total.add(row)
    return {
        "province": province,
        "now": now,
        "month": timezone.localtime(now).strftime("%Y-%m"),
        "districts": districts,
        "total": total,
        "levels": LEVELS,
        "incidents": [incident_row(i, now=now) for i in watched_incidents(province)[:50]],
    }


def summary_json(actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    body = summary(actor, now=now)
    province: Province = body["province"]
    return {
        "province": {"code": province.code, "name": province.name},
        "month": body["month"],
        "districts": [row.as_json() for row in body["districts"]],
        "total": body["total"].as_json() | {"district": None},
        "incidents": body["incidents"],
    }


def latest_events(actor: Actor) -> tuple[list[dict[str, Any]], int]:
    """The newest events of the province's stream, newest first, and the newest id."""
    province = province_of(actor)
    frames = [
        event_frame(e) for e in stream_latest(province_stream(province.pk), limit=LATEST_EVENTS)
    ]
    return frames, (frames[0]["id"] if frames else 0)


def watched_incident(actor: Actor, incident_id: int) -> tuple[dict[str, Any], list[Event]]:
    """One incident the province watches, with the events its stream carried; `NotFound`
    for an incident of another province or one below level II."""
    province = province_of(actor)
    incident = (
        Incident.objects.filter(pk=incident_id, district__province=province)
        .select_related("district", "town", "commander")
        .first()
    )
    if incident is None or incident.level not in WATCHED_LEVELS:
        raise NotFound(_("The province watches no such incident."))
    events = list(
        Event.objects.filter(entries__stream=province_stream(province.pk), incident=incident)
        .select_related("actor")
        .order_by("id")[:TIMELINE_EVENTS]
    )
    return incident_row(incident, now=timezone.now()), events
