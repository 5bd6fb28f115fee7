"""SMS alerts end to end: the real server sends through the real Twilio SDK to a
Twilio-compatible server on loopback, which calls back with signed delivery reports; an
officer's reply acknowledges; the incident room in a real browser follows it all live."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_call, api_post, discard, new_hub, start
from tests.e2e.test_intake_journey import log_in
from tests.fakes.twilio_server import FakeTwilioServer

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(auto_callbacks=("sent", "delivered"), callback_delay=0.2) as fake:
        yield fake


@pytest.fixture(scope="module")
def sms_hub(provider: FakeTwilioServer) -> Iterator[LiveHub]:
    """A hub that sends its SMS through the Twilio backend to the loopback provider."""
    hub = new_hub(cases=0)
    hub.env.update(
        {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": provider.account_sid,
            "TWILIO_AUTH_TOKEN": provider.auth_token,
            "TWILIO_FROM": provider.phone_number,
            "TWILIO_BASE_URL": provider.base_url,
            "PUBLIC_BASE_URL": str(hub),
            "SMS_RATE_PER_SECOND": "0",
        }
    )
    try:
        start(hub)
        yield hub
    finally:
        discard(hub)


def test_a_reply_from_the_field_acknowledges_live_in_the_room(
    sms_hub: LiveHub, provider: FakeTwilioServer, page: Any
) -> None:
    token = sms_hub.manage("issue_token", "command").strip()
    incident = api_post(
        sms_hub,
        token,
        "/api/v1/incidents",
        {
            "title": "练市新城工地农民工聚集讨薪",
            "town": "lianshi",
            "location": {"lat": 30.713, "lng": 120.429},
            "people_count": 45,
            "kind": "site_gathering",
        },
    )
    page.goto(f"{sms_hub}/accounts/login/?next=/incidents/{incident['id']}/")
    log_in(page, sms_hub, "command")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    page.evaluate("window.__notReloaded = true")

    # The server sent one SMS per paged unit; the provider reported each delivered.
    alerts = page.locator("#room-alerts .alert-row")
    expect(alerts).to_have_count(5)
    expect(page.locator("#room-alerts .sms.status-delivered")).to_have_count(5, timeout=20_000)
    expect(page.locator('#timeline [data-kind="sms.delivered"]')).to_have_count(5)
    assert len(provider.messages) == 5
    for received in provider.messages:
        assert received.status_callback is not None
        assert received.status_callback.startswith(f"{sms_hub}/alerts/twilio/status?m=")
        assert f"INC-{incident['id']}" in received.body

    # The police officer on duty replies "收到" to the hub's number.
    status, listed = api_call(sms_hub, "GET", f"/api/v1/alerts?incident={incident['id']}", token)
    assert status == 200
    police = next(a for a in listed["results"] if a["unit"] == "police")
    reference = police["messages"][0]["reference"]
    (to_police,) = [m for m in provider.messages if m.body.endswith(reference)]
    code, twiml = provider.post_inbound(
        f"{sms_hub}/alerts/twilio/inbound", from_=to_police.to, body="收到"
    )
    assert code == 200
    assert "<Response" in twiml

    row = page.locator(f'#room-alerts .alert-row[data-alert="{police["id"]}"]')
    expect(row).to_have_class(re.compile(r"state-acknowledged"))
    expect(page.locator('#timeline [data-kind="alert.acknowledged"]')).to_have_count(1)
    assert page.evaluate("window.__notReloaded") is True

    # A forged reply (bad signature) is refused and changes nothing.
    other = next(a for a in listed["results"] if a["unit"] == "hrss")
    (to_hrss,) = [
        m for m in provider.messages if m.body.endswith(other["messages"][0]["reference"])
    ]
    code, _ = provider.post_inbound(
        f"{sms_hub}/alerts/twilio/inbound", from_=to_hrss.to, body="1", bad_signature=True
    )
    assert code == 403
    status, after = api_call(sms_hub, "GET", f"/api/v1/alerts?incident={incident['id']}", token)
    assert next(a for a in after["results"] if a["unit"] == "hrss")["state"] == "open"
