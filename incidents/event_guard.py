"""The database refuses updates and deletes of events: the log is append-only.

Triggers on `incidents_event` (installed after every `migrate`, see `incidents.signals`):
on PostgreSQL one row trigger refuses UPDATE and DELETE and one statement trigger refuses
TRUNCATE; on SQLite two row triggers refuse UPDATE and DELETE. Either way the statement
fails with an integrity error (`django.db.IntegrityError`) and changes nothing.

Only a schema change lifts the guard: `manage.py flush` (which empties every table, the
test suite's reset between transactional tests) drops the triggers for its run and puts
them back (`incidents/management/commands/flush.py`). Someone able to drop triggers can
still change rows; the hash chain (`incidents.domain.chain`, `manage.py verify_events`)
shows where they did.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "incidents_event"

_PG_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the event log is append-only: % of {TABLE} refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()",
    f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()",
]
_PG_REMOVE = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
]
_SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, 'the event log is append-only: {op} of {TABLE} refused'); END"
    for op in ("UPDATE", "DELETE")
]
_SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_{op}" for op in ("update", "delete")]


def _statements(connection: BaseDatabaseWrapper, *, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        return _PG_INSTALL if install else _PG_REMOVE
    if connection.vendor == "sqlite":
        return _SQLITE_INSTALL if install else _SQLITE_REMOVE
    return []


def install(connection: BaseDatabaseWrapper) -> bool:
    """Put the guard on the events table if it exists; False when there is no table."""
    if TABLE not in connection.introspection.table_names():
        return False
    with connection.cursor() as cursor:
        for sql in _statements(connection, install=True):
            cursor.execute(sql)
    return True


def remove(connection: BaseDatabaseWrapper) -> None:
    """Lift the guard (schema maintenance only: `flush`)."""
    if TABLE not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        for sql in _statements(connection, install=False):
            cursor.execute(sql)


def installed(connection: BaseDatabaseWrapper) -> bool:
    """Whether the events table has its guard (what `verify_events` also reports)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND tgname IN (%s, %s) AND tgenabled <> 'D'",
                [TABLE, f"{TABLE}_no_change", f"{TABLE}_no_truncate"],
            )
            return bool(cursor.fetchone()[0] == 2)
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                "AND name IN (%s, %s)",
                [TABLE, f"{TABLE}_no_update", f"{TABLE}_no_delete"],
            )
            return bool(cursor.fetchone()[0] == 2)
    return False
