"""Anchors: event hashes kept outside the database catch a chain rewritten to hold again.

Someone with the database owner's rights can lift the guard, change an event and recompute
every hash after it and the log head: the chain holds again and `verify_events` alone says
OK. An anchor (`<event id>:<hash>`) copied out before (the daily check's log line, a printed
situation report, an earlier `verify_events`) no longer matches, and names the event.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents import event_guard
from incidents.domain import chain
from incidents.models import District, Event, EventLogHead
from incidents.services.event_chain import district_links
from incidents.tasks import verify_event_chains
from tests.incidents.test_event_chain import (
    chained,
    head_of,
    sealed_events,
    verify_events,
    verify_refused,
)
from tests.test_situation_report import drafted_today

# --- the rule ---------------------------------------------------------------------------------


@settings(max_examples=50)
@given(st.lists(sealed_events, min_size=2, max_size=6), st.data())
def test_a_chain_rewritten_to_hold_breaks_at_each_anchor_at_or_after_the_change(
    events: list[chain.Sealed], data: st.DataObject
) -> None:
    links = chained(events)
    anchors = {link.id: link.hash for link in links}  # copied out before the rewrite
    n = data.draw(st.integers(0, len(events) - 1))
    events[n] = chain.Sealed(**{**events[n].__dict__, "reason": events[n].reason + "改"})
    rewritten = chained(events)  # every hash from the change on recomputed
    assert chain.verify(rewritten, **head_of(rewritten)).broken is None
    for anchored in links:
        checked = chain.verify(
            rewritten, **head_of(rewritten), anchors={anchored.id: anchors[anchored.id]}
        )
        if anchored.id < n + 1:
            assert checked.broken is None  # before the change: still the same hash
        else:
            assert checked.broken == chain.Break(anchored.id, "anchor")


def test_anchors_of_events_the_walk_does_not_meet_are_left_to_the_caller() -> None:
    links = chained([chain.Sealed(1, "k", timezone.now(), None, None, None, "", "", "", {})])
    assert chain.verify(links, **head_of(links), anchors={99: "0" * 64}).broken is None


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (f"12:{'ab' * 32}", (12, "ab" * 32)),
        (f" #12:{'AB' * 32}\n", (12, "ab" * 32)),
    ],
)
def test_an_anchor_is_read_back_as_written(text: str, parsed: tuple[int, str]) -> None:
    assert chain.anchor_parse(text) == parsed
    assert chain.anchor_parse(chain.anchor_text(*parsed)) == parsed


@pytest.mark.parametrize(
    "text", ["", "12", f"12:{'a' * 63}", f"12:{'g' * 64}", f"x:{'a' * 64}", f"1:{'a' * 64}:2"]
)
def test_a_malformed_anchor_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an anchor"):
        chain.anchor_parse(text)


# --- against the database ----------------------------------------------------------------------


def rewrite_from(district_id: int, victim_id: int, reason: str) -> None:
    """The attack: change an event, then recompute every hash after it and the log head."""
    event_guard.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE incidents_event SET reason = %s WHERE id = %s", [reason, victim_id]
            )
            prev = chain.GENESIS
            for link in list(district_links(district_id)):
                h = chain.digest(prev, link.sealed)
                cursor.execute(
                    "UPDATE incidents_event SET prev_hash = %s, hash = %s WHERE id = %s",
                    [prev, h, link.id],
                )
                prev = h
        EventLogHead.objects.filter(district_id=district_id).update(last_hash=prev)
    finally:
        event_guard.install(connection)


def anchor_of(event: Event) -> str:
    event.refresh_from_db()
    return chain.anchor_text(event.pk, event.hash)


def test_verify_events_prints_each_head_as_an_anchor_that_checks_out(
    district: District, logged: list[Event]
) -> None:
    out, _err = verify_events()
    anchor = anchor_of(logged[-1])
    assert f"anchor {anchor}" in out
    out, err = verify_events("--anchor", anchor, "--anchor", anchor_of(logged[0]))
    assert "every chain holds, 2 anchor(s) match" in out
    assert err == ""


def test_a_rewritten_chain_holds_alone_and_breaks_at_its_anchor(
    district: District, logged: list[Event]
) -> None:
    kept = anchor_of(logged[-1])  # yesterday's head, printed in the situation report
    before = anchor_of(logged[0])
    rewrite_from(district.pk, logged[1].pk, "改写的理由")
    out, _err = verify_events()
    assert "every chain holds" in out  # the rewrite is invisible without an anchor
    report = verify_refused("--anchor", kept)
    assert f"event #{logged[-1].pk} does not have the hash its anchor kept" in report
    out, _err = verify_events("--anchor", before)  # older than the change: still holds
    assert "1 anchor(s) match" in out


def test_an_anchor_whose_event_is_gone_or_malformed_is_refused(logged: list[Event]) -> None:
    missing = chain.anchor_text(logged[-1].pk + 1000, "a" * 64)
    assert f"event #{logged[-1].pk + 1000} of an anchor is not in the log" in verify_refused(
        "--anchor", missing
    )
    assert "not an anchor" in verify_refused("--anchor", "12:34")
    assert "two different anchors" in verify_refused(
        "--anchor", f"{logged[0].pk}:{'a' * 64}", "--anchor", f"{logged[0].pk}:{'b' * 64}"
    )


def test_the_daily_check_logs_each_head_as_an_anchor(
    district: District, logged: list[Event], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="incidents.services.event_chain"):
        assert verify_event_chains() == 0
    assert f"event log of district {district.pk} holds" in caplog.text
    assert f"anchor {anchor_of(logged[-1])}" in caplog.text


def test_the_situation_report_prints_the_head_as_an_anchor(
    district: District, logged: list[Event]
) -> None:
    report = drafted_today(district)
    head = EventLogHead.objects.get(district=district)
    anchor = chain.anchor_text(head.last_event_id, head.last_hash)
    assert report.figures["event_log"] == {"anchor": anchor}
    client = Client()
    client.force_login(User.objects.get(username="command"))
    page = client.get(f"/reports/situation/{report.pk}/").content.decode()
    assert 'id="table-event-log"' in page
    assert anchor in page
    out, _err = verify_events("--anchor", anchor)
    assert "1 anchor(s) match" in out
