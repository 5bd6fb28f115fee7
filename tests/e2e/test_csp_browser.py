"""The Content Security Policy in a real browser: the pages run under it with nothing blocked.

Command staff, a window clerk, a unit's liaison, the province's command and an administrator
each open every kind of page they may (dashboard, cases, a case and its printouts, intake,
incidents and a room, the maps, reports, the province, playbooks, the SMS pages, early
warnings, the API docs, the admin). Each page must arrive with the policy, and the browser
must report no violation of it (a `securitypolicyviolation` event or a console message) and
no script error, while the live parts still work under it: the maps draw their markers and
the dashboard's, the room's and the province's sockets connect.

Last, a script the policy forbids is tried on purpose: the browser blocks it, and its report
reaches the hub's `/csp-report/` and the log.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_intake_journey import log_in
from tests.e2e.test_map_journey import move_incident, register_case, report_incident

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

ADMIN = "csp_admin"
ADMIN_PASSWORD = "csp-admin-demo-2026"  # a throwaway account of the test hub

# Every violation and script error a page meets, kept in the page from its first script on.
WATCH_JS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ` +
      `${e.sourceFile || "?"}:${e.lineNumber} ${e.sample || ""}`
  );
});
"""

FIXTURES_PY = """
import json
from django.contrib.auth.models import User
from incidents.models import Case, DispatchSlip, Incident, Unit
if not User.objects.filter(username="%(admin)s").exists():
    User.objects.create_superuser("%(admin)s", "admin@example.gov.cn", "%(password)s")
case = Case.objects.filter(
    district__code="nanxun_district", responsible_unit__code="housing",
).exclude(commitment_letter_number="").order_by("-pk").first()
grave = Incident.objects.filter(level__in=["I", "II"]).exclude(status="closed").first()
print(json.dumps({
    "case": case.number,
    "slip": DispatchSlip.objects.filter(case=case).first().number,
    "grave": grave.pk if grave else None,
    "case_pk": case.pk,
}))
"""

LIVE = "#live-status"
CONNECTED = ("data-state", "connected")


@pytest.fixture(scope="module")
def known(live_hub: LiveHub) -> Iterator[dict[str, Any]]:
    """An administrator, and things to open: a housing case with its printouts, a new case on
    the map, an open incident (closed again afterwards) and the province's grave incident."""
    out = live_hub.manage("shell", "-c", FIXTURES_PY % {"admin": ADMIN, "password": ADMIN_PASSWORD})
    found = dict(json.loads(out.strip().splitlines()[-1]))
    command_token = live_hub.manage("issue_token", "command").strip()
    clerk_token = live_hub.manage("issue_token", "clerk_lianshi").strip()
    register_case(live_hub, clerk_token, "lianshi", {"lat": 30.7162, "lng": 120.4295})
    incident = report_incident(live_hub, command_token, "练市工地讨薪聚集", 30.7149, 120.4318)
    found["incident"] = int(incident["id"])
    found["grave"] = found["grave"] or found["incident"]
    yield found
    move_incident(live_hub, command_token, found["incident"], "close", "人员已散去")


class Watched:
    """A browser context logged in as one person, recording what the policy blocks."""

    def __init__(self, browser: Any, hub: str, username: str, password: str | None) -> None:
        self.hub = hub
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(15_000)
        self.context.add_init_script(WATCH_JS)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.where = "login"
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"{self.where}: {error}"))
        self.page.goto(f"{hub}/accounts/login/")
        if password is None:
            log_in(self.page, hub, username)  # type: ignore[arg-type]
        else:
            log_in(self.page, hub, username, password)  # type: ignore[arg-type]

    def _console(self, message: Any) -> None:
        # A missing favicon or a refused page is not the policy's business; any other error is.
        text = message.text
        if "Content Security Policy" in text or (
            message.type == "error" and not text.startswith("Failed to load resource")
        ):
            self.problems.append(f"{self.where}: console {message.type}: {text}")

    def visit(self, path: str) -> Any:
        """Open `path`; check it came with the policy. Returns the page."""
        self.where = path
        response = self.page.goto(f"{self.hub}{path}")
        assert response is not None, path
        assert response.status == 200, (path, response.status)
        policy = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in policy or "unsafe" in policy:
            self.problems.append(f"{path}: policy {policy!r}")
        return self.page

    def settle(self) -> None:
        """Collect the page's violations, once it has loaded (the pages with live parts have
        been waited for by the test)."""
        self.page.wait_for_load_state("load")
        for violation in self.page.evaluate("window.__cspViolations"):
            self.problems.append(f"{self.where}: {violation}")

    def close(self) -> list[str]:
        self.context.close()
        return self.problems


