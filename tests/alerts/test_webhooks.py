"""Twilio's webhooks into the hub: delivery status callbacks and officers' reply SMS.

Messages are sent through the real Twilio backend to the loopback FakeTwilioServer, so each
row carries the provider's own MessageSid and the StatusCallback the hub gave Twilio. The
callbacks are signed as Twilio signs them: over the public URL (PUBLIC_BASE_URL + path and
query) and the form fields. A refused callback changes nothing: no row, alert or event moves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from alerts.backends.twilio import twiml_empty
from alerts.demo import load_duty
from alerts.domain.delivery import SmsStatus
from alerts.models import Alert, DutyShift, SmsMessage
from alerts.services import alert_settings, alerts_escalate, local_day, outbox_send
from incidents.models import District, Event, Incident
from incidents.policy import Actor
from incidents.services import IncidentChange, incident_transition
from tests.alerts.helpers import use_fake_twilio
from tests.fakes.twilio_server import FakeTwilioServer, new_sid
from tests.live.helpers import incident_open

PUBLIC = "https://hub.example.gov.cn"
HUB_NUMBER = "+15005550006"
STATUS_PATH = "/alerts/twilio/status"
INBOUND_PATH = "/alerts/twilio/inbound"
FORM = "application/x-www-form-urlencoded"
Snapshot = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]


# --- set-up ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Twilio SDK would send even 127.0.0.1 requests through a proxy in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def twilio_settings(settings: Settings, fake: FakeTwilioServer, public_base_url: str) -> None:
    settings.PUBLIC_BASE_URL = public_base_url
    use_fake_twilio(settings, fake, number=HUB_NUMBER)


def on_duty(district: District) -> None:
    """Demo officers on duty everywhere, and normal time whatever day the tests run."""
    load_duty(district, today=timezone.localdate())
    row = alert_settings(district.pk)
    row.builtin_periods = False
    row.save()


@pytest.fixture
def fake(settings: Settings, district: District) -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(phone_number=HUB_NUMBER) as server:
        twilio_settings(settings, server, PUBLIC)
        on_duty(district)
        yield server


@pytest.fixture
def incident(fake: FakeTwilioServer) -> Incident:
    """A level III gathering in Lianshi: five alerts (four departments and the town), each
    paging its unit's primary officer alone, all handed to Twilio."""
    opened = incident_open("command")
    assert outbox_send() == 5
    return opened


def alert_of(incident: Incident, unit: str) -> Alert:
    return Alert.objects.select_related("unit").get(incident=incident, unit__code=unit)


def only_message(alert: Alert) -> SmsMessage:
    (message,) = SmsMessage.objects.filter(alert=alert).select_related("officer")
    return message


def snapshot() -> Snapshot:
    """Everything a webhook could change: outbox rows, alerts, and the event log."""
    return (
        list(
            SmsMessage.objects.order_by("pk").values_list(
                "pk", "key", "status", "provider_status", "provider_id", "status_at", "error_code"
            )
        ),
        list(
            Alert.objects.order_by("pk").values_list(
                "pk", "stage", "state", "escalate_at", "acknowledged_at", "acknowledged_by"
            )
        ),
        Event.objects.count(),
    )


def events(kind: str, **data: Any) -> list[Event]:
    lookups = {f"data__{k}": v for k, v in data.items()}
    return list(Event.objects.filter(kind=kind, **lookups).order_by("pk"))


def post_form(
    client: Client,
    path: str,
    params: dict[str, str],
    signature: str | None,
) -> Any:
    """POST form fields as Twilio does (urlencoded), with X-Twilio-Signature if given."""
    headers = {"X-Twilio-Signature": signature} if signature else None
    return client.post(path, urlencode(params), content_type=FORM, headers=headers)


def forged(url: str, params: dict[str, str]) -> str:
    """A well-formed signature made with another auth token than the hub's."""
    return FakeTwilioServer(auth_token="not-the-hubs-token").sign(url, params)


def status_callback(
    client: Client,
    fake: FakeTwilioServer,
    message: SmsMessage,
    status: str,
    error_code: int | None = None,
    *,
    sid: str | None = None,
) -> Any:
    """A status callback for `message`, signed as Twilio signs it (over the public URL)."""
    path = f"{STATUS_PATH}?m={message.pk}"
    params = fake.status_params(sid or message.provider_id, status, error_code)
    return post_form(client, path, params, fake.sign(PUBLIC + path, params))


