"""The checklist of the demo's active incident, live in two browsers against the real server.

Command staff and the human resources bureau's liaison have the incident room open. A step
moved in one browser (over the room's socket) changes in place in the other: its state, its
buttons and the checklist's progress, without a reload. A skip without a reason is refused
in the clicker's page and changes nothing anywhere. The room loads nothing from elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_get, api_post, in_language
from tests.e2e.test_intake_journey import log_in

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

SKIP_REASON_NEEDED = "Give the reason for skipping the step."
LIVE_TIMEOUT_MS = 5_000  # a move must reach the other browser within this


def demo_incident(hub: str, token: str) -> int:
    """The demo's active incident, whose checklist started when seed_demo activated it.

    The demo makes its incidents from its biggest open cases; the session's hub seeds only
    30 cases, which may all be closed. Then command staff report and activate one through
    the API, which starts its checklist the same way.
    """
    listed = api_get(hub, token, "/api/v1/incidents?status=active")
    for incident in listed["results"]:
        if checklist(hub, token, int(incident["id"]))["steps"]:
            return int(incident["id"])
    reported = api_post(
        hub,
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
    incident_id = int(reported["id"])
    api_post(hub, token, f"/api/v1/incidents/{incident_id}/transitions", {"action": "activate"})
    assert checklist(hub, token, incident_id)["steps"], "activation started no checklist"
    return incident_id


def checklist(hub: str, token: str, incident_id: int) -> dict[str, Any]:
    return api_get(hub, token, f"/api/v1/incidents/{incident_id}/checklist")


def step_of(listing: dict[str, Any], step_id: int) -> dict[str, Any]:
    return next(s for s in listing["steps"] if s["id"] == step_id)


def progress_of(listing: dict[str, Any], checklist_id: int) -> dict[str, int]:
    return next(c for c in listing["checklists"] if c["id"] == checklist_id)["progress"]


@pytest.fixture
def room_pages(live_hub: LiveHub, browser: Any) -> Iterator[tuple[Any, Any, int]]:
    """(command's page, liaison_hrss's page, incident id): both in the demo incident's room,
    connected, each marked so that a reload would show."""
    token = live_hub.manage("issue_token", "command").strip()
    incident_id = demo_incident(live_hub, token)
    contexts = [
        browser.new_context(locale=locale, timezone_id="Asia/Shanghai")
        for locale in ("zh-CN", "en-US")
    ]
    try:
        pages = []
        for context, username in zip(contexts, ("command", "liaison_hrss"), strict=True):
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_hub}/accounts/login/?next=/incidents/{incident_id}/")
            log_in(page, live_hub, username)
            assert page.url == f"{live_hub}/incidents/{incident_id}/"
            expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
            expect(page.locator("#room-checklist .step").first).to_be_visible()
            page.evaluate("window.__notReloaded = true")
            pages.append(page)
        yield pages[0], pages[1], incident_id
    finally:
        for context in contexts:
            context.close()


def pick(listing: dict[str, Any], owner: str) -> dict[str, Any]:
    """The first step of `owner` still open (earlier tests may have moved others)."""
    for step in listing["steps"]:
        if step["owner"] == owner and step["state"] == "open":
            return step
    pytest.fail(f"no open step of {owner} left in the demo incident's checklist")


def buttons_shown(page: Any, step_id: int) -> set[str]:
    return set(
        page.locator(f"#step-{step_id} .step-form:not([hidden]) button[name=state]").evaluate_all(
            "els => els.filter(b => !b.hidden).map(b => b.value)"
        )
    )


def test_a_step_moved_in_one_browser_changes_in_place_in_the_other(
    live_hub: LiveHub, room_pages: tuple[Any, Any, int]
) -> None:
    command, hrss, incident_id = room_pages
    token = live_hub.manage("issue_token", "command").strip()
    before = checklist(live_hub, token, incident_id)
    mine = pick(before, "hrss")
    theirs = pick(before, "command")
    assert theirs["evidence"] == "none", theirs  # done needs nothing more
    checklist_id = theirs["checklist_id"]
    done_before = progress_of(before, checklist_id)

    # The liaison sees the buttons of their own step only; command staff see every step's.
    assert buttons_shown(hrss, mine["id"]) == {"in_progress", "done", "skipped"}
    assert buttons_shown(hrss, theirs["id"]) == set()
    assert buttons_shown(command, mine["id"]) == {"in_progress", "done", "skipped"}

    # The liaison starts their step: command staff see it start.
    hrss.locator(f"#step-{mine['id']} button[name=state][value=in_progress]").click()
    started = command.locator(f"#step-{mine['id']}")
    expect(started).to_have_attribute("data-state", "in_progress", timeout=LIVE_TIMEOUT_MS)
    expect(started).to_have_attribute(
        "data-revision", str(mine["revision"] + 1), timeout=LIVE_TIMEOUT_MS
    )
    expect(started.locator("[data-state-label]")).to_have_text(
        in_language("zh-hans", "in progress")
    )
    expect(started.locator("[data-changed]")).to_contain_text("liaison_hrss")
    assert buttons_shown(command, mine["id"]) == {"open", "done", "skipped"}
    expect(hrss.locator(f"#step-{mine['id']}")).to_have_attribute("data-state", "in_progress")
    assert step_of(checklist(live_hub, token, incident_id), mine["id"])["state"] == "in_progress"

    # Command staff mark their own step done: the liaison sees it, and the progress move on.
    progress_text = f'[data-progress-text="{checklist_id}"]'
    expect(hrss.locator(progress_text)).to_have_text(
        f"{done_before['done']}/{done_before['total']}"
    )
    command.locator(f"#step-{theirs['id']} button[name=state][value=done]").click()
    finished = hrss.locator(f"#step-{theirs['id']}")
    expect(finished).to_have_attribute("data-state", "done", timeout=LIVE_TIMEOUT_MS)
    expect(finished.locator("[data-state-label]")).to_have_text(in_language("en", "done"))
    expect(hrss.locator(progress_text)).to_have_text(
        f"{done_before['done'] + 1}/{done_before['total']}", timeout=LIVE_TIMEOUT_MS
    )
    expect(hrss.locator(f'progress[data-progress="{checklist_id}"]')).to_have_attribute(
        "value", str(done_before["done"] + 1)
    )
    expect(command.locator(progress_text)).to_have_text(
        f"{done_before['done'] + 1}/{done_before['total']}"
    )
    assert buttons_shown(hrss, theirs["id"]) == set()
    assert buttons_shown(command, theirs["id"]) == {"open"}  # only command staff reopen

    after = checklist(live_hub, token, incident_id)
    assert step_of(after, theirs["id"])["state"] == "done"
    assert progress_of(after, checklist_id)["done"] == done_before["done"] + 1
    for page in (command, hrss):
        assert page.evaluate("window.__notReloaded") is True
        assert page.url == f"{live_hub}/incidents/{incident_id}/"


def test_a_skip_without_a_reason_is_refused_and_changes_nothing_anywhere(
    live_hub: LiveHub, room_pages: tuple[Any, Any, int]
) -> None:
    command, hrss, incident_id = room_pages
    token = live_hub.manage("issue_token", "command").strip()
    before = checklist(live_hub, token, incident_id)
    target = pick(before, "hrss")
    item = f"#step-{target['id']}"
    in_chinese = in_language("zh-hans", SKIP_REASON_NEEDED)
    assert hrss.locator("#step-error").is_hidden()

    hrss.locator(f"{item} button[name=state][value=skipped]").click()

    error = hrss.locator("#step-error")
    expect(error).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    text = error.inner_text()
    assert SKIP_REASON_NEEDED in text or in_chinese in text, text
    expect(hrss.locator(item)).to_have_attribute("data-state", "open")
    time.sleep(1.0)  # had anything been moved, its event would have arrived by now
    expect(command.locator(item)).to_have_attribute("data-state", "open")
    expect(command.locator(item)).to_have_attribute("data-revision", str(target["revision"]))
    assert command.locator("#step-error").is_hidden()
    assert step_of(checklist(live_hub, token, incident_id), target["id"]) == step_of(
        before, target["id"]
    )
    moved = command.locator(
        '#timeline li[data-kind="checklist.step_moved"]', has_text=target["title"]
    )
    expect(moved).to_have_count(0)

    # With the reason, the same skip goes through and reaches the other browser.
    hrss.locator(f"{item} input[name=note]").fill("由住建局牵头核实")
    hrss.locator(f"{item} button[name=state][value=skipped]").click()
    expect(command.locator(item)).to_have_attribute(
        "data-state", "skipped", timeout=LIVE_TIMEOUT_MS
    )
    expect(command.locator(f"{item} [data-remark]")).to_have_text("由住建局牵头核实")
    expect(hrss.locator("#step-error")).to_be_hidden()
    for page in (command, hrss):
        assert page.evaluate("window.__notReloaded") is True


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def attachment_step(hub: str, token: str, incident_id: int) -> dict[str, Any]:
    """The human resources bureau's step that needs a file, unfinished (reopened by command
    staff through the API if an earlier test finished it)."""
    listing = checklist(hub, token, incident_id)
    target = next(
        (s for s in listing["steps"] if s["owner"] == "hrss" and s["evidence"] == "attachment"),
        None,
    )
    if target is None:
        pytest.fail("the running playbook has no step of hrss that needs a file")
    if target["state"] in {"done", "skipped"}:
        target = api_post(
            hub,
            token,
            f"/api/v1/incidents/{incident_id}/checklist/{target['id']}",
            {"state": "open"},
        )
    return target


def upload_and_finish(page: Any, hub: str, incident_id: int, step_id: int, pdf: Path) -> None:
    """Attach the file in the step's form and press Done: a plain post, back to the room."""
    item = f"#step-{step_id}"
    expect(page.locator(f"{item} button[name=state][value=done]")).to_be_visible()
    page.locator(f"{item} input[type=file]").set_input_files(str(pdf))
    with page.expect_navigation():
        page.locator(f"{item} button[name=state][value=done]").click()
    assert page.url == f"{hub}/incidents/{incident_id}/#step-{step_id}"


