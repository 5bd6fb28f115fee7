"""Early warning in real browsers against the real server (embedded mode: no Redis, so the
scoring task runs in the request's process right after the readings are committed).

- The command dashboard is open when the 110 gateway sends readings that make a red
  warning: the early-warning panel counts it and lists it, and the event feed shows it,
  without a reload.
- The command map shows the warning's marker as soon as it is raised, and takes it away
  when the warning is closed through the API, without a reload.
- The unit's liaison opens the warning's page, presses Intervene and sees it being handled.

Each test makes its own enterprise (a complaint with a position in Lianshi, then readings),
so the tests do not depend on one another or on the demo's own warnings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.conftest import api_call, api_get, api_post, in_language
from tests.e2e.test_intake_journey import log_in, new_credit_code
from tests.factories import intake_payload

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

LANGUAGE = "zh-hans"  # the browsers browse in zh-CN (see the `page` fixture)
LIVE_TIMEOUT_MS = 10_000  # an event must reach the page within this


def zh(message: str) -> str:
    return in_language(LANGUAGE, message)


def month(back: int) -> str:
    """The month `back` months before this one, in the hub's time zone, as "YYYY-MM"."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Subject:
    credit_code: str
    name: str
    site: dict[str, float]


def new_subject(hub: str, clerk_token: str, name: str, site: dict[str, float]) -> Subject:
    """An enterprise the hub knows from a complaint in Lianshi, with a position (so the map
    can draw its warning and the routing table gives it to Lianshi)."""
    code = new_credit_code()
    api_post(
        hub,
        clerk_token,
        "/api/v1/cases",
        intake_payload(
            employer={"name": name, "credit_code": code},
            town="lianshi",
            location=site,
            project={"name": f"{name}厂房", "type": "other_construction"},
        ),
    )
    return Subject(code, name, site)


def send_red_readings(hub: str, gateway_token: str, subject: Subject) -> dict[str, Any]:
    """Readings that score the enterprise red: a D tax rating, electricity down to 30% of
    the months before, and nothing paid from the wage account for three months while 40
    workers are registered."""
    serial = subject.credit_code[-8:]
    rows: list[tuple[str, str, Any]] = [("tax_credit_rating", month(1), "D")]
    rows += [("electricity_kwh", month(b), 1000) for b in (4, 3, 2)]
    rows += [("electricity_kwh", month(1), 300), ("registered_workers", month(1), 40)]
    rows += [("wage_account_payroll", month(4), 50000)]
    rows += [("wage_account_payroll", month(b), 0) for b in (3, 2, 1)]
    answer = api_post(
        hub,
        gateway_token,
        "/api/v1/indicators",
        {
            "readings": [
                {
                    "source": "e2e-feed",
                    "id": f"{serial}-{i}",
                    "subject": {"credit_code": subject.credit_code},
                    "indicator": indicator,
                    "period": period,
                    "value": value,
                }
                for i, (indicator, period, value) in enumerate(rows)
            ]
        },
    )
    assert answer["accepted"] == len(rows), answer
    return answer


def warning_about(hub: str, token: str, subject: Subject) -> dict[str, Any]:
    """The open warning about the subject, as the API gives it (scoring ran in the request,
    after its commit, so it is there once the POST has answered)."""
    listing = api_get(hub, token, "/api/v1/warnings?state=open&page_size=200")
    found = [w for w in listing["results"] if w["subject"] == {"credit_code": subject.credit_code}]
    assert len(found) == 1, listing
    return found[0]


def open_as(page: Any, hub: str, username: str, path: str) -> None:
    page.goto(f"{hub}/accounts/login/?next={path}")
    log_in(page, hub, username)  # type: ignore[arg-type]
    assert urlsplit(page.url).path == urlsplit(path).path, page.url


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokens(live_hub: LiveHub) -> dict[str, str]:
    return {
        name: live_hub.manage("issue_token", name).strip()
        for name in ("command", "clerk_lianshi", "gateway_110")
    }


@pytest.fixture
def closed_after(live_hub: LiveHub, tokens: dict[str, str]) -> Iterator[list[int]]:
    """Warnings to close after the test, so that later tests see the demo's counts."""
    ids: list[int] = []
    yield ids
    for warning_id in ids:
        api_call(
            live_hub,
            "POST",
            f"/api/v1/warnings/{warning_id}/transitions",
            tokens["command"],
            {"action": "close", "outcome": "no_risk", "note": "端到端测试结束"},
        )


# --- the dashboard ---------------------------------------------------------------------------


