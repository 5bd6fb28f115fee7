"""The SMS outbox: queued in the deciding transaction, claimed with a lease, sent once,
retried while worth it, given up visibly, and recovered after a worker dies mid-send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from alerts.backends import locmem
from alerts.backends.base import SendResult, SmsError
from alerts.backends.locmem import LocmemBackend
from alerts.models import SmsMessage
from alerts.ratelimit import LocalRateLimiter
from alerts.services import outbox_claim, outbox_send, sms_queue, sms_status_report
from alerts.services.outbox import _outgoing, _record_sent
from incidents.models import Event
from tests.alerts.helpers import alerts_of, messages_of, put_on_duty
from tests.live.helpers import incident_open

PARAMS = {"code": "NX-2026-000001", "clock": "7日承诺办结", "link": "https://hub.example/c/1"}


def queue(district: Any, key: str = "k1", *, minutes: int = 15, **kw: Any) -> SmsMessage:
    now = kw.pop("now", timezone.now())
    with transaction.atomic():
        return sms_queue(
            district_id=district.pk,
            key=key,
            to="+8613900000001",
            template="clock_overdue",
            params=PARAMS,
            reason="test",
            validity=timedelta(minutes=minutes),
            now=now,
            **kw,
        )


@pytest.fixture
def incident(district: Any) -> Any:
    put_on_duty(district)
    return incident_open("command", people=40)


def test_a_queued_message_is_sent_once_and_recorded(incident: Any) -> None:
    queued = SmsMessage.objects.filter(incident=incident).count()
    assert queued == 5
    assert outbox_send() == queued
    assert outbox_send() == 0  # nothing is sent twice
    assert len(locmem.outbox) == queued
    assert {m.reference for m in locmem.outbox} == {
        f"M{pk}" for pk in SmsMessage.objects.values_list("pk", flat=True)
    }
    for message in SmsMessage.objects.all():
        assert (message.status, message.provider, message.attempts) == ("sent", "locmem", 1)
        assert message.provider_id.startswith("LM")
        assert message.provider_status == "queued"  # the provider's first word, as it said it
        assert message.body.endswith(message.reference)
    sent = Event.objects.filter(incident=incident, kind="sms.sent")
    assert sent.count() == queued
    assert all("****" in e.data["to"] for e in sent)  # numbers masked in the log


def test_one_decision_queues_one_message(district: Any) -> None:
    first = queue(district, "same")
    second = queue(district, "same")
    assert first.pk == second.pk
    assert SmsMessage.objects.count() == 1


def test_a_rolled_back_decision_leaves_no_message(district: Any) -> None:
    def decide_then_fail() -> None:
        with transaction.atomic():
            queue(district, "doomed")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        decide_then_fail()
    assert not SmsMessage.objects.exists()


def test_a_provider_hiccup_is_retried_with_backoff(district: Any) -> None:
    message = queue(district)
    now = timezone.now()
    locmem.failures.append(SmsError("HTTP 503", code="20503"))
    assert outbox_send(clock=lambda: now) == 0
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error_code) == ("queued", 1, "20503")
    assert message.next_attempt_at == now + timedelta(seconds=5)
    assert outbox_send(clock=lambda: now + timedelta(seconds=4)) == 0  # not yet due

    locmem.failures.append(SmsError("HTTP 429", code="20429", retry_after=30))
    assert outbox_send(clock=lambda: now + timedelta(seconds=5)) == 0
    message.refresh_from_db()
    assert message.next_attempt_at == now + timedelta(seconds=35)

    assert outbox_send(clock=lambda: now + timedelta(seconds=35)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
    assert len(locmem.outbox) == 1


def test_a_permanent_error_fails_the_message_and_moves_the_alert_on(
    incident: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    police = alerts_of(incident.pk)["police"]
    (first,) = messages_of(police)
    original = LocmemBackend.send

    def unreachable_police(self: LocmemBackend, message: Any) -> Any:
        if message.id == first.pk:
            raise SmsError("unknown subscriber", code="30005", permanent=True)
        return original(self, message)

    monkeypatch.setattr(LocmemBackend, "send", unreachable_police)
    outbox_send()
    first.refresh_from_db()
    police.refresh_from_db()
    assert (first.status, first.error_code) == ("failed", "30005")
    assert police.stage == 1  # escalated at once, without waiting 15 minutes
    assert [m.stage for m in messages_of(police)] == [0, 1]
    assert Event.objects.filter(kind="sms.failed", data__message_id=first.pk).exists()


def test_a_message_not_sent_within_its_validity_is_given_up_visibly(incident: Any) -> None:
    police = alerts_of(incident.pk)["police"]
    (first,) = messages_of(police)
    late = first.expires_at + timedelta(seconds=1)
    outbox_send(clock=lambda: late)
    first.refresh_from_db()
    assert (first.status, first.error_code) == ("failed", "expired")
    given_up = Event.objects.get(kind="sms.given_up", data__message_id=first.pk)
    assert given_up.incident_id == incident.pk  # on the incident's timeline and the dashboard
    police.refresh_from_db()
    assert police.stage == 1
    assert not any(m.reference == first.reference for m in locmem.outbox)


def test_claims_are_disjoint_and_a_dead_workers_lease_runs_out(district: Any) -> None:
    for n in range(6):
        queue(district, f"k{n}")
    now = timezone.now()
    lease = timedelta(seconds=60)
    first = outbox_claim(limit=4, now=now, lease=lease)
    second = outbox_claim(limit=4, now=now, lease=lease)
    assert len(first) == 4
    assert len(second) == 2
    assert not {m.pk for m in first} & {m.pk for m in second}
    assert outbox_claim(limit=4, now=now, lease=lease) == []
    # The first worker died: its rows come back once the lease has run out.
    again = outbox_claim(limit=10, now=now + lease + timedelta(seconds=1), lease=lease)
    assert {m.pk for m in again} == {m.pk for m in first} | {m.pk for m in second}
    assert all(m.attempts == 2 for m in again)


def test_an_attempt_interrupted_after_the_provider_took_it_is_not_sent_again(
    district: Any,
) -> None:
    message = queue(district)
    now = timezone.now()
    lease = timedelta(seconds=60)
    (claimed,) = outbox_claim(limit=1, now=now, lease=lease)
    # The worker noted the attempt, the provider took the message, then the worker died.
    SmsMessage.objects.filter(pk=claimed.pk).update(attempt_started_at=now)
    LocmemBackend().send(_outgoing(claimed))

    assert outbox_send(clock=lambda: now + lease + timedelta(seconds=1)) == 1
    message.refresh_from_db()
    assert message.status == "sent"
    assert len(locmem.outbox) == 1  # found at the provider, not sent twice
    assert Event.objects.get(kind="sms.sent", data__message_id=message.pk).data["recovered"]


def test_an_attempt_interrupted_before_the_provider_took_it_is_sent(district: Any) -> None:
    message = queue(district)
    now = timezone.now()
    lease = timedelta(seconds=60)
    (claimed,) = outbox_claim(limit=1, now=now, lease=lease)
    SmsMessage.objects.filter(pk=claimed.pk).update(attempt_started_at=now)
    assert outbox_send(clock=lambda: now + lease + timedelta(seconds=1)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(locmem.outbox) == 1


def test_delivery_reports_only_move_forward(incident: Any) -> None:
    outbox_send()
    message = SmsMessage.objects.filter(incident=incident).first()
    assert message is not None
    report = {"message_id": message.pk, "provider_id": message.provider_id}
    assert sms_status_report(**report, provider_status="delivered")
    assert not sms_status_report(**report, provider_status="delivered")  # a retried report
    assert not sms_status_report(**report, provider_status="sent")  # late and out of order
    assert not sms_status_report(**report, provider_status="failed")
    message.refresh_from_db()
    assert message.status == "delivered"
    assert Event.objects.filter(kind="sms.delivered", data__message_id=message.pk).count() == 1


def test_a_report_for_another_send_of_the_row_is_ignored(incident: Any) -> None:
    outbox_send()
    message = SmsMessage.objects.filter(incident=incident).first()
    assert message is not None
    assert not sms_status_report(
        message_id=message.pk, provider_id="SMother", provider_status="delivered"
    )
    message.refresh_from_db()
    assert message.status == "sent"


def test_the_local_limiter_spaces_messages_at_the_configured_rate() -> None:
    now = [100.0]
    waits: list[float] = []
    limiter = LocalRateLimiter(50, clock=lambda: now[0], sleep=waits.append)
    for _ in range(5):
        limiter.acquire()
    assert waits == pytest.approx([0.02, 0.04, 0.06, 0.08])
    now[0] += 1.0  # idle for a second: no burst beyond the rate afterwards
    assert limiter.reserve() == 0
    assert limiter.reserve() == pytest.approx(0.02)


def test_a_report_that_overtakes_the_sender_still_records_the_send_once(district: Any) -> None:
    message = queue(district)
    now = timezone.now()
    (claimed,) = outbox_claim(limit=1, now=now, lease=timedelta(seconds=60))
    # The provider's "delivered" arrives while the sender still waits for its answer.
    assert sms_status_report(
        message_id=claimed.pk, provider_id="SM" + "a" * 32, provider_status="delivered"
    )
    _record_sent(claimed, SendResult("twilio", "SM" + "a" * 32, "queued"), now)
    message.refresh_from_db()
    assert message.status == "delivered"
    kinds = list(
        Event.objects.filter(data__message_id=message.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["sms.sent", "sms.delivered"]


def test_a_worker_whose_lease_ran_out_does_not_send(district: Any) -> None:
    from alerts.ratelimit import LocalRateLimiter
    from alerts.services.outbox import _send_one, send_lease

    message = queue(district)
    now = timezone.now()
    lease = send_lease()
    (claimed,) = outbox_claim(limit=1, now=now, lease=lease)
    # Held up (rate limit, a slow provider) past its lease: another worker may have it now.
    late = now + lease + timedelta(seconds=1)
    assert not _send_one(claimed, LocmemBackend(), LocalRateLimiter(0), lambda: late, lease)
    assert locmem.outbox == []
    message.refresh_from_db()
    assert message.attempt_started_at is None
