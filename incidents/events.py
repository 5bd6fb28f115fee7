"""The event log: writing events into their streams, and relaying them to the channel layer.

Writing. `event_record` appends one event in the caller's transaction. It first takes the
district's log lock (`EventLogHead`, held until commit), so within a district event ids
commit in id order. Each event is entered in the streams that may see it:

- `district.<id>`: every event of the district (the command dashboard);
- `unit.<id>`: events of the cases a unit leads or assists, and of the incidents in its
  town or that it takes part in;
- `incident.<id>`: the incident's own events and those of the cases linked to it;
- `province.<id>`: the events of incidents of level II and above in the province's
  districts (the provincial command's screen). It spans districts, so its writers also
  hold the province's row lock.

Each entry records the stream's previous event id (`prev`).

Relaying. After commit, `events_relay` hands the district's log to the channel layer in id
order, from where the last relay stopped (`EventRelay`, under its own row lock, so several
processes relay one after another and never out of order). A relay that fails (Redis down)
leaves the cursor where it was; the next event or the periodic sweep publishes the backlog.
The channel layer is only the fast path: a reader that sees a `prev` it has not seen
replays the stream from the log with `stream_events`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from command_center.ops.store import count as ops_count
from incidents.domain import chain
from incidents.domain.identifiers import mask_numbers_in, mask_numbers_in_text
from incidents.domain.incidents import OPEN_STATUSES, seen_by_province
from incidents.domain.streams import (
    district_stream,
    incident_stream,
    province_stream,
    unit_stream,
)
from incidents.models import (
    Case,
    District,
    Event,
    EventLogHead,
    EventRelay,
    Incident,
    Province,
    StreamEntry,
)
from incidents.policy import Actor

log = logging.getLogger(__name__)

RELAY_BATCH = 500
_OPEN_INCIDENT_STATUSES = frozenset(s.value for s in OPEN_STATUSES)
# The message type consumers handle (`hub_event`).
MESSAGE_TYPE = "hub.event"


def event_record(
    *,
    district: District | int,
    kind: str,
    actor: Actor | None,
    case: Case | None = None,
    incident: Incident | None = None,
    reason: str = "",
    before: str = "",
    after: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    units: Iterable[int] = (),
) -> Event:
    """Append one event; it is relayed once the surrounding transaction commits.

    `actor` is None for the system's own steps (the clock sweep, demo set-up). `units` adds
    the streams of units the event concerns beyond those of its case or incident.
    """
    district_id = district if isinstance(district, int) else district.pk
    # Events are kept forever and fan out to every role of their streams: a phone or ID
    # number typed into a reason or carried in a payload is stored masked, whoever wrote it.
    payload = mask_numbers_in(dict(data or {}))
    reason = mask_numbers_in_text(reason)
    if case is not None:
        payload.setdefault("case_number", case.number)
        payload.setdefault("state", case.state)
        payload.setdefault("unit_id", case.responsible_unit_id)
    if incident is not None:
        payload.setdefault("incident_id", incident.pk)
        payload.setdefault("status", incident.status)
        payload.setdefault("level", incident.level)
    streams = event_streams(district_id, case=case, incident=incident, units=units)
    province_id = None
    if incident is not None and seen_by_province(incident.level, payload.get("level_before")):
        province_id = _province_of(district_id)
        if province_id is not None:
            streams.append(province_stream(province_id))
    # One transaction for the head, the insert and the head's move (no savepoint when the
    # caller's transaction is already open).
    with transaction.atomic(savepoint=False):
        head = _lock_log(district_id, province_id)
        event = Event(
            district_id=district_id,
            case=case,
            incident=incident,
            kind=kind,
            actor_id=actor.user_id if actor else None,
            reason=reason,
            before=before,
            after=after,
            data=payload,
            at=at or timezone.now(),
        )
        chain_seal(head, [event])
        event.save(force_insert=True)
        chain_advance(head, event)
        # One head per stream: `MAX` over a single stream reads one end of the (stream, event)
        # index, where a grouped MAX over several streams reads every entry of them.
        StreamEntry.objects.bulk_create(
            [StreamEntry(stream=s, event=event, prev=stream_head(s)) for s in streams]
        )
    transaction.on_commit(partial(events_relay, district_id))
    return event


def _province_of(district_id: int) -> int | None:
    return District.objects.filter(pk=district_id).values_list("province_id", flat=True).first()


def _lock_log(district_id: int, province_id: int | None = None) -> EventLogHead:
    """Hold the district's log lock until the transaction ends, and the province's row
    too for an event of the province's stream (which spans districts), so that every
    stream's event ids commit in id order. Always district first, then province.

    Returns the district's log head (the end of its hash chain). SQLite takes no row
    locks: its write transactions (IMMEDIATE) already run one at a time.
    """
    locking = connection.features.has_select_for_update
    heads = EventLogHead.objects.select_for_update() if locking else EventLogHead.objects.all()
    head = heads.filter(district_id=district_id).first()
    if head is None:
        EventLogHead.objects.get_or_create(district_id=district_id)
        head = heads.get(district_id=district_id)
    if locking and province_id is not None:
        Province.objects.select_for_update().filter(pk=province_id).exists()
    return head


def lock_log(district_id: int) -> EventLogHead:
    """Take the district's log lock for writers that insert events themselves (the case
    import); they seal them with `chain_seal` and end with `chain_advance`."""
    return _lock_log(district_id)


def chain_seal(head: EventLogHead, events: list[Event]) -> None:
    """Seal unsaved `events`, in the order they will be inserted, onto the district's hash
    chain: each gets the previous one's hash and its own. The caller holds the log lock
    (`lock_log`) and inserts them in this order in the same transaction."""
    prev = head.last_hash or chain.GENESIS
    for event in events:
        event.prev_hash = prev
        event.hash = chain.digest(prev, sealed(event))
        prev = event.hash


def chain_advance(head: EventLogHead, last: Event) -> None:
    """Move the district's log head to `last`, the newest event inserted (its id set)."""
    head.last_event_id, head.last_hash = last.pk, last.hash
    EventLogHead.objects.filter(pk=head.pk).update(last_event_id=last.pk, last_hash=last.hash)


