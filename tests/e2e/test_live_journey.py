"""Live joint command in real browsers against the real server.

- The command dashboard shows a case registered through the API, without a reload, and its
  figures follow.
- Two people in one incident room: each sees the other arrive, and a chat message sent in
  one browser appears in the other.
- The dashboard survives a server restart: it reconnects and resumes, including the events
  made while it was away.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_post, discard, new_hub, start, stop
from tests.e2e.test_intake_journey import log_in, new_credit_code
from tests.factories import intake_payload

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e


def register(hub: LiveHub, token: str) -> str:
    payload = intake_payload(
        employer={"name": "湖州宏达建筑劳务有限公司", "credit_code": new_credit_code()}
    )
    return str(api_post(hub, token, "/api/v1/cases", payload)["case_number"])


def open_dashboard(page: Any, hub: str) -> None:
    page.goto(f"{hub}/accounts/login/?next=/")
    log_in(page, hub, "command")  # type: ignore[arg-type]
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    page.evaluate("window.__notReloaded = true")


def test_dashboard_shows_a_case_registered_through_the_api_without_reload(
    live_hub: LiveHub, page: Any
) -> None:
    token = live_hub.manage("issue_token", "clerk_lianshi").strip()
    open_dashboard(page, live_hub)
    cases_before = int(page.locator("#kpi-cases").inner_text())

    number = register(live_hub, token)

    feed = page.locator("#event-feed")
    expect(feed.locator("li", has_text=number).first).to_be_visible()
    expect(
        feed.locator(f'li[data-kind="case.registered"] a[href="/cases/{number}/"]')
    ).to_have_count(1)
    # The figures are fetched again after the burst of events.
    expect(page.locator("#kpi-cases")).to_have_text(str(cases_before + 1))
    assert page.evaluate("window.__notReloaded") is True


def test_incident_room_shows_a_chat_message_from_a_second_browser(
    live_hub: LiveHub, browser: Any
) -> None:
    token = live_hub.manage("issue_token", "command").strip()
    incident = api_post(
        live_hub,
        token,
        "/api/v1/incidents",
        {
            "title": "练市新城工地农民工聚集",
            "town": "lianshi",
            "location": {"lat": 30.713, "lng": 120.429},
            "people_count": 45,
            "kind": "site_gathering",
        },
    )
    assert incident["level"] == "III"
    room = f"{live_hub}/incidents/{incident['id']}/"

    contexts = [
        browser.new_context(locale=locale, timezone_id="Asia/Shanghai")
        for locale in ("zh-CN", "en-US")
    ]
    try:
        command, police = (context.new_page() for context in contexts)
        for page, username in ((command, "command"), (police, "liaison_police")):
            page.set_default_timeout(15_000)
            page.goto(f"{live_hub}/accounts/login/?next=/incidents/{incident['id']}/")
            log_in(page, live_hub, username)
            assert page.url == room
            expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
        command.evaluate("window.__notReloaded = true")
        expect(command.locator("#members li")).to_have_count(2)

        police.locator("#chat-text").fill("派出所民警已到现场维持秩序")
        police.locator("#chat-send").click()

        said = command.locator(
            '#timeline li[data-kind="incident.chat"]', has_text="派出所民警已到现场维持秩序"
        )
        expect(said).to_have_count(1)
        expect(said.locator(".actor")).to_have_text("liaison_police")
        assert command.evaluate("window.__notReloaded") is True
        # Sent once, shown once on the sender's side as well.
        expect(police.locator('#timeline li[data-kind="incident.chat"]')).to_have_count(1)

        # A status change by command staff reaches the other browser, in its language.
        command.locator("#action-activate").click()
        expect(police.locator("#incident-status")).to_have_attribute("data-status", "active")
        expect(police.locator("#incident-status")).to_have_text("active")

        police.context.close()
        expect(command.locator("#members li")).to_have_count(1)
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def own_hub() -> Iterator[LiveHub]:
    """A hub of this test's own, since the test stops and restarts its server."""
    hub = new_hub(cases=5)
    try:
        start(hub)
        yield hub
    finally:
        discard(hub)


def test_dashboard_reconnects_and_resumes_after_a_server_restart(
    own_hub: LiveHub, page: Any
) -> None:
    token = own_hub.manage("issue_token", "clerk_lianshi").strip()
    open_dashboard(page, own_hub)
    before = register(own_hub, token)
    expect(page.locator("#event-feed li", has_text=before).first).to_be_visible()

    stop(own_hub.process)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    start(own_hub)
    during = register(own_hub, token)  # may land before the page is back: resume brings it
    expect(page.locator("#live-status")).to_have_attribute(
        "data-state", "connected", timeout=30_000
    )
    after = register(own_hub, token)

    feed = page.locator("#event-feed")
    for number in (during, after):
        expect(feed.locator('li[data-kind="case.registered"]', has_text=number)).to_have_count(1)
    ids = [
        int(i)
        for i in feed.locator("li[data-id]").evaluate_all("els => els.map(e => e.dataset.id)")
    ]
    assert ids == sorted(ids, reverse=True), "newest first, each once"
    assert len(ids) == len(set(ids))
    assert page.evaluate("window.__notReloaded") is True


@pytest.mark.parametrize(
    ("width", "height"), [(1366, 768), (390, 844)], ids=["laptop-1366x768", "phone-390x844"]
)
def test_live_pages_fit_the_screen_and_load_nothing_from_elsewhere(
    live_hub: LiveHub, browser: Any, width: int, height: int
) -> None:
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": width, "height": height}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        open_dashboard(page, live_hub)
        pages = ["/", "/incidents/"]
        first_room = page.locator("#open-incidents a").first
        if first_room.count():
            pages.append(first_room.get_attribute("href"))
        for path in pages:
            page.goto(f"{live_hub}{path}")
            expect(page.locator("#live-status, h1").first).to_be_visible()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
        host = live_hub.split("://", 1)[1]
        foreign = [u for u in requested if u.split("://", 1)[1].split("/", 1)[0] != host]
        assert not foreign, foreign
    finally:
        context.close()
