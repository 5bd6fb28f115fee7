"""The event log's streams and its relay to the channel layer.

- each event is entered in the streams that may see it, each entry naming the stream's
  previous event;
- the relay publishes every committed event once, in id order, per stream;
- a relay that fails (Redis down) leaves its cursor, and the next relay publishes the
  backlog in order;
- under concurrent writers, what the relay publishes is complete and rising.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from incidents.domain.streams import district_stream, incident_stream, unit_stream
from incidents.events import events_relay, events_relay_all, stream_events, stream_head
from incidents.models import Event, EventRelay, StreamEntry, Unit
from incidents.services.event_chain import district_verify
from tests.live.helpers import incident_open, register_case

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """A stand-in channel layer that keeps what was sent, per group, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        self.lock = threading.Lock()
        self.baseline = 0

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("Redis is down")
        with self.lock:
            self.sent.append((group, message))

    def ids(self, group: str) -> list[int]:
        return [m["event"]["id"] for g, m in self.sent if g == group]


@pytest.fixture
def layer(district: Any) -> Iterator[Recorder]:
    """The recorder, from after the district's set-up (whose events went to the real layer)."""
    recorder = Recorder()
    recorder.baseline = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with mock.patch("incidents.events.get_channel_layer", return_value=recorder):
        yield recorder


def test_events_enter_the_streams_that_may_see_them(district: Any, layer: Recorder) -> None:
    case = register_case(project_type="real_estate", workers=40)
    housing = Unit.objects.get(district=district, code="housing")
    lianshi = Unit.objects.get(district=district, code="lianshi")
    registered, dispatched = Event.objects.filter(case=case).order_by("id")
    streams = set(dispatched.entries.values_list("stream", flat=True))
    assert streams == {
        district_stream(district.pk),
        unit_stream(housing.pk),  # responsible
        unit_stream(lianshi.pk),  # assisting (the territory of a housing case)
    }
    assert set(registered.entries.values_list("stream", flat=True)) == {
        district_stream(district.pk)
    }

    incident = incident_open("command", cases=[case.number])
    reported = Event.objects.get(incident=incident, kind="incident.reported")
    room = incident_stream(incident.pk)
    assert room in set(reported.entries.values_list("stream", flat=True))
    # A linked case's later events are part of the room.
    from incidents.domain.lifecycle import Action
    from incidents.policy import actor_for
    from incidents.services import TransitionInput, case_transition

    command = actor_for(incident.reported_by)
    case_transition(
        actor=command, case_number=case.number, change=TransitionInput(action=Action.ACCEPT)
    )
    accepted = Event.objects.filter(case=case, kind="case.accept").get()
    assert room in set(accepted.entries.values_list("stream", flat=True))
    in_room = list(stream_events(room))
    assert [e.pk for e in in_room if not e.kind.startswith("alert.")] == [reported.pk, accepted.pk]
    # The SMS alerts raised for the incident are part of the room too.
    assert {e.kind for e in in_room} > {"incident.reported", "case.accept"}
    assert stream_head(room) == accepted.pk


def test_each_entry_names_the_streams_previous_event(district: Any, layer: Recorder) -> None:
    for _ in range(3):
        register_case()
    stream = district_stream(district.pk)
    entries = list(StreamEntry.objects.filter(stream=stream).order_by("event_id"))
    assert entries[0].prev == 0
    for before, entry in itertools.pairwise(entries):
        assert entry.prev == before.event_id


def test_the_relay_publishes_each_event_once_in_order(district: Any, layer: Recorder) -> None:
    for _ in range(4):
        register_case()
    stream = district_stream(district.pk)
    expected = list(
        StreamEntry.objects.filter(stream=stream, event_id__gt=layer.baseline)
        .order_by("event_id")
        .values_list("event_id", flat=True)
    )
    assert layer.ids(stream) == expected
    assert events_relay(district.pk) == 0  # nothing left
    assert EventRelay.objects.get(district=district).published_id == expected[-1]
    message = next(m for g, m in layer.sent if g == stream)
    assert message["type"] == "hub.event"
    assert message["stream"] == stream
    assert message["prev"] == layer.baseline


def test_a_failed_relay_is_caught_up_in_order_when_the_layer_returns(
    district: Any, layer: Recorder
) -> None:
    register_case()
    published = EventRelay.objects.get(district=district).published_id
    layer.fail = True
    cases = [register_case() for _ in range(3)]  # accepted while Redis is down
    assert EventRelay.objects.get(district=district).published_id == published
    stream = district_stream(district.pk)
    sent_before = layer.ids(stream)

    layer.fail = False
    assert events_relay_all() == 6
    caught_up = layer.ids(stream)[len(sent_before) :]
    assert caught_up == sorted(caught_up)
    assert {e.data["case_number"] for e in Event.objects.filter(pk__in=caught_up)} == {
        c.number for c in cases
    }
    assert events_relay_all() == 0


def test_relaying_without_a_channel_layer_does_nothing(district: Any) -> None:
    with mock.patch("incidents.events.get_channel_layer", return_value=None):
        register_case()
        assert events_relay(district.pk) == 0


def test_concurrent_writers_are_relayed_completely_and_in_order(
    district: Any, layer: Recorder
) -> None:
    # The race exists on PostgreSQL; SQLite runs one writer at a time and must pass too.
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(5):
                register_case()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    events_relay(district.pk)
    stream = district_stream(district.pk)
    sent = layer.ids(stream)
    all_ids = list(
        Event.objects.filter(district=district, id__gt=layer.baseline)
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert sorted(set(sent)) == all_ids  # nothing lost
    # In order: each id is sent after every smaller one (repeats after a retry aside).
    first_seen = list(dict.fromkeys(sent))
    assert first_seen == sorted(first_seen)
    # The concurrent writers chained their events one after another: the hash chain holds.
    assert district_verify(district.pk).broken is None


def test_the_dashboard_stream_gets_events_from_async_code_too(district: Any) -> None:
    """A real in-memory layer: what the relay sends is what a consumer's channel receives."""
    real = get_channel_layer()
    channel = async_to_sync(real.new_channel)()
    async_to_sync(real.group_add)(district_stream(district.pk), channel)
    case = register_case()
    message = async_to_sync(real.receive)(channel)
    assert message["event"]["data"]["case_number"] == case.number
