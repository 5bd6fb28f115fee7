"""The event log's hash chain: each event seals its content with the hash of the one before.

A district's events form one chain in id order. An event's `hash` is the SHA-256 of a
canonical form of its content (district, kind, time, actor, case, incident, reason,
before, after, data) together with `prev_hash`, the hash of the district's previous event
(`GENESIS` for the first). Changing, removing or reordering any event breaks the chain at
that event or the next; `verify` names the first event where it breaks. The district's log
head (`EventLogHead`) keeps the last event's id and hash, so removing the newest events is
seen too.

An anchor is an event's id and hash copied out of the database (the daily check's log line,
the situation report, `verify_events`' output): someone able to rewrite the table can
rewrite a chain from the event they changed to its head so that it holds again, but not
the copies elsewhere, and `verify` with the anchors names the anchored event whose hash
moved.

The canonical form is versioned (`VERSION`): a future change of what is sealed writes a new
version and leaves old events verifiable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VERSION = "hub-event-v1"
GENESIS = "0" * 64


@dataclass(frozen=True)
class Sealed:
    """What an event's hash covers."""

    district_id: int
    kind: str
    at: datetime
    actor_id: int | None
    case_id: int | None
    incident_id: int | None
    reason: str
    before: str
    after: str
    data: Any


def normal_data(data: Any) -> Any:
    """`data` as the database gives it back: JSON types only, object keys as strings, and
    whole floats as integers (PostgreSQL's jsonb writes 1e16 back as 10000000000000000)."""
    return _whole_floats(json.loads(json.dumps(data)))


def _whole_floats(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_floats(v) for k, v in value.items()}
    return value


def digest(prev_hash: str, event: Sealed) -> str:
    """The hash of `event` following an event whose hash is `prev_hash`."""
    body = [
        VERSION,
        prev_hash,
        event.district_id,
        event.kind,
        event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        event.actor_id,
        event.case_id,
        event.incident_id,
        event.reason,
        event.before,
        event.after,
        normal_data(event.data),
    ]
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored event as the verifier reads it."""

    id: int
    prev_hash: str
    hash: str
    sealed: Sealed


@dataclass(frozen=True)
class Break:
    """Where a chain stops holding: the first event that does not follow, and why."""

    event_id: int
    reason: str


@dataclass(frozen=True)
class Checked:
    count: int
    last_id: int
    last_hash: str
    broken: Break | None


def verify(
    links: Iterable[Link],
    *,
    head_id: int | None = None,
    head_hash: str = "",
    anchors: Mapping[int, str] | None = None,
) -> Checked:
    """Walk one district's events in id order; the first break, or None when it holds.

    `head_id`/`head_hash` are the log head's record of the newest event: events removed
    from the end of the chain show as a head the walk never reached. `anchors` (event id to
    hash) are hashes kept outside the database: an event met whose hash differs breaks the
    chain there ("anchor"), though it follows from its predecessor. Anchors of events the
    walk does not meet are the caller's to report (they may be of another district).
    """
    anchors = anchors or {}
    prev = GENESIS
    count = 0
    last_id = 0
    for link in links:
        count += 1
        if link.prev_hash != prev:
            return Checked(count, link.id, prev, Break(link.id, "previous-hash"))
        if digest(prev, link.sealed) != link.hash:
            return Checked(count, link.id, prev, Break(link.id, "content"))
        if link.id in anchors and anchors[link.id] != link.hash:
            return Checked(count, link.id, prev, Break(link.id, "anchor"))
        prev = link.hash
        last_id = link.id
    if head_id is not None and (head_id, head_hash or GENESIS) != (last_id, prev):
        return Checked(count, last_id, prev, Break(head_id or last_id, "head"))
    return Checked(count, last_id, prev, None)


_ANCHOR = re.compile(r"#?(?P<id>[0-9]{1,18}):(?P<hash>[0-9a-f]{64})")


def anchor_parse(text: str) -> tuple[int, str]:
    """`"<event id>:<sha256 hex>"` (a leading `#` allowed) as (id, hash); ValueError if not."""
    found = _ANCHOR.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(f"not an anchor (event id, a colon, 64 hex digits): {text!r}")
    return int(found["id"]), found["hash"]


def anchor_text(event_id: int, event_hash: str) -> str:
    """How an anchor is written out, to be read back by `anchor_parse`."""
    return f"{event_id}:{event_hash}"
