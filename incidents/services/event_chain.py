"""Checking the event log's hash chain against the database (`manage.py verify_events`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from command_center.ops.store import count as ops_count
from incidents.domain import chain
from incidents.models import Event, EventLogHead

log = logging.getLogger(__name__)

BATCH = 5000
_FIELDS = (
    "id",
    "prev_hash",
    "hash",
    "district_id",
    "kind",
    "at",
    "actor_id",
    "case_id",
    "incident_id",
    "reason",
    "before",
    "after",
    "data",
)


def district_links(district_id: int) -> Iterator[chain.Link]:
    """The district's events in id order, as the verifier reads them, in batches."""
    after = 0
    while True:
        rows = list(
            Event.objects.filter(district_id=district_id, id__gt=after)
            .order_by("id")
            .values_list(*_FIELDS)[:BATCH]
        )
        for pk, prev_hash, hash_, *content in rows:
            yield chain.Link(pk, prev_hash, hash_, chain.Sealed(*content))
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def district_verify(district_id: int, anchors: Mapping[int, str] | None = None) -> chain.Checked:
    """Walk the district's chain up to its log head; the first break, if any. `anchors`:
    event hashes kept outside the database (see `chain.verify`)."""
    head = (
        EventLogHead.objects.filter(district_id=district_id)
        .values_list("last_event_id", "last_hash")
        .first()
    )
    head_id, head_hash = head if head is not None else (0, "")
    return chain.verify(
        district_links(district_id), head_id=head_id, head_hash=head_hash, anchors=anchors
    )


def districts_with_events() -> list[int]:
    """Every district that has an event or a log head."""
    ids = set(Event.objects.values_list("district_id", flat=True).distinct().order_by())
    ids.update(EventLogHead.objects.exclude(last_event_id=0).values_list("district_id", flat=True))
    return sorted(ids)


def chains_check() -> int:
    """Verify every district's chain (the periodic check); log each break CRITICAL and count
    it (`hub_event_chain_breaks`). Returns how many districts' chains are broken.

    A chain that holds is logged at INFO with its head as an anchor (`<id>:<hash>`): logs
    shipped off the machine keep a copy of each day's head that the database's owner cannot
    rewrite, for `verify_events --anchor`.
    """
    broken = 0
    for district_id in districts_with_events():
        checked = district_verify(district_id)
        where = checked.broken
        if where is None:
            log.info(
                "event log of district %s holds: %s events; anchor %s",
                district_id,
                checked.count,
                chain.anchor_text(checked.last_id, checked.last_hash),
            )
        else:
            broken += 1
            log.critical(
                "event log of district %s: hash chain broken at event #%s (%s); "
                "run `manage.py verify_events` and restore from a backup",
                district_id,
                where.event_id,
                where.reason,
            )
    ops_count("event_chain_breaks", broken)
    return broken
