"""The SMS provider times out or answers 5xx; every message still reaches it exactly once.

The fault: the outbox sends through the real Twilio SDK to the loopback fake Twilio
(`tests.fakes.twilio_server`), scripted to answer 500/503, to stall past the SDK's HTTP
timeout (`TWILIO_TIMEOUT_SECONDS`) before or after it accepted the message, or to accept a
message and then answer 500. Rounds of `outbox_send` run on a clock moved past each retry's
backoff, as the sweep would run them.

The proof, for each case: every message ends `sent`, with the provider's own sid, one
`sms.sent` event, and its reference (`M<id>`) reached the provider exactly once. When the
outcome of an attempt is unknown (a timeout or a 5xx after the provider took the message),
the next attempt first asks the provider (`find_sent`, by the reference in the body) and
records what it finds instead of sending a second copy; while the provider cannot be asked,
nothing is sent.

The limit, as precisely as it goes: Twilio has no idempotency key for a send, so this rests
on the message being listed by `GET Messages.json?To=` when the next attempt asks (the
latest `FIND_SENT_LIMIT` messages to that number, created after the attempt less
`CLOCK_SLACK_SECONDS`). A message Twilio took but does not list yet at that moment is sent
again: delivery is at least once in that window, exactly once outside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from alerts.models import SmsMessage
from alerts.services import outbox_send, sms_queue
from incidents.models import Event
from tests.alerts.helpers import use_fake_twilio
from tests.fakes import Request, Response
from tests.fakes.twilio_server import FakeTwilioServer, _error

pytestmark = pytest.mark.django_db

HUB_NUMBER = "+15005550006"
PARAMS = {"code": "NX-2026-000001", "clock": "7日承诺办结", "link": "https://hub.example/c/1"}
# The SDK's HTTP timeout in these tests, and how long a stalled answer takes.
TIMEOUT_S = 0.5
STALL_S = 1.2
# Past the longest backoff (120 s), so each round finds every retried message due.
ROUND = timedelta(seconds=121)


class ScriptedTwilio(FakeTwilioServer):
    """The fake Twilio with two more faults, each for the next sends (POSTs) in turn:

    - `stall_next(seconds)`: wait, then refuse (503) without accepting the message, so a
      client that timed out meanwhile left nothing at the provider;
    - `answer_late_next(seconds, status)`: accept the message, then wait before answering,
      with a 201 or with `status` (e.g. 500): the client cannot know it was accepted.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.posts = 0
        self._stalls: list[float] = []
        self._late: list[tuple[float, int | None]] = []
        self._script_lock = threading.Lock()

    def stall_next(self, seconds: float, times: int = 1) -> None:
        with self._script_lock:
            self._stalls += [seconds] * times

    def answer_late_next(self, seconds: float, status: int | None = None, times: int = 1) -> None:
        with self._script_lock:
            self._late += [(seconds, status)] * times

    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return super().handle(request)
        with self._script_lock:
            self.posts += 1
            stall = self._stalls.pop(0) if self._stalls else None
        if stall is not None:
            time.sleep(stall)
            return _error(503, 20503, "Service Unavailable")
        response = super().handle(request)
        if response.status != 201:
            return response
        with self._script_lock:
            late = self._late.pop(0) if self._late else None
        if late is not None:
            delay, status = late
            time.sleep(delay)
            if status is not None:
                return _error(status, 20500 if status == 500 else status * 100)
        return response


@pytest.fixture
def twilio(settings: Any, district: Any) -> Iterator[ScriptedTwilio]:
    with ScriptedTwilio(phone_number=HUB_NUMBER) as fake:
        use_fake_twilio(settings, fake, number=HUB_NUMBER)
        settings.TWILIO_TIMEOUT_SECONDS = TIMEOUT_S
        settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # status callbacks are not needed
        yield fake


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def queue(district: Any, count: int) -> list[SmsMessage]:
    now = timezone.now()
    with transaction.atomic():
        return [
            sms_queue(
                district_id=district.pk,
                key=f"fault-{n}",
                to=f"+86139000{n:05d}",
                template="clock_overdue",
                params=PARAMS,
                reason="test",
                validity=timedelta(hours=1),
                now=now,
            )
            for n in range(count)
        ]


