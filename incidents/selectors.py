"""Reads: cases and incidents as a person may see them, personal data masked for their role.

Everything here filters through `incidents.policy.visible_cases` and loads relations in a
fixed number of queries, whatever the page size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.domain import incidents as incident_rules
from incidents.domain.identifiers import (
    mask_id_number,
    mask_numbers_in,
    mask_numbers_in_text,
    mask_phone,
)
from incidents.domain.incidents import Status as IncidentStatus
from incidents.domain.lifecycle import CaseState, allowed_actions, role_may
from incidents.domain.streams import incident_stream
from incidents.errors import Forbidden, NotFound
from incidents.events import event_frame, stream_events, stream_head
from incidents.models import (
    BlacklistEntry,
    Case,
    Clock,
    Event,
    FundAccount,
    FundEntry,
    Incident,
    Report,
    RoomPresence,
    Unit,
)
from incidents.policy import Actor, check_incident_action, visible_cases, visible_incidents
from incidents.services import fund_balance_by_unit, local_tz
from incidents.services.incidents import PRESENCE_STALE


def iso(value: datetime | None) -> str | None:
    """An aware time as ISO 8601 in the hub's time zone (+08:00 by default)."""
    return timezone.localtime(value).isoformat() if value else None


def money(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


def overdue_exists(now: datetime) -> Exists:
    """True for a case with a clock that is overdue, or running past its due time."""
    late = Clock.objects.filter(case=OuterRef("pk")).filter(
        Q(status=Clock.Status.OVERDUE) | Q(status=Clock.Status.RUNNING, due_at__lt=now)
    )
    return Exists(late)


def overdue_q(now: datetime) -> Q:
    return Q(overdue_exists(now))


@dataclass(frozen=True)
class CaseFilters:
    state: str | None = None
    unit: str | None = None
    town: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    received_from: date | None = None
    received_to: date | None = None


def case_list(actor: Actor, filters: CaseFilters, *, now: datetime | None = None) -> QuerySet[Case]:
    """Visible cases matching `filters`, newest first."""
    now = now or timezone.now()
    qs = visible_cases(actor)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.unit:
        qs = qs.filter(responsible_unit__code=filters.unit)
    if filters.town:
        qs = qs.filter(town__code=filters.town)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.overdue is not None:
        qs = qs.filter(overdue_q(now)) if filters.overdue else qs.exclude(overdue_q(now))
    tz = local_tz()
    if filters.received_from:
        qs = qs.filter(received_at__gte=datetime.combine(filters.received_from, time.min, tz))
    if filters.received_to:
        qs = qs.filter(received_at__lte=datetime.combine(filters.received_to, time.max, tz))
    return with_relations(qs).order_by("-received_at", "-id")


def triage_queue(actor: Actor, *, now: datetime | None = None) -> QuerySet[Case]:
    """Registered cases waiting for a person to route them, overdue clocks first."""
    now = now or timezone.now()
    qs = visible_cases(actor).filter(state=CaseState.REGISTERED)
    return (
        with_relations(qs)
        .annotate(
            late=Exists(
                Clock.objects.filter(case=OuterRef("pk")).filter(
                    Q(status=Clock.Status.OVERDUE) | Q(status=Clock.Status.RUNNING, due_at__lt=now)
                )
            )
        )
        .order_by("-late", "received_at", "id")
    )


def with_relations(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.select_related("employer", "project", "town", "responsible_unit").prefetch_related(
        "assisting_units",
        Prefetch("clocks", queryset=Clock.objects.order_by("id")),
    )


def case_get(actor: Actor, number: str) -> Case:
    case = (
        with_relations(visible_cases(actor).filter(number=number))
        .prefetch_related(
            Prefetch("reports", queryset=Report.objects.select_related("window")),
            Prefetch("events", queryset=Event.objects.select_related("actor").order_by("id")),
            Prefetch("fund_entries", queryset=FundEntry.objects.select_related("unit")),
            "slips__unit",
        )
        .first()
    )
    if case is None:
        raise NotFound(f"No case {number!r}.")
    return case


def deadlines(case: Case, now: datetime) -> dict[str, Any]:
    """The case's clocks, latest of each kind: due time and whether it is late."""
    latest: dict[str, Clock] = {}
    for clock in case.clocks.all():
        latest[clock.kind] = clock
    out: dict[str, Any] = {}
    for kind, clock in latest.items():
        late = clock.status == Clock.Status.OVERDUE or (
            clock.status == Clock.Status.RUNNING and clock.due_at < now
        )
        out[kind] = {
            "due_at": iso(clock.due_at),
            "status": Clock.Status.OVERDUE.value if late else clock.status,
            "stopped_at": iso(clock.stopped_at),
            "was_overdue": clock.overdue_at is not None,
        }
    return out


def is_overdue(case: Case, now: datetime) -> bool:
    return any(d["status"] == "overdue" for d in deadlines(case, now).values())


def case_summary(case: Case, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    dl = deadlines(case, now)
    return {
        "case_number": case.number,
        "state": case.state,
        "channel": case.channel,
        "received_at": iso(case.received_at),
        "town": case.town.code,
        "employer": {"name": case.employer.name, "credit_code": case.employer.credit_code},
        "project": (
            {"name": case.project.name, "type": case.project.type} if case.project else None
        ),
        "workers_count": case.workers_count,
        "amount_owed": money(case.amount_owed),
        "amount_paid": money(case.amount_paid),
        "responsible_unit": case.responsible_unit.code if case.responsible_unit else None,
        "assisting_units": sorted(u.code for u in case.assisting_units.all()),
        "deadlines": dl,
        "overdue": any(d["status"] == "overdue" for d in dl.values()),
        "revision": case.revision,
    }


def employer_standing(case: Case, actor: Actor) -> dict[str, Any]:
    """The employer's blacklist entries in force and its other open cases."""
    entries = BlacklistEntry.objects.filter(enterprise=case.employer).exclude(
        status=BlacklistEntry.Status.REMOVED
    )
    others = (
        visible_cases(actor)
        .filter(
            employer=case.employer,
            state__in=[
                s.value
                for s in CaseState
                if s not in {CaseState.CLOSED, CaseState.MERGED, CaseState.REJECTED}
            ],
        )
        .exclude(pk=case.pk)
    )
    return {
        "name": case.employer.name,
        "credit_code": case.employer.credit_code,
        "blacklisted": entries.exists(),
        "blacklist": [
            {"id": e.pk, "status": e.status, "reason": e.reason, "listed_at": iso(e.listed_at)}
            for e in entries
        ],
        "open_cases": list(others.values_list("number", flat=True)),
    }


def personal_text(text: str, actor: Actor) -> str:
    """Free text someone typed (a description), with the phone and ID numbers in it masked
    for a role that does not need them."""
    return text if actor.sees_personal_data else mask_numbers_in_text(text)


def report_out(report: Report, actor: Actor) -> dict[str, Any]:
    phone, id_number = report.complainant_phone, report.complainant_id_number
    if not actor.sees_personal_data:
        phone = mask_phone(phone)
        id_number = mask_id_number(id_number) if id_number else ""
    return {
        "id": report.pk,
        "channel": report.channel,
        "window": report.window.code if report.window else None,
        "received_at": iso(report.received_at),
        "complainant": {
            "name": report.complainant_name,
            "phone": phone,
            "id_number": id_number or None,
        },
        "workers_count": report.workers_count,
        "amount_owed": money(report.amount_owed),
        "description": personal_text(report.description, actor),
    }


def case_detail(case: Case, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything about one case that `actor` may see."""
    out = case_summary(case, actor, now=now)
    out.update(
        {
            "description": personal_text(case.description, actor),
            "location": {"lat": case.lat, "lng": case.lng} if case.lat is not None else None,
            "routing_note": case.routing_note,
            "confirmed_amount": money(case.confirmed_amount),
            "commitment_letter": case.commitment_letter_number or None,
            "accepted_at": iso(case.accepted_at),
            "dispatched_at": iso(case.dispatched_at),
            "closed_at": iso(case.closed_at),
            "employer": employer_standing(case, actor),
            "dispatch_slips": [
                {"number": s.number, "unit": s.unit.code, "issued_at": iso(s.issued_at)}
                for s in case.slips.all()
            ],
            "reports": [report_out(r, actor) for r in case.reports.all()],
            # Events fan out to every role in a stream: numbers in them are masked for all.
            "events": [mask_numbers_in(event_frame(e)) for e in case.events.all()],
            "fund_movements": [
                {
                    "kind": f.kind,
                    "amount": money(f.amount),
                    "unit": f.unit.code if f.unit else None,
                    "at": iso(f.at),
                    "balance_after": money(f.balance_after),
                }
                for f in case.fund_entries.all()
            ],
            "actions": [
                a.value for a in allowed_actions(CaseState(case.state)) if role_may(actor.roles, a)
            ],
        }
    )
    return out


def units_of(district_id: int) -> QuerySet[Unit]:
    return Unit.objects.filter(district_id=district_id, active=True).order_by("kind", "code")


def fund_summary(actor: Actor) -> dict[str, Any]:
    account = FundAccount.objects.filter(district_id=actor.district_id).first()
    return {
        "balance": money(account.balance) if account else None,
        "units": [
            {k: (money(v) if k != "unit" else v) for k, v in row.items()}
            for row in fund_balance_by_unit(actor.district_id)
        ],
    }


def blacklist(actor: Actor) -> QuerySet[BlacklistEntry]:
    return (
        BlacklistEntry.objects.filter(district_id=actor.district_id)
        .select_related("enterprise", "listed_by", "removed_by")
        .prefetch_related("cases")
        .order_by("-listed_at")
    )


def blacklist_out(entry: BlacklistEntry, actor: Actor) -> dict[str, Any]:
    id_number = entry.person_id_number
    if id_number and not actor.sees_personal_data:
        id_number = mask_id_number(id_number)
    return {
        "id": entry.pk,
        "status": entry.status,
        "enterprise": (
            {"name": entry.enterprise.name, "credit_code": entry.enterprise.credit_code}
            if entry.enterprise
            else None
        ),
        "person": {"name": entry.person_name, "id_number": id_number or None}
        if entry.person_name
        else None,
        "reason": personal_text(entry.reason, actor),
        "cases": sorted(c.number for c in entry.cases.all()),
        "listed_by": entry.listed_by.get_username(),
        "listed_at": iso(entry.listed_at),
        "appeal_reason": personal_text(entry.appeal_reason, actor) or None,
        "removed_by": entry.removed_by.get_username() if entry.removed_by else None,
        "removed_at": iso(entry.removed_at),
    }


# --- mass incidents -------------------------------------------------------------------


def incidents_visible(actor: Actor, *, status: str | None = None) -> QuerySet[Incident]:
    qs = visible_incidents(actor).select_related("town", "commander")
    if status == "open":
        qs = qs.exclude(status=IncidentStatus.CLOSED.value)
    elif status:
        qs = qs.filter(status=status)
    return qs.order_by("-reported_at", "-pk")


def incident_get(actor: Actor, incident_id: int) -> Incident:
    incident = (
        incidents_visible(actor)
        .select_related("reported_by")
        .prefetch_related("units")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def incident_summary(incident: Incident, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    end = incident.closed_at or now
    return {
        "id": incident.pk,
        "code": incident.code,
        "title": incident.title,
        "kind": incident.kind,
        "status": incident.status,
        "level": incident.level,
        "people_count": incident.people_count,
        "town": {"code": incident.town.code, "name": incident.town.name},
        "location": {"lat": incident.lat, "lng": incident.lng},
        "commander": incident.commander.get_username() if incident.commander else None,
        "reported_at": iso(incident.reported_at),
        "elapsed_seconds": max(0, int((end - incident.reported_at).total_seconds())),
    }


def incident_detail(incident: Incident, actor: Actor) -> dict[str, Any]:
    body = incident_summary(incident)
    seen = set(visible_cases(actor).filter(incidents=incident).values_list("pk", flat=True))
    cases = incident.cases.select_related("responsible_unit").order_by("number")
    body.update(
        {
            # Stored masked since this change; older descriptions are masked here.
            "description": mask_numbers_in_text(incident.description),
            "level_set_by_hand": incident.level_set_by_hand,
            "source": incident.source,
            "reported_by": incident.reported_by.get_username(),
            "activated_at": iso(incident.activated_at),
            "contained_at": iso(incident.contained_at),
            "closed_at": iso(incident.closed_at),
            "revision": incident.revision,
            "units": [{"code": u.code, "name": u.name} for u in incident.units.all()],
            # Linked cases another unit handles are named, not opened, for this person.
            "cases": [
                {
                    "case_number": c.number,
                    "state": c.state,
                    "workers_count": c.workers_count if c.pk in seen else None,
                    "amount_owed": money(c.amount_owed) if c.pk in seen else None,
                    "responsible_unit": c.responsible_unit.code if c.responsible_unit else None,
                    "visible": c.pk in seen,
                }
                for c in cases
            ],
            "allowed_actions": incident_actions_for(incident, actor),
            "head": stream_head(incident_stream(incident.pk)),
        }
    )
    return body


def incident_actions_for(incident: Incident, actor: Actor) -> list[str]:
    allowed = []
    for action in incident_rules.allowed_actions(incident_rules.Status(incident.status)):
        try:
            check_incident_action(actor, incident, action)
        except Forbidden:
            continue
        allowed.append(action.value)
    return allowed


def incident_timeline(
    incident: Incident, *, after: int = 0, limit: int = 500
) -> list[dict[str, Any]]:
    """The incident room's stream from the log: the same frames the socket sends."""
    return [
        mask_numbers_in(event_frame(e))
        for e in stream_events(incident_stream(incident.pk), after=after, limit=limit)
    ]


def room_members(incident_id: int) -> list[dict[str, Any]]:
    """Who has the room open now (one row per person, however many tabs)."""
    fresh = timezone.now() - PRESENCE_STALE
    rows = (
        RoomPresence.objects.filter(incident_id=incident_id, seen_at__gte=fresh)
        .select_related("user__membership__unit")
        .order_by("joined_at")
    )
    members: dict[int, dict[str, Any]] = {}
    for row in rows:
        membership = getattr(row.user, "membership", None)
        unit = membership.unit if membership else None
        members.setdefault(
            row.user_id,
            {"user": row.user.get_username(), "unit": unit.name if unit else None},
        )
    return list(members.values())
