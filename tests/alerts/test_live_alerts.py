"""Every send, delivery report, acknowledgement and escalation shows live in the incident's
room, on the command dashboard and on the paged unit's dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerts.models import Alert, SmsMessage
from alerts.services import alerts_escalate, outbox_send, sms_inbound, sms_status_report
from tests.alerts.helpers import put_on_duty
from tests.live.helpers import incident_open
from tests.live.test_consumers import connect, frames, in_thread, silent

pytestmark = pytest.mark.django_db(transaction=True)


async def events(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next `count` event frames (presence frames of the room are skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        (frame,) = await frames(ws, 1)
        if frame["type"] == "event":
            found.append(frame)
    return found


async def kinds(ws: Any, count: int) -> list[str]:
    return [f["kind"] for f in await events(ws, count)]


async def test_the_life_of_an_alert_is_live_in_the_room_and_on_dashboards(district: Any) -> None:
    await in_thread(put_on_duty)(district)
    incident = await in_thread(incident_open)("command", people=40)
    room, _ = await connect(f"/ws/incidents/{incident.pk}/", user="command")
    command, _ = await connect("/ws/dashboard/", user="command")
    # Housing is paged for every incident, so it takes part: its dashboard follows it all.
    housing, _ = await connect("/ws/dashboard/", user="liaison_housing")

    sent = await in_thread(outbox_send)()
    assert sent == 5
    assert await kinds(room, 5) == ["sms.sent"] * 5
    assert await kinds(command, 5) == ["sms.sent"] * 5
    housing_alert = await in_thread(
        lambda: Alert.objects.get(incident=incident, unit__code="housing")
    )()
    message = await in_thread(lambda: SmsMessage.objects.get(alert=housing_alert))()
    housing_sent = await events(housing, 5)
    assert [f["kind"] for f in housing_sent] == ["sms.sent"] * 5
    assert message.pk in {f["data"]["message_id"] for f in housing_sent}
    await in_thread(sms_status_report)(
        message_id=message.pk, provider_id=message.provider_id, provider_status="delivered"
    )
    assert await kinds(room, 1) == ["sms.delivered"]
    assert await kinds(housing, 1) == ["sms.delivered"]

    await in_thread(sms_inbound)(sender=message.to, body="收到")
    (ack,) = await events(room, 1)
    assert ack["kind"] == "alert.acknowledged"
    assert ack["data"]["via"] == "sms"
    assert ack["data"]["unit"] == "housing"
    assert await kinds(housing, 1) == ["alert.acknowledged"]

    later = housing_alert.raised_at + timedelta(minutes=15)
    assert await in_thread(alerts_escalate)(now=later) == 4  # everyone but housing
    assert await kinds(room, 4) == ["alert.escalated"] * 4
    escalated = await events(housing, 4)
    assert "housing" not in {f["data"]["unit"] for f in escalated}  # housing acknowledged
    assert await silent(housing)
    for ws in (room, command, housing):
        await ws.disconnect()
