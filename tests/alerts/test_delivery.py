"""SMS delivery rules: statuses only move forward, provider error classes, retry backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.delivery import (
    FINAL_STATUSES,
    PROVIDER_STATUSES,
    SmsStatus,
    is_permanent,
    retry_at,
    status_moves,
)

Q, SENDING, SENT = SmsStatus.QUEUED, SmsStatus.SENDING, SmsStatus.SENT
DELIVERED, UNDELIVERED, FAILED = SmsStatus.DELIVERED, SmsStatus.UNDELIVERED, SmsStatus.FAILED
FINALS = (DELIVERED, UNDELIVERED, FAILED)
# The order the statuses take: the spec these tests hold status_moves to.
RANK = {Q: 0, SENDING: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 3, FAILED: 3}
NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


# --- status order --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Q, SENDING),
        (Q, SENT),
        (Q, DELIVERED),
        (Q, FAILED),
        (SENDING, SENT),
        (SENDING, DELIVERED),
        (SENDING, UNDELIVERED),
        (SENDING, FAILED),
        (SENT, DELIVERED),
        (SENT, UNDELIVERED),
        (SENT, FAILED),
    ],
)
def test_a_status_moves_forward(current: SmsStatus, new: SmsStatus) -> None:
    assert status_moves(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (DELIVERED, SENT),  # a late "sent" after the delivery receipt
        (SENT, SENDING),
        (SENT, Q),
        (SENDING, Q),
        *[(final, new) for final in FINALS for new in SmsStatus],
        *[(status, status) for status in SmsStatus],
    ],
)
def test_a_status_never_moves_back_sideways_or_out_of_a_final_status(
    current: SmsStatus, new: SmsStatus
) -> None:
    assert not status_moves(current, new)


def test_status_moves_takes_plain_strings() -> None:
    assert status_moves("queued", "sent")
    assert not status_moves("delivered", "sent")


def test_status_moves_refuses_a_provider_word_that_was_not_mapped() -> None:
    with pytest.raises(ValueError, match="accepted"):
        status_moves("queued", "accepted")


def test_the_final_statuses() -> None:
    assert frozenset(FINALS) == FINAL_STATUSES


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("accepted", SENT),
        ("scheduled", SENT),
        ("queued", SENT),
        ("sending", SENT),
        ("sent", SENT),
        ("delivered", DELIVERED),
        ("read", DELIVERED),
        ("undelivered", UNDELIVERED),
        ("failed", FAILED),
        ("canceled", FAILED),
    ],
)
def test_every_twilio_status_word_has_a_status(word: str, status: SmsStatus) -> None:
    assert PROVIDER_STATUSES[word] is status


def test_provider_statuses_are_exactly_twilios_words() -> None:
    assert set(PROVIDER_STATUSES) == {
        "accepted",
        "scheduled",
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
        "undelivered",
        "failed",
        "canceled",
    }


def fold(start: SmsStatus, reports: list[SmsStatus]) -> SmsStatus:
    current = start
    for new in reports:
        if status_moves(current, new):
            current = new
    return current


@given(st.lists(st.sampled_from(sorted(PROVIDER_STATUSES)), max_size=12))
def test_provider_reports_in_any_order_end_at_the_highest_rank_seen(words: list[str]) -> None:
    reports = [PROVIDER_STATUSES[w] for w in words]

    final = fold(Q, reports)

    assert RANK[final] == max([RANK[Q], *(RANK[r] for r in reports)])
    first_final = next((r for r in reports if r in FINAL_STATUSES), None)
    if first_final is not None:
        assert final is first_final


@given(st.lists(st.sampled_from(list(SmsStatus)), max_size=12))
def test_once_final_a_status_never_changes(reports: list[SmsStatus]) -> None:
    current = Q
    seen_final: SmsStatus | None = None
    for new in reports:
        if status_moves(current, new):
            assert seen_final is None
            assert RANK[new] > RANK[current]
            current = new
        if current in FINAL_STATUSES:
            seen_final = seen_final or current
            assert current is seen_final
    assert RANK[current] == max([0, *(RANK[r] for r in reports)])


# --- provider error codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "21610",
        21610,
        "21211",
        "21408",
        "21612",
        "21614",
        "30003",
        30003,
        "30004",
        "30005",
        "30006",
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.DAY_LIMIT_CONTROL",
    ],
)
def test_a_recipient_that_cannot_be_reached_is_a_permanent_error(code: str | int) -> None:
    assert is_permanent(code)


@pytest.mark.parametrize(
    "code",
    ["30001", 30001, "30008", "20429", 20429, "isv.BUSINESS_LIMIT_CONTROL", "", None, "0", 0],
)
def test_queue_overflow_throttling_and_unknown_errors_are_transient(
    code: str | int | None,
) -> None:
    assert not is_permanent(code)


# --- retry backoff -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 5), (1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 120), (7, 120), (100, 120)],
)
def test_retry_doubles_from_5_seconds_up_to_120(attempts: int, seconds: int) -> None:
    assert retry_at(attempts, NOW) == NOW + timedelta(seconds=seconds)


def test_retry_base_and_cap_can_be_set() -> None:
    assert retry_at(1, NOW, base=1, cap=3) == NOW + timedelta(seconds=1)
    assert retry_at(2, NOW, base=1, cap=3) == NOW + timedelta(seconds=2)
    assert retry_at(3, NOW, base=1, cap=3) == NOW + timedelta(seconds=3)


def test_retry_keeps_the_time_zone_of_now() -> None:
    shanghai = timezone(timedelta(hours=8))
    now = NOW.astimezone(shanghai)

    assert retry_at(2, now).tzinfo is shanghai


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_retry_at_never_comes_sooner_for_more_attempts(a: int, b: int) -> None:
    fewer, more = sorted((a, b))
    assert NOW < retry_at(fewer, NOW) <= retry_at(more, NOW) <= NOW + timedelta(seconds=120)


def test_retry_at_stays_at_the_cap_for_any_number_of_attempts() -> None:
    assert retry_at(1025, NOW) == NOW + timedelta(seconds=120)
