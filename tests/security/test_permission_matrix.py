"""The permission matrix: every address and socket of the hub, for every demo person.

One row per route of the resolver (a new route without a row fails
`test_every_route_has_a_row`), with what each person gets: allowed (the status the view
gives), 302-to-login or 401 for the anonymous, 403 for a role that may not, 404 for what is
of another district or out of the person's scope. Writes are called with bodies valid for the
person allowed, each call rolled back: a refused write changes nothing (events, rows and
revisions are compared), an allowed one does (marked `*`).

Then every list and feed is read as every person: each case and incident it names is in the
policy's visible set for that person (`visible_cases`, `visible_incidents`), and known things
out of their scope are absent. Then every socket: who may connect, and to which stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from alerts.policy import alerts_visible, reads_opinion
from command_center.asgi import application
from incidents.domain.streams import district_stream, incident_stream, province_stream, unit_stream
from incidents.live import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from incidents.models import AfterActionReport, Case, Incident, Unit
from incidents.policy import actor_for, visible_cases, visible_incidents
from tests.factories import credit_code, intake_payload
from tests.security.matrix_helpers import (
    ANON,
    OPINION_TEXT,
    PERSONAS,
    Callers,
    World,
    async_guard_lifted,
    demo_world,
    fingerprint,
)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with demo_world(django_db_blocker) as built:
        yield built


@pytest.fixture(scope="module")
def callers(world: World, django_db_blocker: Any) -> Callers:
    """Everyone logged in once, with sessions committed beside the world."""
    made = Callers(world)
    # (Lifted like the world's: an async test may be the one that sets this up.)
    with django_db_blocker.unblock(), async_guard_lifted():
        for persona in PERSONAS:
            made.client(persona)
    return made


# --- the table ------------------------------------------------------------------------------


def expect(anon: str, rest: str, **cells: str) -> dict[str, str]:
    """The anonymous person's cell, everyone else's by default, and the exceptions."""
    unknown = set(cells) - set(PERSONAS)
    assert not unknown, unknown
    table = dict.fromkeys(PERSONAS, rest)
    table[ANON] = anon
    table.update(cells)
    return table


def page(rest: str = "200", **cells: str) -> dict[str, str]:
    """An HTML page: login for the anonymous, 403 for the provincial command (no district)."""
    cells.setdefault("province_command", "403")
    return expect("L", rest, **cells)


def api(rest: str = "200", **cells: str) -> dict[str, str]:
    """A JSON endpoint: 401 for the anonymous, 403 for the provincial command."""
    cells.setdefault("province_command", "403")
    return expect("401", rest, **cells)


def public(status: str) -> dict[str, str]:
    return expect(status, status)


# Out of scope of the Lianshi incident (a clerk sees no incident; the 110 link sees only what
# it reported; Wuxing's command sees nothing of Nanxun).
NOT_LIANSHI_INCIDENT = {"clerk_lianshi": "404", "gateway_110": "404", "command_wuxing": "404"}
# Out of scope of the housing case (led by housing, assisted by Lianshi, registered at the
# Lianshi window).
NOT_HOUSING_CASE = {"liaison_police": "404", "gateway_110": "404", "command_wuxing": "404"}
# Out of scope of the Shuanglin incident (reported by the 110 link, closed).
NOT_SHUANGLIN_INCIDENT = {
    "clerk_lianshi": "404",
    "liaison_lianshi": "404",
    "command_wuxing": "404",
}

Path = Callable[[World], str]
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Row:
    """One route: how to call it and what each person gets.

    A cell is a status (`L`: a redirect to the login page; `a|b`: either; `any`: whatever
    it is, the same for everyone; `skip`: not called, see the row's comment); `*` after it
    says the call changed something (a write that got through); a write's other cells must
    change nothing."""

    name: str
    method: str
    path: Path
    cells: dict[str, str]
    body: Body | None = None
    form: bool = False
    # A fresh session per call (logging out ends the shared one).
    fresh: bool = False
    note: str = field(default="", compare=False)

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api")

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}"


def _aar_revision(world: World) -> int:
    report = AfterActionReport.objects.filter(incident_id=world.inc_shuanglin).first()
    return report.revision if report else 0


def _intake(world: World) -> dict[str, Any]:
    return intake_payload(employer={"name": "湖州矩阵劳务有限公司", "credit_code": credit_code()})


def _incident_body(world: World) -> dict[str, Any]:
    return {
        "title": "练市工地工人聚集",
        "town": "lianshi",
        "location": {"lat": 30.713, "lng": 120.429},
        "people_count": 20,
        "kind": "site_gathering",
    }


def _reading(world: World) -> dict[str, Any]:
    return {
        "readings": [
            {
                "source": "matrix",
                "id": "matrix-1",
                "subject": {"credit_code": credit_code()},
                "indicator": "water_m3",
                "period": timezone.localdate().strftime("%Y-%m"),
                "value": 120,
            }
        ]
    }


def _opinion(world: World) -> dict[str, Any]:
    return {
        "source": "weibo",
        "text": "工地讨薪视频转发",
        "published_at": timezone.now().isoformat(),
        "subject": {"incident": world.inc_lianshi},
    }


def _map_feed(feed: str) -> Path:
    def path(world: World) -> str:
        return f"/api/v1/map/{feed}"

    return path


def _transport_employer(world: World) -> str:
    return str(Case.objects.get(number=world.case_transport).employer.credit_code)


ROWS: list[Row] = [
    # --- public and operational --------------------------------------------------------------
    Row("healthz", "GET", lambda w: "/healthz", public("200")),
    Row("readyz", "GET", lambda w: "/readyz", public("any"), note="503 without Redis; no data"),
    # Prometheus: a scraper's address or METRICS_TOKEN decides, never a person's session.
    Row("metrics", "GET", lambda w: "/metrics", public("any")),
    # The schema is built per call (a second each) and never depends on who asks.
    Row(
        "api:openapi-json",
        "GET",
        lambda w: "/api/v1/openapi.json",
        expect("200", "skip", command="200", gateway_110="200"),
    ),
    Row("api:openapi-view", "GET", lambda w: "/api/v1/docs", public("200")),
    Row("api:api-root", "GET", lambda w: "/api/v1/", public("404")),
    Row("api-not-found", "GET", lambda w: "/api/nowhere", public("404")),
    Row("login", "GET", lambda w: "/accounts/login/", public("200")),
    Row(
        "csp-report",
        "POST",
        lambda w: "/csp-report/",
        public("any"),
        lambda w: {"csp-report": {"violated-directive": "script-src", "blocked-uri": "inline"}},
    ),
    Row("logout", "POST", lambda w: "/accounts/logout/", public("L"), form=True, fresh=True),
    Row(
        "set_language",
        "POST",
        lambda w: "/i18n/setlang/",
        public("302"),
        lambda w: {"language": "en"},
        form=True,
    ),
    # Twilio's webhooks answer only requests signed with the account's token.
    Row(
        "twilio-status",
        "POST",
        lambda w: "/alerts/twilio/status",
        public("403"),
        lambda w: {"MessageSid": "SM1", "MessageStatus": "delivered"},
        form=True,
    ),
    Row(
        "twilio-inbound",
        "POST",
        lambda w: "/alerts/twilio/inbound",
        public("403"),
        lambda w: {"From": "+8613812345678", "Body": "1"},
        form=True,
    ),
    # Short links in SMS redirect to the page, which checks who asks.
    Row("short-incident", "GET", lambda w: f"/i/{w.inc_lianshi}", public("302")),
    Row("short-case", "GET", lambda w: f"/c/{w.case_housing}", public("302")),
    # --- API: cases ------------------------------------------------------------------------
    Row(
        "api:case_intake",
        "POST",
        lambda w: "/api/v1/cases",
        api(
            "403",
            command="201*",
            clerk_lianshi="201*",
            clerk_district="201*",
            gateway_110="201*",
            # Allowed to register, but only in Wuxing: Nanxun's window and town are unknown.
            command_wuxing="422",
        ),
        _intake,
    ),
    Row("api:case_list", "GET", lambda w: "/api/v1/cases", api()),
    Row("api:case_triage", "GET", lambda w: "/api/v1/cases/triage", api()),
    Row(
        "api:case_bulk_transition",
        "POST",
        lambda w: "/api/v1/cases/bulk-transitions",
        # One answer per case: refusals are listed in the body, and change nothing.
        api("200", command="200*", liaison_housing="200*"),
        lambda w: {
            "action": "escalate_inspection",
            "reason": "责任主体无法化解",
            "case_numbers": [w.case_housing],
        },
    ),
    Row(
        "api:case_detail",
        "GET",
        lambda w: f"/api/v1/cases/{w.case_housing}",
        api(**NOT_HOUSING_CASE),
    ),
    Row(
        "api:case_transition",
        "POST",
        lambda w: f"/api/v1/cases/{w.case_housing}/transitions",
        api("403", command="200*", liaison_housing="200*", **NOT_HOUSING_CASE),
        lambda w: {"action": "escalate_inspection", "reason": "责任主体无法化解"},
    ),
    Row("api:unit_list", "GET", lambda w: "/api/v1/units", api()),
    Row("api:fund_summary", "GET", lambda w: "/api/v1/fund", api()),
    Row("api:blacklist_list", "GET", lambda w: "/api/v1/blacklist", api()),
    Row(
        "api:blacklist_add",
        "POST",
        lambda w: "/api/v1/blacklist",
        api("403", command="201*", inspector="201*", command_wuxing="422"),
        lambda w: {"reason": "恶意欠薪", "credit_code": _transport_employer(w)},
    ),
    Row(
        "api:blacklist_appeal",
        "POST",
        lambda w: f"/api/v1/blacklist/{w.blacklist_nx}/appeal",
        # Appeals are recorded at the window too.
        api(
            "403",
            command="200*",
            inspector="200*",
            clerk_lianshi="200*",
            clerk_district="200*",
            command_wuxing="404",
        ),
        lambda w: {"reason": "已结清工资"},
    ),
    Row(
        "api:blacklist_remove",
        "POST",
        lambda w: f"/api/v1/blacklist/{w.blacklist_nx}/remove",
        api("403", command="200*", command_wuxing="404"),
        lambda w: {"reason": "已整改"},
    ),
    # --- API: incidents ----------------------------------------------------------------------
    Row(
        "api:incident_report",
        "POST",
        lambda w: "/api/v1/incidents",
        api("403", command="201*", gateway_110="201*", command_wuxing="422"),
        _incident_body,
    ),
    Row("api:incident_list", "GET", lambda w: "/api/v1/incidents", api()),
    Row(
        "api:incident_get",
        "GET",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}",
        api(**NOT_LIANSHI_INCIDENT),
    ),
    Row(
        "api:incident_events",
        "GET",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}/events",
        api(**NOT_LIANSHI_INCIDENT),
    ),
    Row(
        "api:incident_transition",
        "POST",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}/transitions",
        api(
            "403",
            command="200*",
            liaison_housing="200*",
            liaison_lianshi="200*",
            liaison_police="200*",
            **NOT_LIANSHI_INCIDENT,
        ),
        lambda w: {"action": "update", "reason": "现场人数增加", "people_count": 45},
    ),
    Row("api:ws_ticket", "POST", lambda w: "/api/v1/ws-ticket", api("201")),
    Row(
        "api:incident_cap",
        "GET",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}/cap.xml",
        api(**NOT_LIANSHI_INCIDENT),
    ),
    # --- API: alerts, rosters, early warning --------------------------------------------------
    Row("api:alert_list", "GET", lambda w: "/api/v1/alerts", api()),
    Row(
        "api:alert_ack",
        "POST",
        lambda w: f"/api/v1/alerts/{w.alert_housing}/acknowledge",
        api(
            "404",
            command="200*",
            liaison_housing="200*",
            clerk_district="403",
            inspector="403",
            reviewer="403",
        ),
        lambda w: {},
    ),
    Row("api:roster", "GET", lambda w: "/api/v1/roster", api()),
    Row(
        "api:daily_report_file",
        "POST",
        lambda w: "/api/v1/daily-reports",
        api("403", liaison_housing="201*", liaison_lianshi="201*", liaison_police="201*"),
        lambda w: {"nothing_to_report": True},
    ),
    Row("api:daily_reports", "GET", lambda w: "/api/v1/daily-reports", api()),
    Row(
        "api:indicators_ingest",
        "POST",
        lambda w: "/api/v1/indicators",
        api("403", command="201*", gateway_110="201*", command_wuxing="201*"),
        _reading,
    ),
    Row("api:warning_list", "GET", lambda w: "/api/v1/warnings", api()),
    Row(
        "api:warning_detail",
        "GET",
        lambda w: f"/api/v1/warnings/{w.warning_nx}",
        api("404", command="200", inspector="200", reviewer="200", liaison_lianshi="200"),
    ),
    Row(
        "api:warning_transition",
        "POST",
        lambda w: f"/api/v1/warnings/{w.warning_nx}/transitions",
        api(
            "404",
            command="200*",
            liaison_lianshi="200*",
            inspector="403",
            reviewer="403",
        ),
        lambda w: {"action": "accept", "note": "已约谈企业"},
    ),
    Row(
        "api:opinion_record",
        "POST",
        lambda w: "/api/v1/opinions",
        api(
            "403",
            command="201*",
            liaison_housing="201*",
            liaison_lianshi="201*",
            liaison_police="201*",
            gateway_110="201*",
            command_wuxing="422",
        ),
        _opinion,
    ),
    Row(
        "api:opinion_list",
        "GET",
        lambda w: "/api/v1/opinions",
        api("403", command="200", inspector="200", reviewer="200", command_wuxing="200"),
    ),
    # --- API: checklists, maps, reports, after-action, province -------------------------------
    Row(
        "api:checklist_get",
        "GET",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}/checklist",
        api(**NOT_LIANSHI_INCIDENT),
    ),
    Row(
        "api:checklist_step_move",
        "POST",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}/checklist/{w.step_lianshi}",
        api("403", command="200*", liaison_police="200*", **NOT_LIANSHI_INCIDENT),
        lambda w: {"state": "in_progress"},
    ),
    Row(
        "api:checklist_add",
        "POST",
        lambda w: f"/api/v1/incidents/{w.inc_lianshi}/checklists",
        # Only command staff add a playbook, whichever incident: 403 before looking it up.
        api("403", command="201*", command_wuxing="404"),
        lambda w: {"template": "gathering_ii_i"},
    ),
    *[
        Row(f"api:map_{feed}", "GET", _map_feed(feed), api())
        for feed in ("cases", "heat", "incidents", "windows", "projects", "warnings", "places")
    ],
    Row("api:map_towns", "GET", _map_feed("towns"), api()),
    Row("api:monthly", "GET", lambda w: "/api/v1/reports/monthly", api()),
    Row("api:ranking", "GET", lambda w: "/api/v1/reports/ranking", api()),
    Row(
        "api:after_action_read",
        "GET",
        lambda w: f"/api/v1/incidents/{w.inc_shuanglin}/after-action",
        api(**NOT_SHUANGLIN_INCIDENT),
    ),
    Row(
        "api:after_action_update",
        "PATCH",
        lambda w: f"/api/v1/incidents/{w.inc_shuanglin}/after-action",
        # Only editors (command staff, reviewers), whichever incident: 403 before looking.
        api("403", command="200*", reviewer="200*", command_wuxing="404"),
        lambda w: {"lessons": "提前介入", "revision": _aar_revision(w)},
    ),
    Row(
        "api:after_action_sign_off",
        "POST",
        lambda w: f"/api/v1/incidents/{w.inc_shuanglin}/after-action/sign",
        # The editors get past the permission check; signing needs the lessons written (422).
        api("403", command="422", reviewer="422", command_wuxing="404"),
        lambda w: {"note": "同意", "revision": _aar_revision(w)},
    ),
    Row(
        "api:after_action_bring_up_to_date",
        "POST",
        lambda w: f"/api/v1/incidents/{w.inc_shuanglin}/after-action/refresh",
        api("403", command="200*", reviewer="200*", command_wuxing="404"),
        lambda w: {"revision": _aar_revision(w)},
    ),
    Row(
        "api:summary",
        "GET",
        lambda w: "/api/v1/province/summary",
        expect("401", "403", province_command="200"),
    ),
    # --- pages: dashboard, province, reports ------------------------------------------------
    Row(
        "home",
        "GET",
        lambda w: "/",
        # Clerks and the 110 link start at the case list; the province at its page.
        page(clerk_lianshi="302", gateway_110="302", province_command="302"),
    ),
    Row(
        "dashboard-panels",
        "GET",
        lambda w: "/dashboard/panels/",
        page(clerk_lianshi="403", gateway_110="403"),
    ),
    Row("province", "GET", lambda w: "/province/", page("403", province_command="200")),
    Row(
        "province-panels",
        "GET",
        lambda w: "/province/panels/",
        page("403", province_command="200"),
    ),
    Row(
        "province-incident",
        "GET",
        lambda w: f"/province/incidents/{w.inc_wx}/",
        page("403", province_command="200"),
    ),
    Row("report-monthly", "GET", lambda w: "/reports/monthly/", page()),
    Row("report-ranking", "GET", lambda w: "/reports/ranking/", page()),
    Row(
        "report-unit",
        "GET",
        # Lianshi is Nanxun's only: Wuxing's command asks for a unit it does not have.
        lambda w: "/reports/units/lianshi/",
        page(command_wuxing="404"),
    ),
    Row(
        "situation-list",
        "GET",
        lambda w: "/reports/situation/",
        page("403", command="200", inspector="200", reviewer="200", command_wuxing="200"),
    ),
    Row(
        "situation-detail",
        "GET",
        lambda w: f"/reports/situation/{w.report_nx}/",
        page("403", command="200", inspector="200", reviewer="200", command_wuxing="404"),
    ),
    Row(
        "situation-detail",
        "POST",
        lambda w: f"/reports/situation/{w.report_nx}/",
        page("403", command="302*", inspector="403", reviewer="403", command_wuxing="404"),
        lambda w: {"notes": "值班员补充：夜间平稳"},
        form=True,
    ),
    # --- pages: cases ---------------------------------------------------------------------
    Row("case-list", "GET", lambda w: "/cases/", page()),
    Row(
        "case-new",
        "GET",
        lambda w: "/cases/new/",
        page(
            liaison_housing="403",
            liaison_lianshi="403",
            liaison_police="403",
            inspector="403",
            reviewer="403",
        ),
    ),
    Row("case-triage", "GET", lambda w: "/cases/triage/", page()),
    Row(
        "case-bulk",
        "POST",
        lambda w: "/cases/bulk/",
        # A refusal is a message on the page it came from; nothing changes.
        page("302", command="302*", clerk_district="302*"),
        lambda w: {"action": "dispatch", "unit": "housing", "case_numbers": [w.case_transport]},
        form=True,
    ),
    Row("case-detail", "GET", lambda w: f"/cases/{w.case_housing}/", page(**NOT_HOUSING_CASE)),
    Row(
        "case-transition",
        "POST",
        lambda w: f"/cases/{w.case_housing}/transition/",
        page("403", command="302*", liaison_housing="302*", **NOT_HOUSING_CASE),
        lambda w: {"action": "escalate_inspection", "reason": "责任主体无法化解"},
        form=True,
    ),
    Row(
        "commitment-letter",
        "GET",
        lambda w: f"/cases/{w.case_housing}/commitment-letter/",
        page(**NOT_HOUSING_CASE),
    ),
    Row("slip-print", "GET", lambda w: f"/slips/{w.slip_housing}/", page(**NOT_HOUSING_CASE)),
    # --- pages: incidents -------------------------------------------------------------------
    Row("incident-list", "GET", lambda w: "/incidents/", page()),
    Row(
        "incident-new",
        "GET",
        lambda w: "/incidents/new/",
        page("403", command="200", command_wuxing="200"),
    ),
    Row(
        "incident-room",
        "GET",
        lambda w: f"/incidents/{w.inc_lianshi}/",
        page(**NOT_LIANSHI_INCIDENT),
    ),
    Row(
        "incident-act",
        "POST",
        lambda w: f"/incidents/{w.inc_lianshi}/act/",
        page(
            "403",
            command="302*",
            liaison_housing="302*",
            liaison_lianshi="302*",
            liaison_police="302*",
            **NOT_LIANSHI_INCIDENT,
        ),
        lambda w: {"action": "update", "reason": "现场人数增加", "people_count": "45"},
        form=True,
    ),
    Row(
        "incident-activity",
        "GET",
        lambda w: f"/incidents/{w.inc_lianshi}/activity/",
        page(**NOT_LIANSHI_INCIDENT),
    ),
    Row(
        "unit-activity",
        "GET",
        lambda w: "/units/lianshi/activity/",
        # The unit's own people: its liaison, and the clerk of its town's window.
        page(
            "403",
            command="200",
            inspector="200",
            reviewer="200",
            liaison_lianshi="200",
            clerk_lianshi="200",
            command_wuxing="404",
        ),
    ),
    Row(
        "after-action",
        "GET",
        lambda w: f"/incidents/{w.inc_shuanglin}/after-action/",
        page(**NOT_SHUANGLIN_INCIDENT),
    ),
    Row(
        "after-action-sign",
        "POST",
        lambda w: f"/incidents/{w.inc_shuanglin}/after-action/sign/",
        page("403", command="422", reviewer="422", **NOT_SHUANGLIN_INCIDENT),
        lambda w: {"note": "同意", "revision": str(_aar_revision(w))},
        form=True,
    ),
    Row(
        "after-action-refresh",
        "POST",
        lambda w: f"/incidents/{w.inc_shuanglin}/after-action/refresh/",
        page("403", command="302*", reviewer="302*", **NOT_SHUANGLIN_INCIDENT),
        lambda w: {"revision": str(_aar_revision(w))},
        form=True,
    ),
    Row(
        "after-action-pdf",
        "GET",
        lambda w: f"/incidents/{w.inc_shuanglin}/after-action.pdf",
        # The same check as the report's page (`after-action`); rendering costs a second
        # each, so the allowed are represented by command staff and the 110 link (503: the
        # server has no Chinese font).
        page(
            "skip",
            command="200|503",
            gateway_110="200|503",
            **NOT_SHUANGLIN_INCIDENT,
        ),
    ),
    # --- pages: alerts, warnings, playbooks, maps --------------------------------------------
    Row("alert-list", "GET", lambda w: "/alerts/", page()),
    Row("roster", "GET", lambda w: "/alerts/roster/", page()),
    Row("daily-reports", "GET", lambda w: "/alerts/daily-reports/", page()),
    Row(
        "alert-ack",
        "POST",
        lambda w: f"/alerts/{w.alert_housing}/acknowledge/",
        page(
            "404",
            command="302*",
            liaison_housing="302*",
            clerk_district="403",
            inspector="403",
            reviewer="403",
        ),
        lambda w: {},
        form=True,
    ),
    Row("warning-list", "GET", lambda w: "/alerts/warnings/", page()),
    Row(
        "warning-detail",
        "GET",
        lambda w: f"/alerts/warnings/{w.warning_nx}/",
        page("404", command="200", inspector="200", reviewer="200", liaison_lianshi="200"),
    ),
    Row(
        "warning-move",
        "POST",
        lambda w: f"/alerts/warnings/{w.warning_nx}/move/",
        page(
            "404",
            command="302*",
            liaison_lianshi="302*",
            inspector="403",
            reviewer="403",
            command_wuxing="404",
        ),
        lambda w: {"action": "accept", "note": "已约谈企业"},
        form=True,
    ),
    Row(
        "opinions",
        "GET",
        lambda w: "/alerts/opinions/",
        page(),
    ),
    Row(
        "checklist-step",
        "POST",
        lambda w: f"/incidents/{w.inc_lianshi}/checklist/{w.step_lianshi}/",
        page("403", command="302*", liaison_police="302*", **NOT_LIANSHI_INCIDENT),
        lambda w: {"state": "in_progress"},
        form=True,
    ),
    Row(
        "checklist-attachment",
        "GET",
        # No file on the step: 404 for everyone who may see it; the rest as ever.
        lambda w: f"/incidents/{w.inc_lianshi}/checklist/{w.step_lianshi}/attachment",
        page("404"),
    ),
    Row(
        "checklist-add",
        "POST",
        lambda w: f"/incidents/{w.inc_lianshi}/checklists/",
        page("403", command="302*", **NOT_LIANSHI_INCIDENT),
        lambda w: {"template": "gathering_ii_i"},
        form=True,
    ),
    Row("period-checklists", "GET", lambda w: "/playbooks/", page()),
    Row(
        "period-checklist-step",
        "POST",
        lambda w: f"/playbooks/steps/{w.period_step_nx}/",
        # Those who see the period's checklist get the page back (a refusal is a message);
        # a unit that owns none of its steps, and other districts, get 404.
        page(
            "302",
            command="302*",
            clerk_lianshi="404",
            liaison_lianshi="404",
            gateway_110="404",
            command_wuxing="404",
        ),
        lambda w: {"state": "in_progress"},
        form=True,
    ),
    Row("command-map", "GET", lambda w: "/maps/", page()),
    Row("command-map-js", "GET", lambda w: "/maps/command.js", page()),
    Row("dashboard-map-js", "GET", lambda w: "/maps/dashboard.js", page()),
    Row(
        "incident-map-js",
        "GET",
        lambda w: f"/maps/incidents/{w.inc_lianshi}.js",
        page(**NOT_LIANSHI_INCIDENT),
    ),
    Row("picker-map-js", "GET", lambda w: "/maps/picker.js", page()),
]

# The admin is one group: only staff get in; every other person is sent to its login.
ADMIN_PATHS = ["/admin/", "/admin/incidents/case/", "/admin/auth/user/", "/admin/alerts/alert/"]


# --- every route has a row ------------------------------------------------------------------


def _route_names(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, str]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            for name, route in _route_names(entry, ns):
                yield name, f"{entry.pattern}{route}"
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else ""), str(entry.pattern)


def test_every_route_has_a_row() -> None:
    covered = {row.name for row in ROWS}
    missing = []
    for name, route in _route_names(get_resolver()):
        if route.startswith("admin/"):
            continue  # covered as one group by `test_admin_is_for_staff_only`
        key = name or ("api-not-found" if route == "api/<path:rest>" else route)
        if key not in covered:
            missing.append(f"{key} ({route})")
    assert not missing, f"routes without a row in the permission matrix: {missing}"
    names = {name for name, _ in _route_names(get_resolver())} | {"api-not-found"}
    assert covered <= names, f"rows for routes that no longer exist: {covered - names}"


# --- the calls ------------------------------------------------------------------------------


def _outcome(response: Any) -> str:
    code = response.status_code
    if code == 302 and "/accounts/login/" in response.get("Location", ""):
        return "L"
    return str(code)


def _call(callers: Callers, row: Row, persona: str) -> str:
    world = callers.world
    body = row.body(world) if row.body else None
    if row.fresh:
        client = Client()
        if persona != ANON:
            client.force_login(User.objects.get(username=persona))
        response = client.post(row.path(world), body or {})
        return _outcome(response)
    response = callers.call(
        persona, row.method, row.path(world), body, api=row.is_api, form=row.form
    )
    return _outcome(response)


@pytest.mark.django_db
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_route_for_every_person(row: Row, callers: Callers) -> None:
    wrong = []
    seen: dict[str, str] = {}
    for persona in PERSONAS:
        cell = row.cells[persona]
        if cell == "skip":
            continue
        wanted, changes = cell.rstrip("*"), cell.endswith("*")
        with transaction.atomic():
            before = fingerprint() if row.writes else None
            got = _call(callers, row, persona)
            changed = row.writes and fingerprint() != before
            transaction.set_rollback(True)
        seen[persona] = got
        if wanted != "any" and got not in wanted.split("|"):
            wrong.append(f"{persona}: {got}, expected {wanted}")
        if row.writes and changed != changes:
            what = "changed something" if changed else "changed nothing"
            wrong.append(f"{persona}: the call {what}, expected the opposite")
    if row.cells[ANON] == "any":
        assert len(set(seen.values())) == 1, seen
    assert not wrong, f"{row.id}: " + "; ".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_is_for_staff_only(path: str, callers: Callers, django_db_blocker: Any) -> None:
    for persona in PERSONAS:
        got = _outcome(callers.client(persona).get(path))
        assert got == "302", f"{persona} on {path}: {got}"
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    assert admin.get(path).status_code == 200


@pytest.mark.django_db
def test_an_administrator_of_no_district_starts_at_the_admin(callers: Callers) -> None:
    """The home page is a district's dashboard: a superuser of no district is sent to the
    admin, not shown a 403."""
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    response = admin.get("/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")


# --- never listing what it may not see ------------------------------------------------------

CASE_NUMBER = re.compile(r"\b(?:NX|WX)-\d{4}-\d{6}\b")
INCIDENT_LINK = re.compile(r"/(?:incidents|i)/(\d+)(?:/|\b)")

LISTS = [
    "/api/v1/cases?page_size=200",
    "/api/v1/cases/triage",
    "/api/v1/incidents",
    "/api/v1/alerts",
    "/api/v1/warnings",
    "/api/v1/blacklist",
    "/api/v1/fund",
    "/api/v1/map/cases",
    "/api/v1/map/incidents",
    "/api/v1/map/warnings",
    "/api/v1/reports/monthly",
    "/api/v1/daily-reports",
    "/api/v1/province/summary",
    "/",
    "/dashboard/panels/",
    "/cases/",
    "/cases/triage/",
    "/incidents/",
    "/alerts/",
    "/alerts/warnings/",
    "/alerts/opinions/",
    "/api/v1/opinions",
    "/playbooks/",
    "/maps/command.js",
    "/maps/dashboard.js",
    "/reports/monthly/",
    "/province/",
    "/province/panels/",
]


def _mentions(text: str, phrase: str) -> bool:
    """`phrase` as it is, or as JSON with non-ASCII escaped (scripts, some feeds)."""
    return phrase in text or json.dumps(phrase)[1:-1] in text


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
def test_lists_name_only_what_the_person_may_see(path: str, world: World, callers: Callers) -> None:
    titles = dict(Incident.objects.values_list("pk", "title"))
    known_cases = {world.case_housing, world.case_transport, world.case_gateway, world.case_wx}
    for persona in PERSONAS:
        response = callers.call(persona, "GET", path, api=path.startswith("/api/"))
        if response.status_code != 200:
            continue
        text = response.content.decode()
        if persona == "province_command":
            # Figures only, and the incidents of level II and above of its districts.
            assert not CASE_NUMBER.findall(text), path
            low = Incident.objects.exclude(level__in=["I", "II"]).values_list("title", flat=True)
            leaked = [t for t in low if _mentions(text, t)]
            assert not leaked, f"{path} shows the province incidents below level II: {leaked}"
            continue
        assert persona != ANON, f"{path} answered 200 to the anonymous"
        actor = actor_for(User.objects.get(username=persona))
        cases = set(visible_cases(actor).values_list("number", flat=True))
        incidents = set(visible_incidents(actor).values_list("pk", flat=True))
        if "alerts" in path and "warnings" not in path:
            # A unit's people see its alerts, each naming its incident (alerts.policy).
            incidents |= set(alerts_visible(actor).values_list("incident_id", flat=True))
        named = set(CASE_NUMBER.findall(text))
        assert named <= cases, f"{persona} on {path} sees cases out of scope: {named - cases}"
        for number in known_cases - cases:
            assert number not in text, f"{persona} on {path} sees {number}"
        linked = {int(n) for n in INCIDENT_LINK.findall(text)} & set(titles)
        assert linked <= incidents, f"{persona} on {path} links incidents {linked - incidents}"
        for pk, title in titles.items():
            if pk not in incidents:
                assert not _mentions(text, title), f"{persona} on {path} names incident {pk}"
        if "opinions" in path and not reads_opinion(actor):
            assert OPINION_TEXT not in text, f"{persona} on {path} reads public opinion"


# --- sockets --------------------------------------------------------------------------------

SITE = "http://testserver"


def _socket_cells(world: World) -> dict[str, dict[str, str]]:
    """Per socket, per person: the stream it is given, or the close code of its refusal."""
    nx, wx = district_stream(world.nx_id), district_stream(world.wx_id)
    units = dict(Unit.objects.filter(district_id=world.nx_id).values_list("code", "pk"))
    refused, anon = str(CLOSE_FORBIDDEN), str(CLOSE_UNAUTHENTICATED)
    dashboard = dict.fromkeys(PERSONAS, refused)
    dashboard.update(
        {
            ANON: anon,
            "command": nx,
            "clerk_district": nx,
            "inspector": nx,
            "reviewer": nx,
            "liaison_housing": unit_stream(units["housing"]),
            "liaison_lianshi": unit_stream(units["lianshi"]),
            "liaison_police": unit_stream(units["police"]),
            "command_wuxing": wx,
        }
    )
    province = dict.fromkeys(PERSONAS, refused)
    province.update({ANON: anon, "province_command": province_stream(world.province_id)})
    room = dict.fromkeys(PERSONAS, refused)
    room[ANON] = anon
    lianshi = incident_stream(world.inc_lianshi)
    for persona in ("command", "clerk_district", "inspector", "reviewer"):
        room[persona] = lianshi
    for persona in ("liaison_housing", "liaison_lianshi", "liaison_police"):
        room[persona] = lianshi
    wx_room = dict.fromkeys(PERSONAS, refused)
    wx_room.update({ANON: anon, "command_wuxing": incident_stream(world.inc_wx)})
    shuanglin = dict.fromkeys(PERSONAS, refused)
    shuanglin[ANON] = anon
    for persona in ("command", "clerk_district", "inspector", "reviewer", "gateway_110"):
        shuanglin[persona] = incident_stream(world.inc_shuanglin)
    for persona in ("liaison_housing", "liaison_police"):
        shuanglin[persona] = incident_stream(world.inc_shuanglin)
    return {
        "/ws/dashboard/": dashboard,
        "/ws/province/": province,
        f"/ws/incidents/{world.inc_lianshi}/": room,
        f"/ws/incidents/{world.inc_shuanglin}/": shuanglin,
        f"/ws/incidents/{world.inc_wx}/": wx_room,
    }


async def _connect(path: str, cookie: str | None) -> tuple[str, WebsocketCommunicator]:
    headers = [(b"host", b"testserver"), (b"origin", SITE.encode())]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    first = await ws.receive_json_from(timeout=5)
    if first.get("type") == "hello":
        return str(first["stream"]), ws
    assert first["type"] == "error", first
    closing = await ws.receive_output(timeout=5)
    assert closing["type"] == "websocket.close", closing
    return str(closing.get("code")), ws


@pytest.mark.django_db
def test_every_socket_route_is_in_the_table(world: World) -> None:
    from command_center.routing import websocket_urlpatterns

    routes = {str(p.pattern) for p in websocket_urlpatterns}
    tabled = {re.sub(r"/\d+/$", "/<int:incident_id>/", p).lstrip("/") for p in _socket_cells(world)}
    assert routes == tabled


async def test_sockets_for_every_person(
    world: World, callers: Callers, django_db_blocker: Any
) -> None:
    def cookies() -> dict[str, str | None]:
        return {
            persona: None if persona == ANON else callers.client(persona).cookies["sessionid"].value
            for persona in PERSONAS
        }

    with django_db_blocker.unblock():
        cells = await sync_to_async(_socket_cells)(world)
        wrong = await _sockets_outcomes(cells, await sync_to_async(cookies)())
    assert not wrong, "; ".join(wrong)


async def _sockets_outcomes(
    cells: dict[str, dict[str, str]], cookies: dict[str, str | None]
) -> list[str]:
    wrong = []
    for path, expected in cells.items():
        for persona in PERSONAS:
            got, ws = await _connect(path, cookies[persona])
            if got != expected[persona]:
                wrong.append(f"{path} {persona}: {got}, expected {expected[persona]}")
            await ws.disconnect()
    return wrong


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["liaison_police", "gateway_110", "command_wuxing"])
def test_a_bulk_refusal_does_not_tell_an_unseen_case_from_none(
    persona: str, world: World, callers: Callers
) -> None:
    nowhere = "NX-2026-999999"
    before = fingerprint()
    response = callers.call(
        persona,
        "POST",
        "/api/v1/cases/bulk-transitions",
        {
            "action": "escalate_inspection",
            "reason": "无法化解",
            "case_numbers": [world.case_housing, nowhere],
        },
        api=True,
    )
    assert response.status_code == 200
    refused = {r["case_number"]: r["detail"] for r in response.json()["refused"]}
    assert refused[world.case_housing] == refused[nowhere].replace(nowhere, world.case_housing)
    assert fingerprint() == before
