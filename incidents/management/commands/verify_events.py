"""Check that the event log's hash chain holds; exit non-zero naming the first broken event.

`--anchor <id>:<hash>` (repeatable) also checks events against hashes kept outside the
database: the daily check's log lines, a printed situation report, an earlier run's output.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from incidents import event_guard
from incidents.domain import chain
from incidents.models import District, Event
from incidents.services.event_chain import district_verify, districts_with_events

REASONS = {
    "previous-hash": "does not carry the hash of the event before it (one was changed, "
    "removed or inserted before it)",
    "content": "was changed after it was written (its content no longer matches its hash)",
    "head": "is where the log head points, but the chain ends elsewhere (events were "
    "removed from the end, or the head was changed)",
    "anchor": "does not have the hash its anchor kept (the chain was rewritten up to or past it)",
}


class Command(BaseCommand):
    help = (
        "Recompute each district's event hash chain. Exits 0 when every chain holds and "
        "every --anchor matches; otherwise 1, naming the first broken event of each broken "
        "district and each anchor that does not match."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--district", type=int, action="append", help="only this district id (repeatable)"
        )
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="ID:HASH",
            help="an event's id and hash kept outside the database (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = self.anchors(options["anchor"])
        ids = options["district"] or districts_with_events()
        names = dict(District.objects.filter(pk__in=ids).values_list("pk", "name_en"))
        broken: list[str] = []
        total = 0
        for district_id in ids:
            checked = district_verify(district_id, anchors)
            total += checked.count
            label = f"district {district_id} ({names.get(district_id, '?')})"
            if checked.broken is None:
                self.stdout.write(
                    f"{label}: {checked.count} events, chain holds up to event #{checked.last_id}"
                    f"; anchor {chain.anchor_text(checked.last_id, checked.last_hash)}"
                )
                continue
            where = checked.broken
            line = f"{label}: event #{where.event_id} {REASONS[where.reason]}"
            self.stderr.write(f"BROKEN {line}")
            broken.append(line)
        if not event_guard.installed(connection):
            self.stderr.write(
                "WARNING the events table has no append-only guard (run `manage.py migrate`)"
            )
        kept = Event.objects.filter(pk__in=anchors, district_id__in=ids).values_list(
            "pk", flat=True
        )
        for event_id in sorted(set(anchors) - set(kept)):
            line = f"event #{event_id} of an anchor is not in the log checked (removed?)"
            self.stderr.write(f"BROKEN {line}")
            broken.append(line)
        if broken:
            raise CommandError(
                f"the event log's chain is broken in {len(broken)} place(s); first: {broken[0]}"
            )
        held = f", {len(anchors)} anchor(s) match" if anchors else ""
        self.stdout.write(f"OK: {total} events in {len(ids)} district(s), every chain holds{held}")

    @staticmethod
    def anchors(texts: list[str]) -> dict[int, str]:
        anchors: dict[int, str] = {}
        for text in texts:
            try:
                event_id, event_hash = chain.anchor_parse(text)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            if anchors.setdefault(event_id, event_hash) != event_hash:
                raise CommandError(f"two different anchors for event #{event_id}")
        return anchors