def test_a_step_done_with_its_file_reaches_the_other_browser(
    live_hub: LiveHub, room_pages: tuple[Any, Any, int], tmp_path: Path
) -> None:
    command, hrss, incident_id = room_pages
    token = live_hub.manage("issue_token", "command").strip()
    target = attachment_step(live_hub, token, incident_id)
    item = f"#step-{target['id']}"
    expect(hrss.locator(item)).not_to_have_attribute("data-state", "done")
    pdf = tmp_path / "wage-roster.pdf"
    pdf.write_bytes(PDF)

    upload_and_finish(hrss, live_hub, incident_id, target["id"], pdf)

    expect(hrss.locator(item)).to_have_attribute("data-state", "done")
    link = hrss.locator(f"{item} a.evidence-file")
    expect(link).to_have_text("wage-roster.pdf")
    got = hrss.request.get(f"{live_hub}{link.get_attribute('href')}")
    assert got.status == 200
    assert got.body() == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == 'attachment; filename="wage-roster.pdf"'
    assert got.headers["x-content-type-options"] == "nosniff"
    # Posted as a form, it is an event all the same: the other browser follows in place.
    expect(command.locator(item)).to_have_attribute("data-state", "done", timeout=LIVE_TIMEOUT_MS)
    expect(command.locator(f"{item} [data-changed]")).to_contain_text("liaison_hrss")
    assert command.evaluate("window.__notReloaded") is True
    assert step_of(checklist(live_hub, token, incident_id), target["id"])["attachment"] == (
        "wage-roster.pdf"
    )