def inbound(client: Client, fake: FakeTwilioServer, sender: str, body: str) -> Any:
    params = fake.inbound_params(sender, body)
    return post_form(client, INBOUND_PATH, params, fake.sign(PUBLIC + INBOUND_PATH, params))


# --- status callbacks ------------------------------------------------------------------


def test_the_hub_gives_twilio_a_public_status_callback_per_message(
    fake: FakeTwilioServer, incident: Incident
) -> None:
    for message in SmsMessage.objects.filter(incident=incident):
        assert message.status == SmsStatus.SENT
        assert message.provider == "twilio"
        assert fake.message(message.provider_id).status_callback == (
            f"{PUBLIC}{STATUS_PATH}?m={message.pk}"
        )


def test_a_signed_delivered_callback_marks_the_message_delivered(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))
    assert message.status == SmsStatus.SENT

    response = status_callback(client, fake, message, "delivered")

    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == SmsStatus.DELIVERED
    assert message.provider_status == "delivered"
    assert message.status_at is not None
    (event,) = events("sms.delivered", message_id=message.pk)
    assert event.incident_id == incident.pk
    assert re.fullmatch(r"139\*{4}\d{4}", event.data["to"])
    assert message.to[3:] not in json.dumps(event.data)


def test_the_same_callback_again_changes_nothing(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))
    status_callback(client, fake, message, "delivered")
    before = snapshot()

    response = status_callback(client, fake, message, "delivered")

    assert response.status_code == 204
    assert snapshot() == before
    assert len(events("sms.delivered", message_id=message.pk)) == 1


def test_a_late_sent_after_delivered_changes_nothing(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))
    status_callback(client, fake, message, "delivered")
    before = snapshot()

    response = status_callback(client, fake, message, "sent")

    assert response.status_code == 204
    assert snapshot() == before
    message.refresh_from_db()
    assert message.status == SmsStatus.DELIVERED


def test_a_callback_for_an_unknown_message_sid_changes_nothing(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))
    before = snapshot()
    unknown = new_sid("SM")
    params = fake.status_params(unknown, "delivered")

    without_id = post_form(client, STATUS_PATH, params, fake.sign(PUBLIC + STATUS_PATH, params))
    # The hub's message id, but another send's sid: not a report about this row.
    with_our_id = status_callback(client, fake, message, "delivered", sid=unknown)

    assert (without_id.status_code, with_our_id.status_code) == (204, 204)
    assert snapshot() == before


@pytest.mark.parametrize(
    "forgery",
    ["bad_signature", "no_signature", "internal_host", "no_query", "tampered_params"],
)
def test_an_unsigned_or_forged_callback_is_refused_and_changes_nothing(
    client: Client, fake: FakeTwilioServer, incident: Incident, forgery: str
) -> None:
    message = only_message(alert_of(incident, "police"))
    path = f"{STATUS_PATH}?m={message.pk}"
    params = fake.status_params(message.provider_id, "undelivered", 30003)
    signature: str | None = fake.sign(PUBLIC + path, params)
    if forgery == "bad_signature":
        signature = forged(PUBLIC + path, params)
    elif forgery == "no_signature":
        signature = None
    elif forgery == "internal_host":
        # The URL as it reached the hub behind a proxy, not the one Twilio was given.
        signature = fake.sign(f"http://testserver{path}", params)
    elif forgery == "no_query":
        signature = fake.sign(PUBLIC + STATUS_PATH, params)
    else:
        signed = fake.status_params(message.provider_id, "delivered")
        signature = fake.sign(PUBLIC + path, signed)
    before = snapshot()

    response = post_form(client, path, params, signature)

    assert response.status_code == 403
    assert snapshot() == before


