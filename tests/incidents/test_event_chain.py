"""The tamper-evident event log.

- each event carries the hash of its district's previous event, and its own over its
  content: any change, removal or reordering breaks the chain at a named event;
- `manage.py verify_events` exits 0 when every chain holds and non-zero, naming the first
  broken event, otherwise;
- the database itself refuses UPDATE and DELETE of events (TRUNCATE too, on PostgreSQL);
- events written by the case import and by concurrent writers chain like the rest, and the
  migration chains the events written before the log was sealed.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import logging
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from command_center.ops import store as ops_store
from incidents import event_guard
from incidents.domain import chain
from incidents.models import District, Event, EventLogHead
from incidents.services.event_chain import district_verify
from incidents.tasks import verify_event_chains
from tests.incidents.test_import_cases import row, run, write
from tests.live.helpers import register_case

# --- the chain as a pure rule -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
sealed_events = st.builds(
    chain.Sealed,
    district_id=st.integers(1, 3),
    kind=st.sampled_from(["case.registered", "case.accept", "incident.update"]),
    at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    actor_id=st.none() | st.integers(1, 50),
    case_id=st.none() | st.integers(1, 50),
    incident_id=st.none() | st.integers(1, 50),
    reason=st.text(max_size=10),
    before=st.sampled_from(["", "registered", "accepted"]),
    after=st.sampled_from(["", "accepted", "resolved"]),
    data=st.dictionaries(st.text(max_size=5), json_values, max_size=4),
)


def chained(events: list[chain.Sealed]) -> list[chain.Link]:
    links, prev = [], chain.GENESIS
    for n, event in enumerate(events, start=1):
        h = chain.digest(prev, event)
        links.append(chain.Link(n, prev, h, event))
        prev = h
    return links


def head_of(links: list[chain.Link]) -> dict[str, Any]:
    return {"head_id": links[-1].id, "head_hash": links[-1].hash} if links else {"head_id": 0}


@settings(max_examples=50)
@given(st.lists(sealed_events, max_size=6))
def test_an_untouched_chain_holds(events: list[chain.Sealed]) -> None:
    links = chained(events)
    checked = chain.verify(links, **head_of(links))
    assert checked.broken is None
    assert checked.count == len(events)


@settings(max_examples=50)
@given(st.lists(sealed_events, min_size=1, max_size=6), st.data())
def test_changing_any_field_of_any_event_breaks_the_chain_at_that_event(
    events: list[chain.Sealed], data: st.DataObject
) -> None:
    links = chained(events)
    n = data.draw(st.integers(0, len(links) - 1))
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(chain.Sealed)]))
    original = getattr(links[n].sealed, field)
    changed: Any
    if field == "at":
        changed = original + timedelta(microseconds=1)
    elif field == "data":
        changed = {**original, "tampered": True}
    elif isinstance(original, str):
        changed = original + "x"
    else:
        changed = (original or 0) + 1
    links[n] = dataclasses.replace(
        links[n], sealed=dataclasses.replace(links[n].sealed, **{field: changed})
    )
    checked = chain.verify(links, **head_of(links))
    assert checked.broken == chain.Break(n + 1, "content")


@settings(max_examples=50)
@given(st.lists(sealed_events, min_size=3, max_size=6), st.data())
def test_removing_or_swapping_events_breaks_the_chain_where_it_happened(
    events: list[chain.Sealed], data: st.DataObject
) -> None:
    links = chained(events)
    head = head_of(links)
    n = data.draw(st.integers(0, len(links) - 2))
    removed = links[:n] + links[n + 1 :]
    assert chain.verify(removed, **head).broken == chain.Break(links[n + 1].id, "previous-hash")
    swapped = [*links[:n], links[n + 1], links[n], *links[n + 2 :]]
    assert chain.verify(swapped, **head).broken is not None
    # The newest events removed: only the log head still names the last one.
    assert chain.verify(links[:-1], **head).broken == chain.Break(links[-1].id, "head")


def test_the_hash_reads_data_as_the_database_gives_it_back() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    base = chain.Sealed(1, "k", at, None, None, None, "", "", "", {"n": 1e16, "x": 2.0})
    back = dataclasses.replace(base, data={"n": 10**16, "x": 2})
    other = dataclasses.replace(base, data={"n": 1, "x": 2})
    assert chain.digest(chain.GENESIS, base) == chain.digest(chain.GENESIS, back)
    assert chain.digest(chain.GENESIS, base) != chain.digest(chain.GENESIS, other)


# --- the log in the database --------------------------------------------------------------------


def verify_events(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify_events", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_refused(*args: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_events", *args, stdout=StringIO(), stderr=err)
    return f"{caught.value}\n{err.getvalue()}"


def tamper(sql: str, params: list[Any]) -> None:
    """What someone with the database's owner rights could do: lift the guard and write."""
    event_guard.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    event_guard.install(connection)