class Rounds:
    """`outbox_send` as the sweep runs it, each round `ROUND` after the last."""

    def __init__(self) -> None:
        self.start = timezone.now()
        self.done = 0

    def clock(self) -> Callable[[], datetime]:
        at = self.start + self.done * ROUND
        return lambda: at

    def run(self) -> int:
        sent = outbox_send(clock=self.clock())
        self.done += 1
        return sent


def assert_each_arrived_once(fake: ScriptedTwilio, messages: list[SmsMessage]) -> None:
    """Sent, with the fake's sid, one `sms.sent` event, the reference at the fake once."""
    received = fake.messages
    for message in messages:
        message.refresh_from_db()
        assert message.status == "sent", (message.reference, message.status, message.error_code)
        assert fake.count_by_body_reference(message.reference) == 1, message.reference
        (copy,) = [m for m in received if m.body.endswith(message.reference)]
        assert message.provider_id == copy.sid
        assert Event.objects.filter(kind="sms.sent", data__message_id=message.pk).count() == 1
    assert len(received) == len(messages)


def test_5xx_answers_are_retried_until_the_provider_recovers_and_each_arrives_once(
    twilio: ScriptedTwilio, district: Any
) -> None:
    messages = queue(district, 3)
    rounds = Rounds()
    # Down for three rounds: every request, sends and look-ups alike, answers 503 or 500.
    twilio.fail_next(503, 20503, times=5)
    twilio.fail_next(500, 20500, times=100)
    for _ in range(3):
        assert rounds.run() == 0
        for message in messages:
            message.refresh_from_db()
            assert message.status == "queued", message.status  # never failed, never lost
            # A send answers Twilio's error code; a failed look-up the HTTP status.
            assert message.error_code in ("20503", "20500", "503", "500")
    assert twilio.messages == []
    twilio.clear()  # back up
    assert rounds.run() == 3
    assert rounds.run() == 0  # nothing left, nothing sent twice
    assert_each_arrived_once(twilio, messages)


def test_a_timeout_before_the_provider_took_the_message_sends_it_again_once(
    twilio: ScriptedTwilio, district: Any
) -> None:
    (message,) = queue(district, 1)
    rounds = Rounds()
    twilio.stall_next(STALL_S)
    assert rounds.run() == 0
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("queued", "network")
    assert message.attempt_started_at is not None  # the outcome is unknown: ask first
    time.sleep(STALL_S)  # the stalled request ends (refused) before the next round
    assert twilio.messages == []
    assert rounds.run() == 1
    assert twilio.posts == 2
    assert_each_arrived_once(twilio, [message])
    assert message.attempts == 2


@pytest.mark.parametrize("answer", [None, 500], ids=["timeout", "500"])
def test_an_unknown_outcome_after_the_provider_took_the_message_is_not_sent_twice(
    twilio: ScriptedTwilio, district: Any, answer: int | None
) -> None:
    """The ambiguous case: the provider accepted the message, and the answer was a timeout
    (it came after `TIMEOUT_S`) or a 500."""
    (message,) = queue(district, 1)
    rounds = Rounds()
    twilio.answer_late_next(STALL_S if answer is None else 0.0, answer)
    assert rounds.run() == 0
    message.refresh_from_db()
    assert message.status == "queued"
    assert message.error_code == ("network" if answer is None else "20500")
    assert len(twilio.messages) == 1  # the provider has it
    if answer is None:
        time.sleep(STALL_S)
    # While the provider cannot be asked whether it has it, nothing is sent.
    twilio.fail_next(503, 20503, method="GET")
    assert rounds.run() == 0
    message.refresh_from_db()
    assert message.status == "queued"
    assert twilio.posts == 1
    # Asked, it has it: recorded as sent, not sent again.
    assert rounds.run() == 1
    assert twilio.posts == 1
    assert_each_arrived_once(twilio, [message])
    sent = Event.objects.get(kind="sms.sent", data__message_id=message.pk)
    assert sent.data["recovered"] is True
