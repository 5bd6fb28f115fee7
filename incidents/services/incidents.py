"""Mass incidents: reporting, moving through their statuses, and what is said in their rooms.

Every change writes an event in the incident's stream (and so in its room, the dashboard
and the units taking part). Levels come from the district's table
(`incidents.domain.incidents.level_for`) unless command staff set one by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.domain.duty import Reason
from alerts.services.paging import (
    alerts_acknowledge_for_unit,
    alerts_cancel,
    incident_alerts_raise,
)
from incidents.domain import incidents as rules
from incidents.domain.identifiers import mask_numbers_in, mask_numbers_in_text
from incidents.errors import Conflict, Invalid, NotFound
from incidents.events import event_record
from incidents.models import (
    Case,
    Event,
    Incident,
    IncidentSettings,
    RoomPresence,
    Unit,
)
from incidents.policy import (
    Actor,
    check_incident_action,
    check_report_incident,
    check_room_post,
    visible_cases,
    visible_incidents,
)
from incidents.services.after_action import after_action_draft
from incidents.services.common import require_reason
from playbooks.services.checklists import checklists_start_for_incident

# Units that join every incident unless the district's settings say otherwise.
DEFAULT_RESPONDERS = ("police", "hrss", "petition")
CHAT_MAX_CHARS = 2000
TITLE_MAX_CHARS = 200
PEOPLE_MAX = 1_000_000
# A presence row not refreshed for this long belongs to a socket of a dead process.
PRESENCE_STALE = timedelta(seconds=90)


@dataclass(frozen=True)
class IncidentInput:
    title: str
    town: str
    lat: float
    lng: float
    people_count: int
    kind: str
    description: str = ""
    case_numbers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentChange:
    action: str
    reason: str = ""
    level: str | None = None
    people_count: int | None = None
    description: str | None = None
    case_numbers: list[str] = field(default_factory=list)


def incident_settings(district_id: int) -> IncidentSettings:
    """The district's incident settings, made with the plan's defaults on first use."""
    found = IncidentSettings.objects.filter(district_id=district_id).first()
    if found is not None:
        return found
    with transaction.atomic():
        found, created = IncidentSettings.objects.get_or_create(
            district_id=district_id,
            defaults={"raising_kinds": sorted(k.value for k in rules.DEFAULT_TABLE.raising_kinds)},
        )
        if created:
            found.responders.set(
                Unit.objects.filter(district_id=district_id, code__in=DEFAULT_RESPONDERS)
            )
    return found


def _field_error(field_name: str, message: str) -> Invalid:
    return Invalid(message, [{"field": field_name, "message": message}])


def _validate(data: IncidentInput) -> None:
    if not data.title.strip() or len(data.title) > TITLE_MAX_CHARS:
        raise _field_error("title", _("Give a title of at most 200 characters."))
    if not (
        math.isfinite(data.lat)
        and math.isfinite(data.lng)
        and -90 <= data.lat <= 90
        and -180 <= data.lng <= 180
    ):
        raise _field_error("location", _("The location is not a valid latitude and longitude."))
    if not 0 <= data.people_count <= PEOPLE_MAX:
        raise _field_error("people_count", _("The number of people is out of range."))
    if data.kind not in rules.Kind._value2member_map_:
        raise _field_error("kind", _("Unknown kind of incident."))


def _town(district_id: int, code: str) -> Unit:
    town = Unit.objects.filter(
        district_id=district_id, code=code, kind=Unit.Kind.TERRITORIAL, active=True
    ).first()
    if town is None:
        raise _field_error("town", _("Unknown town: %(code)s.") % {"code": code})
    return town


def _cases(actor: Actor, numbers: list[str]) -> list[Case]:
    """The cases named, each one the actor may see; unknown ones are refused by name."""
    wanted = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
    found = {
        c.number: c
        for c in visible_cases(actor).filter(number__in=wanted).select_related("responsible_unit")
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        raise _field_error(
            "case_numbers", _("Unknown cases: %(numbers)s.") % {"numbers": ", ".join(missing)}
        )
    return [found[n] for n in wanted]


def incident_report(*, actor: Actor, data: IncidentInput, source: str = "command") -> Incident:
    """Open a mass incident, at the level the district's table gives."""
    _validate(data)
    settings_row = incident_settings(actor.district_id)
    with transaction.atomic():
        town = _town(actor.district_id, data.town)
        cases = _cases(actor, data.case_numbers)
        check_report_incident(actor, cases, settings_row.offer_from_workers)
        level = rules.level_for(data.people_count, rules.Kind(data.kind), settings_row.table())
        now = timezone.now()
        incident = Incident.objects.create(
            district_id=actor.district_id,
            # An incident's words reach every role and the province: no numbers kept in them.
            title=mask_numbers_in_text(data.title.strip()),
            town=town,
            lat=data.lat,
            lng=data.lng,
            people_count=data.people_count,
            kind=data.kind,
            level=level.value,
            description=mask_numbers_in_text(data.description.strip()),
            commander_id=actor.user_id if actor.is_command else None,
            reported_by_id=actor.user_id,
            source=source,
            reported_at=now,
        )
        incident.cases.set(cases)
        units = {town.pk, *settings_row.responders.values_list("pk", flat=True)}
        units.update(c.responsible_unit_id for c in cases if c.responsible_unit_id)
        incident.units.set(units)
        event_record(
            at=now,
            district=actor.district_id,
            incident=incident,
            kind="incident.reported",
            actor=actor,
            after=incident.status,
            data={
                "title": incident.title,
                "kind": incident.kind,
                "people_count": incident.people_count,
                "town": town.code,
                "location": {"lat": incident.lat, "lng": incident.lng},
                "case_numbers": [c.number for c in cases],
                "source": source,
            },
        )
        incident_alerts_raise(incident=incident, reason=Reason.INCIDENT_OPENED, now=now)
    return incident