def sealed(event: Event) -> chain.Sealed:
    """What the hash of `event` covers."""
    return chain.Sealed(
        district_id=event.district_id,
        kind=event.kind,
        at=event.at,
        actor_id=event.actor_id,
        case_id=event.case_id,
        incident_id=event.incident_id,
        reason=event.reason,
        before=event.before,
        after=event.after,
        data=event.data,
    )


def event_streams(
    district_id: int,
    *,
    case: Case | None = None,
    incident: Incident | None = None,
    units: Iterable[int] = (),
) -> list[str]:
    """The streams an event about `case` and/or `incident` (and `units`) belongs to."""
    unit_ids: set[int] = set(units)
    incidents: set[int] = set()
    if case is not None:
        if case.responsible_unit_id is not None:
            unit_ids.add(case.responsible_unit_id)
        if case.pk is not None:
            # `.all()` uses a prefetch when the caller made one (the clock sweep does).
            unit_ids.update(u.pk for u in case.assisting_units.all())
            incidents.update(
                i.pk for i in case.incidents.all() if i.status in _OPEN_INCIDENT_STATUSES
            )
    if incident is not None:
        incidents.add(incident.pk)
        unit_ids.add(incident.town_id)
        unit_ids.update(incident.units.values_list("pk", flat=True))
    return [
        district_stream(district_id),
        *(unit_stream(u) for u in sorted(unit_ids)),
        *(incident_stream(i) for i in sorted(incidents)),
    ]


def event_frame(event: Event, *, actor_name: str | None = None) -> dict[str, Any]:
    """The wire form of an event, the same over the API and the socket.

    Give `actor_name` when it is at hand; otherwise `event.actor` is read (select it).
    """
    if actor_name is None and event.actor_id is not None:
        actor_name = event.actor.get_username() if event.actor else None
    return {
        "type": "event",
        "id": event.pk,
        "kind": event.kind,
        "at": timezone.localtime(event.at).isoformat(),
        "actor": actor_name,
        # (Masked again on the way out: events written before numbers were masked at
        # `event_record` keep them.)
        "reason": mask_numbers_in_text(event.reason),
        "before": event.before or None,
        "after": event.after or None,
        "data": mask_numbers_in(event.data),
    }


def stream_events(stream: str, *, after: int = 0, limit: int = 500) -> QuerySet[Event]:
    """The events of `stream` after id `after`, oldest first (what a reader replays)."""
    return (
        Event.objects.filter(entries__stream=stream, id__gt=after)
        .select_related("actor")
        .order_by("id")[:limit]
    )


def stream_latest(stream: str, *, limit: int) -> QuerySet[Event]:
    """The newest `limit` events of `stream`, newest first."""
    return (
        Event.objects.filter(entries__stream=stream).select_related("actor").order_by("-id")[:limit]
    )


def stream_head(stream: str) -> int:
    """The id of the newest event of `stream`, 0 when it has none."""
    return StreamEntry.objects.filter(stream=stream).aggregate(m=Max("event_id"))["m"] or 0


def events_relay(district_id: int, *, batch: int = RELAY_BATCH) -> int:
    """Publish the district's committed events not yet relayed, in id order; never raises.

    Returns how many events were handed to the channel layer.
    """
    layer = get_channel_layer()
    if layer is None:
        return 0
    relayed = 0
    while True:
        try:
            count = _relay_batch(layer, district_id, batch)
        except Exception:
            # The log is the truth: the cursor stays, the next relay or the sweep resumes.
            log.warning("events of district %s not relayed", district_id, exc_info=True)
            return relayed
        relayed += count
        ops_count("events_published", count)
        if count < batch:
            return relayed


def _relay_batch(layer: Any, district_id: int, batch: int) -> int:
    with transaction.atomic():
        relay = EventRelay.objects.select_for_update().filter(district_id=district_id).first()
        if relay is None:
            EventRelay.objects.get_or_create(district_id=district_id)
            relay = EventRelay.objects.select_for_update().get(district_id=district_id)
        events = list(
            Event.objects.filter(district_id=district_id, id__gt=relay.published_id)
            .select_related("actor")
            .prefetch_related("entries")
            .order_by("id")[:batch]
        )
        if not events:
            return 0
        messages = [
            (
                entry.stream,
                {
                    "type": MESSAGE_TYPE,
                    "stream": entry.stream,
                    "prev": entry.prev,
                    "event": frame,
                },
            )
            for event in events
            for frame in [event_frame(event)]
            for entry in event.entries.all()
        ]

        async def send_all() -> None:
            for group, message in messages:
                await layer.group_send(group, message)

        async_to_sync(send_all)()
        relay.published_id = events[-1].pk
        relay.published_at = timezone.now()
        relay.save(update_fields=["published_id", "published_at"])
    return len(events)


def events_relay_all() -> int:
    """Relay every district whose log is ahead of its relay (the periodic catch-up)."""
    relayed = 0
    for district_id in District.objects.values_list("pk", flat=True):
        published = (
            EventRelay.objects.filter(district_id=district_id)
            .values_list("published_id", flat=True)
            .first()
        ) or 0
        if Event.objects.filter(district_id=district_id, id__gt=published).exists():
            relayed += events_relay(district_id)
    return relayed