def test_a_json_callback_is_refused_as_the_wrong_content_type(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))
    path = f"{STATUS_PATH}?m={message.pk}"
    params = fake.status_params(message.provider_id, "delivered")
    before = snapshot()

    response = client.post(
        path,
        json.dumps(params),
        content_type="application/json",
        headers={"X-Twilio-Signature": fake.sign(PUBLIC + path, params)},
    )

    assert response.status_code == 415
    assert snapshot() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageStatus", "exploded"),
        ("MessageSid", "SM123"),
        ("MessageSid", "XX" + "0" * 32),
        ("ErrorCode", "30003; drop table"),
    ],
)
def test_a_signed_callback_with_malformed_fields_is_a_bad_request(
    client: Client, fake: FakeTwilioServer, incident: Incident, field: str, value: str
) -> None:
    message = only_message(alert_of(incident, "police"))
    path = f"{STATUS_PATH}?m={message.pk}"
    params = fake.status_params(message.provider_id, "delivered")
    params[field] = value
    if field == "MessageStatus":
        params["SmsStatus"] = value
    before = snapshot()

    response = post_form(client, path, params, fake.sign(PUBLIC + path, params))

    assert response.status_code == 400
    assert snapshot() == before


def test_a_signed_callback_with_a_message_id_that_is_no_number_is_a_bad_request(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))
    path = f"{STATUS_PATH}?m=abc"
    params = fake.status_params(message.provider_id, "delivered")
    before = snapshot()

    response = post_form(client, path, params, fake.sign(PUBLIC + path, params))

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("path", [STATUS_PATH, INBOUND_PATH])
def test_webhooks_answer_only_post(client: Client, path: str) -> None:
    assert client.get(path).status_code == 405


@pytest.mark.parametrize("code", [30003, 21610])
def test_a_permanent_delivery_failure_escalates_the_alert_to_the_backup_at_once(
    client: Client, fake: FakeTwilioServer, incident: Incident, code: int
) -> None:
    alert = alert_of(incident, "police")
    message = only_message(alert)

    response = status_callback(client, fake, message, "undelivered", code)

    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.error_code) == (SmsStatus.UNDELIVERED, str(code))
    alert.refresh_from_db()
    assert (alert.stage, alert.state) == (1, Alert.State.OPEN)
    backup = DutyShift.objects.get(
        unit=alert.unit, day=local_day(timezone.now()), rung="backup"
    ).officer
    (paged,) = SmsMessage.objects.filter(alert=alert, stage=1)
    assert paged.officer == backup
    assert paged.to == backup.phone
    assert paged.template == "incident_escalated"
    (escalated,) = events("alert.escalated", alert_id=alert.pk)
    assert escalated.data["why"] == "failed"
    assert escalated.data["rungs"] == ["backup"]
    assert len(events("sms.undelivered", message_id=message.pk)) == 1
    # The other units' alerts are untouched.
    assert SmsMessage.objects.filter(incident=incident, stage=1).count() == 1