def incident_get_for_update(actor: Actor, incident_id: int) -> Incident:
    incident = (
        visible_incidents(actor, Incident.objects.select_for_update())
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def incident_transition(
    *,
    actor: Actor,
    incident_id: int,
    change: IncidentChange,
    expected_revision: int | None = None,
) -> Event:
    """Take one action on an incident; its status moves by `rules.STATUS_MOVES`.

    With `expected_revision`, a screen that showed an older state gets `Conflict`.
    """
    try:
        action = rules.Action(change.action)
    except ValueError:
        raise _field_error("action", _("Unknown action.")) from None
    with transaction.atomic():
        incident = incident_get_for_update(actor, incident_id)
        check_incident_action(actor, incident, action)
        if expected_revision is not None and incident.revision != expected_revision:
            raise Conflict(_("The incident changed since you loaded it; reload and try again."))
        before = rules.Status(incident.status)
        try:
            after = rules.next_status(before, action)
        except rules.IllegalIncidentMove:
            raise Invalid(
                _("This action is not allowed while the incident is %(status)s.")
                % {"status": incident.status_label}
            ) from None
        if action in rules.REASON_REQUIRED:
            require_reason(change.reason)
        now = timezone.now()
        if after is not before:
            incident.status = after.value
            stamp = {
                rules.Status.ACTIVE: "activated_at",
                rules.Status.CONTAINED: "contained_at",
                rules.Status.CLOSED: "closed_at",
            }[after]
            setattr(incident, stamp, now)
        if action is rules.Action.ACTIVATE and incident.commander_id is None:
            incident.commander_id = actor.user_id
        level_before = rules.Level(incident.level)
        data = _INCIDENT_HANDLERS.get(action, _no_change)(actor, incident, change)
        incident.revision += 1
        incident.save()
        event = event_record(
            at=now,
            district=incident.district_id,
            incident=incident,
            kind=f"incident.{action.value}",
            actor=actor,
            reason=mask_numbers_in_text(change.reason.strip()),
            before=before.value,
            after=after.value,
            data=mask_numbers_in(data),
        )
        if rules.graver(rules.Level(incident.level), level_before):
            incident_alerts_raise(incident=incident, reason=Reason.LEVEL_RAISED, now=now)
        if after is rules.Status.ACTIVE and (
            before is not after or incident.level != level_before.value
        ):
            # The contingency plan opens on activation, and a level change brings its own.
            checklists_start_for_incident(incident=incident, now=now, actor=actor)
        if after is rules.Status.CLOSED:
            alerts_cancel(incident=incident, now=now, why="incident_closed")
            # Drafted last, so its cutoff takes in the alerts stopped by the closing.
            after_action_draft(incident=incident, now=now)
        return event


def _no_change(actor: Actor, incident: Incident, change: IncidentChange) -> dict[str, Any]:
    return {}


def _set_level(actor: Actor, incident: Incident, change: IncidentChange) -> dict[str, Any]:
    if change.level not in rules.Level._value2member_map_:
        raise _field_error("level", _("Give a level: I, II, III or IV."))
    previous = incident.level
    incident.level = str(change.level)
    incident.level_set_by_hand = True
    return {"level_before": previous}


def _update(actor: Actor, incident: Incident, change: IncidentChange) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    if change.people_count is None and change.description is None:
        raise _field_error("people_count", _("Give the number of people or a description."))
    if change.people_count is not None:
        if not 0 <= change.people_count <= PEOPLE_MAX:
            raise _field_error("people_count", _("The number of people is out of range."))
        changed["people_count"] = change.people_count
        changed["people_count_before"] = incident.people_count
        incident.people_count = change.people_count
        if not incident.level_set_by_hand:
            table = incident_settings(incident.district_id).table()
            level = rules.level_for(incident.people_count, rules.Kind(incident.kind), table)
            if level.value != incident.level:
                changed["level_before"] = incident.level
                incident.level = level.value
    if change.description is not None:
        incident.description = mask_numbers_in_text(change.description.strip())
        changed["description"] = incident.description
    return changed


def _link_cases(actor: Actor, incident: Incident, change: IncidentChange) -> dict[str, Any]:
    if not change.case_numbers:
        raise _field_error("case_numbers", _("Name at least one case."))
    cases = _cases(actor, change.case_numbers)
    incident.cases.add(*cases)
    incident.units.add(*{c.responsible_unit_id for c in cases if c.responsible_unit_id})
    return {"case_numbers": [c.number for c in cases]}


def _take_command(actor: Actor, incident: Incident, change: IncidentChange) -> dict[str, Any]:
    previous = incident.commander.get_username() if incident.commander else None
    incident.commander_id = actor.user_id
    return {"commander": actor.username, "commander_before": previous}


_INCIDENT_HANDLERS = {
    rules.Action.SET_LEVEL: _set_level,
    rules.Action.UPDATE: _update,
    rules.Action.LINK_CASES: _link_cases,
    rules.Action.TAKE_COMMAND: _take_command,
}


def _room_text(value: Any, field_name: str, *, required: bool) -> str:
    """Text sent over a socket, checked here since no schema stands before the service."""
    if not isinstance(value, str):
        raise _field_error(field_name, _("Send text."))
    text: str = value.strip()
    if required and not text:
        raise _field_error(field_name, _("The message is empty."))
    if len(text) > CHAT_MAX_CHARS:
        raise _field_error(field_name, _("At most 2000 characters."))
    return text


def room_chat(*, actor: Actor, incident_id: int, text: Any) -> Event:
    """A chat message in an incident room: stored, and part of the timeline."""
    body = _room_text(text, "text", required=True)
    return _room_post(actor, incident_id, "incident.chat", {"text": body})


def room_acknowledge(*, actor: Actor, incident_id: int, note: Any = "") -> Event:
    """Someone in the room confirms they have the incident in hand (for their unit).

    It also acknowledges their unit's open SMS alerts about the incident.
    """
    body = _room_text(note if note is not None else "", "note", required=False)
    with transaction.atomic():
        event = _room_post(
            actor,
            incident_id,
            "incident.acknowledged",
            {"note": body, "acting_unit_id": actor.unit_id},
        )
        alerts_acknowledge_for_unit(
            incident_id=incident_id,
            unit_id=actor.unit_id,
            user=event.actor,
            now=event.at,
        )
    return event


def _room_post(actor: Actor, incident_id: int, kind: str, data: dict[str, Any]) -> Event:
    with transaction.atomic():
        incident = incident_get_for_update(actor, incident_id)
        check_room_post(actor, incident)
        # The room fans out to every role (the province too): no full number in it.
        return event_record(
            district=incident.district_id,
            incident=incident,
            kind=kind,
            actor=actor,
            data=mask_numbers_in(data),
        )


def presence_join(*, incident_id: int, user_id: int, channel_name: str) -> None:
    now = timezone.now()
    RoomPresence.objects.update_or_create(
        channel_name=channel_name,
        defaults={"incident_id": incident_id, "user_id": user_id, "joined_at": now, "seen_at": now},
    )


def presence_touch(*, channel_name: str) -> None:
    RoomPresence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def presence_leave(*, channel_name: str) -> None:
    RoomPresence.objects.filter(channel_name=channel_name).delete()


def presence_purge() -> int:
    """Forget the sockets of processes that died without saying goodbye."""
    deleted, _counts = RoomPresence.objects.filter(
        seen_at__lt=timezone.now() - PRESENCE_STALE * 2
    ).delete()
    return deleted
