"""Activity logs read from the event log, in the spirit of the ICS 214 form: who did what,
and when, in one incident or one unit over a period.

The log is the record: nothing here is stored apart, so a log printed twice for the same
period reads the same (events are appended, never changed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.domain.streams import incident_stream, unit_stream
from incidents.errors import Forbidden, Invalid, NotFound
from incidents.labels import EVENT_DATA_LABELS, EVENT_LABELS
from incidents.models import STATE_LABELS, STATUS_LABELS, Event, Incident, Unit
from incidents.policy import DISTRICT_WIDE, Actor, can_view_incident

# A log longer than this is cut (and says so): a shorter period reads the rest.
ROW_LIMIT = 2000
# The longest period one log covers, in days.
MAX_DAYS = 31
# Event details that say what was done, in the order they are shown.
SUMMARY_DATA = ("text", "note", "amount", "people_count", "officer", "to")
TEXT_MAX_CHARS = 200
DAY_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ActivitySubject:
    """What a log is about: an incident or a unit, as its stream names it."""

    stream: str
    incident: Incident | None = None
    unit: Unit | None = None

    @property
    def title(self) -> str:
        if self.incident is not None:
            return f"{self.incident.code} {self.incident.title}"
        return self.unit.name if self.unit is not None else self.stream


@dataclass(frozen=True)
class ActivityRow:
    at: datetime
    who: str
    unit: str
    what: str
    summary: str


@dataclass(frozen=True)
class ActivityLog:
    subject: ActivitySubject
    start: datetime
    end: datetime
    rows: list[ActivityRow]
    truncated: bool


def activity_subject(*, actor: Actor, stream: str) -> ActivitySubject:
    """The incident or unit of `stream`, if `actor` may read its log.

    An incident's log is read by whoever may see the incident; a unit's by its own people and
    the district-wide roles (command, inspectors, reviewers). Raises `NotFound` for a stream
    that names nothing in the actor's district (or an incident they may not see), `Forbidden`
    for a unit that is not theirs.
    """
    kind, _dot, raw_id = stream.partition(".")
    if not raw_id.isdigit():
        raise NotFound(_("No such activity log."))
    pk = int(raw_id)
    if kind == "incident":
        incident = Incident.objects.filter(pk=pk, district_id=actor.district_id).first()
        if incident is None or not can_view_incident(actor, incident):
            raise NotFound(_("No such incident."))
        return ActivitySubject(stream=incident_stream(pk), incident=incident)
    if kind == "unit":
        unit = Unit.objects.filter(pk=pk, district_id=actor.district_id).first()
        if unit is None:
            raise NotFound(_("No such unit."))
        if actor.unit_id != unit.pk and not actor.roles & DISTRICT_WIDE:
            raise Forbidden(_("Only the unit's own people and command read its activity log."))
        return ActivitySubject(stream=unit_stream(pk), unit=unit)
    raise NotFound(_("No such activity log."))


def activity_log(
    *, actor: Actor, stream: str, start: datetime, end: datetime, limit: int = ROW_LIMIT
) -> ActivityLog:
    """Who did what, when, in `stream` from `start` (inclusive) to `end` (exclusive), oldest
    first; at most `limit` rows (`truncated` says when there were more).

    Raises `NotFound` or `Forbidden` as `activity_subject` does.
    """
    subject = activity_subject(actor=actor, stream=stream)
    events = list(
        Event.objects.filter(entries__stream=subject.stream, at__gte=start, at__lt=end)
        .select_related("actor__membership__unit", "case", "incident")
        .order_by("at", "id")[: limit + 1]
    )
    return ActivityLog(
        subject=subject,
        start=start,
        end=end,
        rows=[activity_row(e) for e in events[:limit]],
        truncated=len(events) > limit,
    )


def activity_row(event: Event) -> ActivityRow:
    """One line of a log: select the event's actor (with membership and unit), case, incident."""
    user = event.actor
    who = _("system")
    unit = ""
    if user is not None:
        who = user.get_full_name() or user.get_username()
        membership = getattr(user, "membership", None)
        if membership is not None and membership.unit is not None:
            unit = membership.unit.name
    return ActivityRow(
        at=timezone.localtime(event.at),
        who=who,
        unit=unit,
        what=str(EVENT_LABELS.get(event.kind, event.kind)),
        summary=event_summary(event),
    )


def event_summary(event: Event) -> str:
    """The case or incident, the change of state, the reason and the note, on one line."""
    parts: list[str] = []
    number = event.case.number if event.case else event.data.get("case_number")
    if number:
        parts.append(str(number))
    if event.incident is not None:
        parts.append(event.incident.code)
    if event.before or event.after:
        parts.append(f"{_state(event.kind, event.before)} → {_state(event.kind, event.after)}")
    if event.data.get("level_before"):
        level = event.data.get("level") or "—"
        parts.append(f"{EVENT_DATA_LABELS['level']}: {event.data['level_before']} → {level}")
    if event.reason:
        parts.append(_("reason: %(reason)s") % {"reason": _short(event.reason)})
    for key in SUMMARY_DATA:
        value = event.data.get(key)
        if value not in (None, "", []):
            parts.append(f"{EVENT_DATA_LABELS[key]}: {_short(value)}")
    return " · ".join(parts)


def _state(kind: str, value: str) -> str:
    if not value:
        return "—"
    labels: dict[Any, Any] = STATUS_LABELS if kind.startswith("incident.") else STATE_LABELS
    return str(labels.get(value, value))


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= TEXT_MAX_CHARS else text[: TEXT_MAX_CHARS - 1] + "…"


def activity_period(
    start_text: str | None, end_text: str | None, *, default_start: date, default_end: date
) -> tuple[date, date]:
    """The first and last local days of a log from `?from=` and `?to=` (YYYY-MM-DD).

    Raises `Invalid` for a date that does not parse, a period that ends before it starts, or
    one longer than `MAX_DAYS` days.
    """
    start_day = _day(start_text, default_start, "from")
    end_day = _day(end_text, default_end, "to")
    if end_day < start_day:
        raise Invalid(
            _("The period ends before it starts."),
            [{"field": "to", "message": _("Must not be before the start.")}],
        )
    if (end_day - start_day).days + 1 > MAX_DAYS:
        raise Invalid(
            _("A log covers at most %(days)s days.") % {"days": MAX_DAYS},
            [{"field": "to", "message": _("Period too long.")}],
        )
    return start_day, end_day


def _day(text: str | None, default: date, field: str) -> date:
    if not text:
        return default
    try:
        if not DAY_FORMAT.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(
            _("“%(value)s” is not a date of the form YYYY-MM-DD.") % {"value": text[:40]},
            [{"field": field, "message": _("Not a date.")}],
        ) from None


def day_bounds(start_day: date, end_day: date) -> tuple[datetime, datetime]:
    """Local midnight of `start_day` and of the day after `end_day`, aware."""
    zone = timezone.get_default_timezone()
    return (
        datetime.combine(start_day, time.min, tzinfo=zone),
        datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=zone),
    )
