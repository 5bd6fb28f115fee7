"""The provincial command in a real browser against the real server.

The province's page lands after login, puts both demo districts side by side, and shows a
level II gathering reported in Wuxing through the API at once, without a reload; a level
III one elsewhere never appears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_post
from tests.e2e.test_intake_journey import log_in

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e


def report(hub: LiveHub, token: str, town: str, people: int, where: tuple[float, float]) -> Any:
    return api_post(
        hub,
        token,
        "/api/v1/incidents",
        {
            "title": "工业园区工人聚集讨薪",
            "town": town,
            "location": {"lat": where[0], "lng": where[1]},
            "people_count": people,
            "kind": "site_gathering",
        },
    )


def test_the_province_sees_a_grave_incident_of_any_district_live(
    live_hub: LiveHub, page: Any
) -> None:
    page.goto(f"{live_hub}/accounts/login/")
    log_in(page, live_hub, "province_command")
    assert page.url == f"{live_hub}/province/"
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    page.evaluate("window.__notReloaded = true")
    figures = page.locator("#district-figures")
    expect(figures.locator('tr[data-district="nanxun_district"]')).to_be_visible()
    expect(figures.locator('tr[data-district="wuxing_district"]')).to_be_visible()
    # The demo's own level II gathering in Wuxing is listed.
    expect(page.locator("#grave-incidents li.level-II").first).to_be_visible()

    minor = report(
        live_hub,
        live_hub.manage("issue_token", "command").strip(),
        "lianshi",
        40,
        (30.713, 120.429),
    )
    assert minor["level"] == "III"
    grave = report(
        live_hub,
        live_hub.manage("issue_token", "command_wuxing").strip(),
        "zhili",
        160,
        (30.839, 120.26),
    )
    assert grave["level"] == "II"

    feed = page.locator("#event-feed")
    expect(
        feed.locator(
            f'li[data-kind="incident.reported"] a[href="/province/incidents/{grave["id"]}/"]'
        )
    ).to_have_count(1)
    expect(page.locator(f'#grave-incidents li[data-incident="{grave["id"]}"]')).to_be_visible()
    expect(feed.locator(f'a[href="/province/incidents/{minor["id"]}/"]')).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True

    page.click(f'#grave-incidents li[data-incident="{grave["id"]}"] a')
    expect(page.locator("#incident-district")).to_have_text("吴兴区")
