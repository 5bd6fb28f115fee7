"""Writing the event log, and publishing each event after its transaction commits.

The channel layer is only the fast path: a publish that fails is logged and dropped, and a
client that missed it replays from the log. Group names are per district (`district.<id>`)
and per case (`case.<number>`); the consumers that read them come with the live dashboard.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from incidents.models import Case, District, Event
from incidents.policy import Actor

log = logging.getLogger(__name__)


def event_record(
    *,
    district: District | int,
    kind: str,
    actor: Actor | None,
    case: Case | None = None,
    reason: str = "",
    before: str = "",
    after: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Append one event; it is published once the surrounding transaction commits.

    `actor` is None for the system's own steps (the clock sweep, demo set-up).
    """
    district_id = district if isinstance(district, int) else district.pk
    payload = dict(data or {})
    if case is not None:
        payload.setdefault("case_number", case.number)
    event = Event.objects.create(
        district_id=district_id,
        case=case,
        kind=kind,
        actor_id=actor.user_id if actor else None,
        reason=reason,
        before=before,
        after=after,
        data=payload,
        at=at or timezone.now(),
    )
    frame = event_frame(event, actor_name=actor.username if actor else None)
    transaction.on_commit(partial(event_publish, frame, event_groups(event)))
    return event


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
        "reason": event.reason,
        "before": event.before or None,
        "after": event.after or None,
        "data": event.data,
    }


def event_groups(event: Event) -> list[str]:
    groups = [f"district.{event.district_id}"]
    number = event.data.get("case_number")
    if number:
        groups.append(f"case.{number}")
    return groups


def event_publish(frame: dict[str, Any], groups: list[str]) -> None:
    """Send one committed event's frame to the groups that watch it; never raises."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "hub.event", "event": frame}

    async def send_all() -> None:
        for group in groups:
            await layer.group_send(group, message)

    try:
        async_to_sync(send_all)()
    except Exception:
        # The log is the truth; a reader that missed this frame replays it.
        log.warning("event %s not published to the channel layer", frame["id"], exc_info=True)