def test_a_transient_delivery_failure_sends_the_text_again_without_escalating(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    alert = alert_of(incident, "police")
    message = only_message(alert)

    response = status_callback(client, fake, message, "undelivered", 30008)

    assert response.status_code == 204
    alert.refresh_from_db()
    assert (alert.stage, alert.state) == (0, Alert.State.OPEN)
    resend = SmsMessage.objects.get(key=f"{message.key}#1")
    assert (resend.alert_id, resend.stage, resend.officer_id) == (alert.pk, 0, message.officer_id)
    assert (resend.to, resend.template) == (message.to, message.template)
    assert resend.status == SmsStatus.QUEUED
    assert events("alert.escalated", alert_id=alert.pk) == []
    assert outbox_send() == 1
    assert len(fake.sent_to(message.to)) == 2


def test_a_transient_failure_after_the_incident_closed_is_not_sent_again(
    client: Client, fake: FakeTwilioServer, incident: Incident, actor: Callable[[str], Actor]
) -> None:
    alert = alert_of(incident, "police")
    message = only_message(alert)
    incident_transition(
        actor=actor("command"),
        incident_id=incident.pk,
        change=IncidentChange(action="close", reason="人员已散去"),
    )
    alert.refresh_from_db()
    assert alert.state == Alert.State.CANCELLED

    response = status_callback(client, fake, message, "undelivered", 30008)

    assert response.status_code == 204
    assert SmsMessage.objects.filter(alert=alert).count() == 1
    assert outbox_send() == 0
    assert len(fake.sent_to(message.to)) == 1


# --- inbound SMS -----------------------------------------------------------------------


def test_an_officers_1_acknowledges_the_alert_and_stops_its_escalation(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    alert = alert_of(incident, "police")
    message = only_message(alert)
    others = Alert.objects.filter(incident=incident).exclude(pk=alert.pk).count()

    response = inbound(client, fake, message.to, "1")

    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.acknowledged_by == message.officer
    assert alert.acknowledged_via == "sms"
    assert alert.escalate_at is None
    (event,) = events("alert.acknowledged", alert_id=alert.pk)
    assert event.data["via"] == "sms"
    assert event.data["by"] == message.officer.name  # type: ignore[union-attr]
    assert isinstance(event.data["response_seconds"], int)
    assert event.data["response_seconds"] >= 0

    moved = alerts_escalate(now=timezone.now() + timedelta(hours=2))

    assert moved == others  # every other unit's alert moved on; this one did not
    alert.refresh_from_db()
    assert (alert.stage, alert.state) == (0, Alert.State.ACKNOWLEDGED)
    assert SmsMessage.objects.filter(alert=alert).count() == 1
    assert events("alert.escalated", alert_id=alert.pk) == []


def test_an_acknowledgement_quoting_a_reference_acknowledges_that_messages_alert(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    first = alert_of(incident, "police")
    message = only_message(first)
    later_incident = incident_open("command")
    assert outbox_send() == 5
    later = alert_of(later_incident, "police")
    assert only_message(later).to == message.to  # the same officer, paged twice

    response = inbound(client, fake, message.to, f"收到 {message.reference}")

    assert response.status_code == 200
    first.refresh_from_db()
    later.refresh_from_db()
    assert first.state == Alert.State.ACKNOWLEDGED
    assert later.state == Alert.State.OPEN
    assert len(events("alert.acknowledged")) == 1


def test_a_reply_from_the_scene_is_recorded_and_the_alert_stays_open(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    alert = alert_of(incident, "lianshi")
    message = only_message(alert)

    response = inbound(client, fake, message.to, "现场约200人，已控制")

    assert response.status_code == 200
    (event,) = events("alert.replied", alert_id=alert.pk)
    assert event.data["text"] == "现场约200人，已控制"
    assert event.data["officer"] == message.officer.name  # type: ignore[union-attr]
    assert event.incident_id == incident.pk
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert events("alert.acknowledged") == []


def test_an_sms_is_answered_with_empty_twiml(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    message = only_message(alert_of(incident, "police"))

    response = inbound(client, fake, message.to, "1")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert b"<Response" in response.content
    assert response.content.decode() == twiml_empty()


def test_an_sms_from_an_unknown_number_changes_nothing(
    client: Client, fake: FakeTwilioServer, incident: Incident
) -> None:
    before = snapshot()

    response = inbound(client, fake, "+8613700000000", "1")

    assert response.status_code == 200
    assert b"<Response" in response.content
    assert snapshot() == before


@pytest.mark.parametrize("forgery", ["bad_signature", "no_signature", "internal_host"])
def test_an_unsigned_or_forged_sms_is_refused_and_changes_nothing(
    client: Client, fake: FakeTwilioServer, incident: Incident, forgery: str
) -> None:
    message = only_message(alert_of(incident, "police"))
    params = fake.inbound_params(message.to, "1")
    signature: str | None = {
        "bad_signature": forged(PUBLIC + INBOUND_PATH, params),
        "no_signature": None,
        "internal_host": fake.sign(f"http://testserver{INBOUND_PATH}", params),
    }[forgery]
    before = snapshot()

    response = post_form(client, INBOUND_PATH, params, signature)

    assert response.status_code == 403
    assert snapshot() == before


# --- over real HTTP --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twilio_callbacks_over_http_mark_every_message_delivered(
    live_server: Any, settings: Settings, district: District
) -> None:
    with FakeTwilioServer(phone_number=HUB_NUMBER, auto_callbacks=("sent", "delivered")) as fake:
        twilio_settings(settings, fake, live_server.url)
        on_duty(district)
        incident = incident_open("command")

        assert outbox_send() == 5
        callbacks = fake.wait_for_callbacks(10, timeout=15)

    assert [c.status_code for c in callbacks] == [204] * 10
    messages = list(SmsMessage.objects.filter(incident=incident))
    assert {c.url for c in callbacks} == {
        f"{live_server.url}{STATUS_PATH}?m={m.pk}" for m in messages
    }
    assert [m.status for m in messages] == [SmsStatus.DELIVERED] * 5
    assert {m.provider_id for m in messages} == {m.sid for m in fake.messages}
    assert Event.objects.filter(kind="sms.delivered", incident=incident).count() == 5