@pytest.fixture
def watch(browser: Any, live_hub: LiveHub) -> Iterator[Any]:
    opened: list[Watched] = []

    def open_as(username: str, password: str | None = None) -> Watched:
        watched = Watched(browser, live_hub, username, password)
        opened.append(watched)
        return watched

    yield open_as
    for watched in opened:
        watched.context.close()


def map_draws_markers(page: Any, purpose: str, layer: str = "cases") -> None:
    node = page.locator(f'.hub-map[data-map="{purpose}"]')
    expect(node).to_have_attribute(f"data-count-{layer}", re.compile(r"^[1-9]\d*$"))
    # Drawn, not only counted: Leaflet put marker elements in the map.
    expect(node.locator(".leaflet-marker-icon").first).to_be_attached()


def visit_all(watched: Watched, paths: list[str]) -> None:
    for path in paths:
        watched.visit(path)
        watched.settle()


def test_every_page_runs_under_the_policy_with_nothing_blocked(
    watch: Any, live_hub: LiveHub, known: dict[str, Any]
) -> None:
    started = time.monotonic()
    case, incident = known["case"], known["incident"]

    command = watch("command")
    page = command.visit("/")
    expect(page.locator(LIVE)).to_have_attribute(*CONNECTED)
    map_draws_markers(page, "dashboard")
    command.settle()
    page = command.visit("/maps/?heat=on")
    map_draws_markers(page, "command")
    expect(page.locator(LIVE)).to_have_attribute(*CONNECTED)
    command.settle()
    page = command.visit(f"/incidents/{incident}/")
    expect(page.locator(LIVE)).to_have_attribute(*CONNECTED)
    map_draws_markers(page, "incident", "incidents")
    command.settle()
    visit_all(
        command,
        [
            "/incidents/",
            "/incidents/new/",
            f"/cases/{case}/",
            f"/cases/{case}/commitment-letter/",
            f"/slips/{known['slip']}/",
            "/reports/monthly/",
            "/reports/ranking/",
            "/reports/units/housing/",
            "/reports/situation/",
            "/playbooks/",
            "/alerts/",
            "/alerts/roster/",
            "/alerts/daily-reports/",
            "/alerts/warnings/",
            "/alerts/opinions/",
            f"/incidents/{incident}/activity/",
        ],
    )
    page = command.visit("/api/v1/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    command.settle()

    clerk = watch("clerk_lianshi")
    page = clerk.visit("/cases/new/")
    map_draws_markers(page, "picker", "windows")
    clerk.settle()
    visit_all(clerk, ["/", "/cases/", "/cases/triage/"])

    liaison = watch("liaison_housing")
    page = liaison.visit("/")
    expect(page.locator(LIVE)).to_have_attribute(*CONNECTED)
    liaison.settle()
    visit_all(liaison, ["/cases/", f"/cases/{case}/", "/alerts/"])

    province = watch("province_command")
    page = province.visit("/province/")
    expect(page.locator(LIVE)).to_have_attribute(*CONNECTED)
    province.settle()
    visit_all(province, [f"/province/incidents/{known['grave']}/"])

    admin = watch(ADMIN, ADMIN_PASSWORD)
    visit_all(
        admin,
        [
            "/admin/",
            "/admin/incidents/case/",
            f"/admin/incidents/case/{known['case_pk']}/change/",
            "/admin/auth/user/add/",
        ],
    )

    problems = [p for w in (command, clerk, liaison, province, admin) for p in w.problems]
    assert not problems, "\n".join(problems)
    assert time.monotonic() - started < 90, "the pages took too long to check"


def test_a_forbidden_script_is_blocked_and_reported_to_the_hub(
    watch: Any, live_hub: LiveHub
) -> None:
    clerk = watch("clerk_lianshi")
    page = clerk.visit("/cases/")
    # An inline script, as an injection would add it: the policy must stop it.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__injected = true;";
          document.body.append(script);
        }"""
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__injected === undefined")
    (violation,) = page.evaluate("window.__cspViolations")
    assert violation.startswith("script-src-elem blocked inline")
    # And a style attribute in markup: styles are held to 'self' as strictly as scripts.
    colour = page.evaluate(
        """() => {
          const box = document.createElement("div");
          box.innerHTML = '<span id="injected" style="color: rgb(255, 0, 0)">x</span>';
          document.body.append(box);
          return getComputedStyle(document.getElementById("injected")).color;
        }"""
    )
    assert colour != "rgb(255, 0, 0)"
    page.wait_for_function("window.__cspViolations.length > 1")
    assert page.evaluate("window.__cspViolations")[1].startswith("style-src-attr blocked inline")
    deadline = time.monotonic() + 10
    while "CSP violation" not in live_hub.log_since_start():
        assert time.monotonic() < deadline, "the browser's report never reached the hub's log"
        time.sleep(0.2)
    line = next(x for x in live_hub.log_since_start().splitlines() if "CSP violation" in x)
    assert "/cases/" in line
    assert "script-src-elem" in line
