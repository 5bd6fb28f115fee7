"""`flush` that lifts the event log's guard for its run (it empties every table, events too).

The test suite resets its database with `flush` between transactional tests; without this
SQLite's triggers would refuse its DELETE and PostgreSQL's its TRUNCATE.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections

from incidents import event_guard


class Command(flush.Command):
    help = flush.Command.help + " The event log's append-only guard is lifted for the run."

    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        event_guard.remove(connection)
        try:
            super().handle(**options)
        finally:
            event_guard.install(connection)