def test_the_other_browser_gets_the_link_to_the_file_without_a_reload(
    live_hub: LiveHub, room_pages: tuple[Any, Any, int], tmp_path: Path
) -> None:
    command, hrss, incident_id = room_pages
    token = live_hub.manage("issue_token", "command").strip()
    target = attachment_step(live_hub, token, incident_id)
    item = f"#step-{target['id']}"
    expect(hrss.locator(item)).to_have_attribute("data-state", target["state"])
    pdf = tmp_path / "roster-2.pdf"
    pdf.write_bytes(PDF)

    upload_and_finish(hrss, live_hub, incident_id, target["id"], pdf)

    expect(command.locator(item)).to_have_attribute("data-state", "done", timeout=LIVE_TIMEOUT_MS)
    expect(command.locator(f"{item} a.evidence-file")).to_have_text(
        "roster-2.pdf", timeout=LIVE_TIMEOUT_MS
    )
    assert command.evaluate("window.__notReloaded") is True


def test_closing_the_incident_takes_the_step_buttons_from_a_liaison_without_a_reload(
    live_hub: LiveHub, browser: Any
) -> None:
    token = live_hub.manage("issue_token", "command").strip()
    incident = api_post(
        live_hub,
        token,
        "/api/v1/incidents",
        {
            "title": "双林工业厂房农民工聚集讨薪",
            "town": "lianshi",
            "location": {"lat": 30.713, "lng": 120.429},
            "people_count": 40,
            "kind": "site_gathering",
        },
    )
    incident_id = int(incident["id"])
    api_post(
        live_hub, token, f"/api/v1/incidents/{incident_id}/transitions", {"action": "activate"}
    )
    target = pick(checklist(live_hub, token, incident_id), "hrss")
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_hub}/accounts/login/?next=/incidents/{incident_id}/")
        log_in(page, live_hub, "liaison_hrss")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
        page.evaluate("window.__notReloaded = true")
        assert buttons_shown(page, target["id"]) == {"in_progress", "done", "skipped"}

        api_post(
            live_hub,
            token,
            f"/api/v1/incidents/{incident_id}/transitions",
            {"action": "close", "reason": "工资已现场发放，人员已散去"},
        )

        expect(page.locator("#incident-status")).to_have_attribute(
            "data-status", "closed", timeout=LIVE_TIMEOUT_MS
        )
        form = page.locator(f"#step-{target['id']} .step-form")
        expect(form).to_be_hidden(timeout=LIVE_TIMEOUT_MS)
        assert page.evaluate("window.__notReloaded") is True
    finally:
        context.close()


class _References(HTMLParser):
    """Every URL a page names in src, href or action (and the module scripts' imports
    are fetched from those)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "action", "data-ws"} and value:
                self.urls.append(value)


def test_the_room_names_and_loads_nothing_from_another_host(
    live_hub: LiveHub, browser: Any
) -> None:
    token = live_hub.manage("issue_token", "command").strip()
    incident_id = demo_incident(live_hub, token)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("websocket", lambda socket: requested.append(socket.url))
        page.goto(f"{live_hub}/accounts/login/?next=/incidents/{incident_id}/")
        log_in(page, live_hub, "command")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")

        references = _References()
        references.feed(page.content())
        room = f"{live_hub}/incidents/{incident_id}/"
        host = urlsplit(live_hub).netloc
        named = [urljoin(room, u) for u in references.urls if not u.startswith("#")]
        assert any("/checklist/" in u for u in named)  # the step forms are among them
        foreign = [u for u in named if urlsplit(u).netloc != host]
        assert not foreign, foreign
        fetched = [u for u in requested if urlsplit(u).netloc != host]
        assert not fetched, fetched
        assert any(u.startswith(f"ws://{host}/ws/incidents/{incident_id}/") for u in requested)
    finally:
        context.close()
