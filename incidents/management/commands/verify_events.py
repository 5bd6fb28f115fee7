"""Check that the event log's hash chain holds; exit non-zero naming the first broken event."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from incidents import event_guard
from incidents.models import District
from incidents.services.event_chain import district_verify, districts_with_events

REASONS = {
    "previous-hash": "does not carry the hash of the event before it (one was changed, "
    "removed or inserted before it)",
    "content": "was changed after it was written (its content no longer matches its hash)",
    "head": "is where the log head points, but the chain ends elsewhere (events were "
    "removed from the end, or the head was changed)",
}


class Command(BaseCommand):
    help = (
        "Recompute each district's event hash chain. Exits 0 when every chain holds; "
        "otherwise 1, naming the first broken event of each broken district."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--district", type=int, action="append", help="only this district id (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = options["district"] or districts_with_events()
        names = dict(District.objects.filter(pk__in=ids).values_list("pk", "name_en"))
        broken: list[str] = []
        total = 0
        for district_id in ids:
            checked = district_verify(district_id)
            total += checked.count
            label = f"district {district_id} ({names.get(district_id, '?')})"
            if checked.broken is None:
                self.stdout.write(
                    f"{label}: {checked.count} events, chain holds up to event #{checked.last_id}"
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
        if broken:
            raise CommandError(
                f"the event log's chain is broken in {len(broken)} district(s); first: {broken[0]}"
            )
        self.stdout.write(f"OK: {total} events in {len(ids)} district(s), every chain holds")