def test_each_event_carries_the_hash_of_the_one_before(
    district: District, logged: list[Event]
) -> None:
    assert logged[0].prev_hash == chain.GENESIS
    for before, after in itertools.pairwise(logged):
        assert after.prev_hash == before.hash
        assert len(after.hash) == 64
    head = EventLogHead.objects.get(district=district)
    assert (head.last_event_id, head.last_hash) == (logged[-1].pk, logged[-1].hash)


def test_verify_events_exits_0_when_every_chain_holds(
    district: District, logged: list[Event]
) -> None:
    out, err = verify_events()
    assert f"{len(logged)} events, chain holds up to event #{logged[-1].pk}" in out
    assert "OK:" in out
    assert err == ""


def test_the_database_refuses_to_change_or_delete_an_event(logged: list[Event]) -> None:
    event = logged[1]
    attempts = [
        ("UPDATE incidents_event SET reason = 'edited' WHERE id = %s", [event.pk]),
        ("DELETE FROM incidents_event WHERE id = %s", [event.pk]),
        ("DELETE FROM incidents_event", []),
    ]
    if connection.vendor == "postgresql":
        # (The test's own transaction has deferred foreign-key checks pending, which
        # TRUNCATE would refuse first; checking them now leaves only the guard to refuse.)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        attempts.append(("TRUNCATE incidents_event CASCADE", []))
    for sql, params in attempts:
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(reason="edited")
    event.refresh_from_db()
    assert event.reason == ""
    assert Event.objects.count() == len(logged)
    assert event_guard.installed(connection)


def test_a_changed_event_is_named(logged: list[Event]) -> None:
    victim = logged[1]
    tamper("UPDATE incidents_event SET reason = %s WHERE id = %s", ["edited", victim.pk])
    report = verify_refused()
    assert f"event #{victim.pk} was changed after it was written" in report


def test_the_periodic_check_logs_and_counts_a_broken_chain(
    logged: list[Event], caplog: pytest.LogCaptureFixture
) -> None:
    before = ops_store.counters().get("event_chain_breaks", 0)
    assert verify_event_chains() == 0
    tamper("UPDATE incidents_event SET data = %s WHERE id = %s", ['{"x": 1}', logged[0].pk])
    with caplog.at_level(logging.CRITICAL, logger="incidents.services.event_chain"):
        assert verify_event_chains() == 1
    assert f"hash chain broken at event #{logged[0].pk}" in caplog.text
    assert ops_store.counters().get("event_chain_breaks", 0) == before + 1


def test_a_removed_event_is_named_by_the_one_after_it(logged: list[Event]) -> None:
    tamper("DELETE FROM incidents_streamentry WHERE event_id = %s", [logged[1].pk])
    tamper("DELETE FROM incidents_event WHERE id = %s", [logged[1].pk])
    report = verify_refused()
    assert f"event #{logged[2].pk} does not carry the hash of the event before it" in report


def test_removing_the_newest_events_is_seen_at_the_head(logged: list[Event]) -> None:
    last = logged[-1]
    tamper("DELETE FROM incidents_streamentry WHERE event_id = %s", [last.pk])
    tamper("DELETE FROM incidents_event WHERE id = %s", [last.pk])
    report = verify_refused()
    assert f"event #{last.pk} is where the log head points" in report


def test_verify_events_warns_when_the_guard_is_gone(logged: list[Event]) -> None:
    event_guard.remove(connection)
    _out, err = verify_events()
    assert "no append-only guard" in err
    event_guard.install(connection)


def test_imported_cases_chain_onto_the_live_log(
    district: District, logged: list[Event], tmp_path: Path, sms_in_memory: Any
) -> None:
    run(write(tmp_path, [row(n) for n in range(1, 6)]))
    register_case()  # a live event after the import chains onto the imported ones
    assert Event.objects.filter(district=district).count() > len(logged) + 10
    assert district_verify(district.pk).broken is None
    verify_events()


def test_the_migration_chains_events_written_before_the_seal(
    district: District, logged: list[Event]
) -> None:
    tamper("UPDATE incidents_event SET prev_hash = '', hash = ''", [])
    EventLogHead.objects.update(last_event_id=0, last_hash="")
    assert district_verify(district.pk).broken is not None
    migration = importlib.import_module("incidents.migrations.0009_event_chain")
    event_guard.remove(connection)
    migration.seal_existing(django_apps, None)
    event_guard.install(connection)
    assert district_verify(district.pk).broken is None
    resealed = list(Event.objects.filter(district=district).order_by("id"))
    assert [e.hash for e in resealed] == [e.hash for e in logged]