def test_a_red_warning_reaches_the_dashboard_panel_and_feed_without_reload(
    live_hub: LiveHub, page: Any, tokens: dict[str, str], closed_after: list[int]
) -> None:
    subject = new_subject(
        live_hub,
        tokens["clerk_lianshi"],
        "湖州练市红旗建筑劳务有限公司",
        {"lat": 30.7161, "lng": 120.4307},
    )
    open_as(page, live_hub, "command", "/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    panel = page.locator("#warnings-panel")
    red = panel.locator('[data-level="red"] .n')
    red_before = int(red.inner_text())
    expect(panel.locator("#open-warnings li", has_text=subject.name)).to_have_count(0)
    page.evaluate("window.__notReloaded = true")

    send_red_readings(live_hub, tokens["gateway_110"], subject)
    warning = warning_about(live_hub, tokens["command"], subject)
    closed_after.append(warning["id"])
    assert warning["level"] == "red"
    assert warning["unit"] == "lianshi"

    # The event feed shows the warning at once, linked to its page.
    raised = page.locator('#event-feed li[data-kind="warning.raised"]', has_text=subject.name)
    expect(raised).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(raised).to_contain_text(zh("Early warning raised"))
    expect(raised.locator(f'a[href="/alerts/warnings/{warning["id"]}/"]')).to_have_text(
        f"{warning['code']} {subject.name}"
    )
    expect(raised.locator(".warning-badge.level-red")).to_have_count(1)

    # The panel is fetched again after the events: one more red, listed first, in alarm.
    expect(red).to_have_text(str(red_before + 1), timeout=LIVE_TIMEOUT_MS)
    listed = panel.locator(f'#open-warnings li[data-warning="{warning["id"]}"]')
    expect(listed).to_have_count(1)
    expect(listed).to_have_class(re.compile(r"\blevel-red\b"))
    expect(listed.locator("a")).to_have_text(subject.name)
    expect(listed.locator(".meta")).to_contain_text(warning["code"])
    expect(panel.locator("#open-warnings li").first).to_have_attribute(
        "data-warning", str(warning["id"])
    )
    expect(panel).to_have_class(re.compile(r"\balarm\b"))
    assert page.evaluate("window.__notReloaded") is True

    # The warning's link leads to its page.
    listed.locator("a").click()
    expect(page).to_have_url(f"{live_hub}/alerts/warnings/{warning['id']}/")
    expect(page.locator("h1")).to_contain_text(warning["code"])


# --- the command map -------------------------------------------------------------------------


def test_the_command_map_shows_a_raised_warning_and_drops_it_when_closed_without_reload(
    live_hub: LiveHub, page: Any, tokens: dict[str, str], closed_after: list[int]
) -> None:
    site = {"lat": 30.718765, "lng": 120.434321}
    subject = new_subject(live_hub, tokens["clerk_lianshi"], "湖州练市红日纺织有限公司", site)
    open_as(page, live_hub, "command", "/maps/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    node = page.locator('.hub-map[data-map="command"]')
    expect(node).to_have_attribute("data-count-warnings", re.compile(r"^\d+$"))
    before = int(node.get_attribute("data-count-warnings"))
    assert before == api_get(live_hub, tokens["command"], "/api/v1/map/warnings")["count"]
    page.evaluate("window.__notReloaded = true")

    send_red_readings(live_hub, tokens["gateway_110"], subject)
    warning = warning_about(live_hub, tokens["command"], subject)
    closed_after.append(warning["id"])

    marker = node.locator(f'.warning-marker[title="{warning["code"]} {subject.name}"]')
    expect(marker).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(marker).to_have_class(re.compile(r"\blevel-red\b"))
    expect(node).to_have_attribute("data-count-warnings", str(before + 1))
    placed = page.evaluate(
        """code => {
  const hubMap = window.hubMaps.find(m => m.node.dataset.map === 'command');
  const marker = hubMap.markers.warnings.get(code);
  if (!marker) return null;
  const at = marker.getLatLng();
  return {lat: at.lat, lng: at.lng};
}""",
        warning["code"],
    )
    # MAP_TILES=none in the e2e hub: the map is WGS-84, the marker at the complaint's site.
    assert placed == {"lat": pytest.approx(site["lat"]), "lng": pytest.approx(site["lng"])}

    api_post(
        live_hub,
        tokens["command"],
        f"/api/v1/warnings/{warning['id']}/transitions",
        {"action": "close", "outcome": "prevented", "note": "已约谈企业负责人，工资已足额发放"},
    )
    closed_after.remove(warning["id"])

    expect(marker).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    expect(node).to_have_attribute("data-count-warnings", str(before))
    assert page.evaluate("window.__notReloaded") is True


# --- the unit's liaison ----------------------------------------------------------------------


def test_the_units_liaison_intervenes_from_the_warning_page(
    live_hub: LiveHub, page: Any, tokens: dict[str, str], closed_after: list[int]
) -> None:
    subject = new_subject(
        live_hub,
        tokens["clerk_lianshi"],
        "湖州练市红光机械有限公司",
        {"lat": 30.7112, "lng": 120.4266},
    )
    send_red_readings(live_hub, tokens["gateway_110"], subject)
    warning = warning_about(live_hub, tokens["command"], subject)
    closed_after.append(warning["id"])
    assert warning["unit"] == "lianshi"

    open_as(page, live_hub, "liaison_lianshi", f"/alerts/warnings/{warning['id']}/")
    expect(page.locator("h1")).to_contain_text(warning["code"])
    state = page.locator("dd.warning-state")
    expect(state).to_have_text(zh("waiting for intervention"))
    reasons = page.locator("ul.warning-reasons li")
    expect(reasons).to_have_count(len(warning["reasons"]))
    actions = page.locator(".warning-actions")
    expect(actions.locator('input[name="action"]')).to_have_count(2)  # intervene, close
    expect(actions.locator('input[name="action"][value="reassign"]')).to_have_count(0)

    with page.expect_navigation():
        actions.get_by_role("button", name=zh("Intervene")).click()

    expect(page).to_have_url(f"{live_hub}/alerts/warnings/{warning['id']}/")
    expect(page.locator(".messages .message.success")).to_have_text(zh("Warning updated."))
    expect(state).to_have_text(zh("being handled"))
    expect(actions.get_by_role("button", name=zh("Intervene"))).to_have_count(0)
    expect(actions.locator('input[name="action"][value="close"]')).to_have_count(1)
    moved = api_get(live_hub, tokens["command"], f"/api/v1/warnings/{warning['id']}")
    assert moved["state"] == "handling"
    assert moved["accepted_at"]
