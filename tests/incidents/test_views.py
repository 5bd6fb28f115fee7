"""The HTML pages of the one window: intake form, case page, lists, triage and printables."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from incidents.models import Case, DispatchSlip, Enterprise, Event, Report
from tests.factories import credit_code, id_number
from tests.html import page_urls
from tests.live.helpers import incident_open

ClientFor = Callable[[str], Client]
# The input names the end-to-end browser test relies on (a fixed contract).
INTAKE_FIELDS = [
    "channel",
    "window",
    "received_at",
    "complainant_name",
    "complainant_phone",
    "complainant_id_number",
    "workers_count",
    "amount_owed",
    "employer_name",
    "employer_credit_code",
    "project_name",
    "project_type",
    "project_builder",
    "town",
    "lat",
    "lng",
    "description",
]


def form_data(**overrides: Any) -> dict[str, Any]:
    """A valid intake form as a browser posts it: a real-estate project in Lianshi."""
    data: dict[str, Any] = {
        "channel": "window",
        "window": "lianshi",
        "received_at": "",
        "complainant_name": "王建国",
        "complainant_phone": "13812345678",
        "complainant_id_number": id_number(),
        "workers_count": "12",
        "amount_owed": "86000.00",
        "employer_name": "湖州宏达建筑劳务有限公司",
        "employer_credit_code": credit_code(),
        "project_name": "练市新城",
        "project_type": "real_estate",
        "project_builder": "",
        "town": "lianshi",
        "lat": "30.713",
        "lng": "120.429",
        "description": "12名木工被拖欠三个月工资",
    }
    data.update(overrides)
    return data


def register(client: Client, **overrides: Any) -> Case:
    response = client.post("/cases/new/", form_data(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    number = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return Case.objects.get(number=number)


def element(html: str, element_id: str) -> str:
    """The opening tag and text of the element with `element_id` (enough for these pages)."""
    match = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>([^<]*)', html)
    assert match, f"no #{element_id} in the page"
    return match.group(0)


def foreign_urls(html: str) -> list[str]:
    return [u for u in page_urls(html) if urlsplit(u).netloc not in {"", "testserver"}]


@pytest.fixture
def clerk(api_client: ClientFor) -> Client:
    return api_client("clerk_lianshi")


# --- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/", "/cases/", "/cases/new/", "/cases/triage/", "/cases/NX-2026-000001/"]
)
def test_anonymous_is_sent_to_the_login_page(district: Any, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_login_page_speaks_chinese_and_english(db: None) -> None:
    zh = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    en = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert "登录" in zh.content.decode()
    assert "欠薪联合指挥平台" in zh.content.decode()
    assert "Log in" in en.content.decode()
    assert "登录" not in en.content.decode()
    assert "Wage-arrears joint command hub" in en.content.decode()


def test_demo_user_logs_in_and_lands_on_the_case_list(district: Any) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "clerk_lianshi", "password": "demo"})
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/cases/"


def test_language_switch_sticks_over_the_browser_language(clerk: Client) -> None:
    response = clerk.post("/i18n/setlang/", {"language": "en", "next": "/cases/"})
    assert response.status_code == 302
    assert response["Location"] == "/cases/"
    html = clerk.get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="en">' in html
    assert "New complaint" in html


@pytest.mark.parametrize("username", ["liaison_housing", "reviewer"])
def test_people_who_do_not_register_get_no_intake_form(
    api_client: ClientFor, username: str
) -> None:
    client = api_client(username)
    assert client.get("/cases/new/").status_code == 403
    assert client.post("/cases/new/", form_data()).status_code == 403
    assert not Case.objects.exists()


# --- intake ------------------------------------------------------------------------------------


def test_intake_form_defaults_to_the_clerks_window_and_town(clerk: Client) -> None:
    html = clerk.get("/cases/new/").content.decode()
    assert re.search(r'<option value="lianshi" selected>', html)
    for name in INTAKE_FIELDS:
        assert f'name="{name}"' in html, name
    assert 'id="submit-intake"' in html


def test_intake_registers_dispatches_and_shows_the_case(clerk: Client) -> None:
    response = clerk.post("/cases/new/", form_data(), follow=True)
    assert response.status_code == 200
    case = Case.objects.get()
    assert response.redirect_chain == [(f"/cases/{case.number}/", 302)]
    assert case.state == "dispatched"
    assert case.responsible_unit is not None
    assert case.responsible_unit.code == "housing"
    slip = DispatchSlip.objects.get(case=case)
    html = response.content.decode()
    assert case.number in element(html, "case-number")
    assert 'data-state="dispatched"' in element(html, "case-state")
    assert 'data-unit="housing"' in element(html, "responsible-unit")
    assert f'href="/slips/{slip.number}/"' in element(html, "dispatch-slip-link")
    assert "commitment-letter-link" not in html
    assert 'id="merged-notice"' not in html


def test_received_at_is_read_in_shanghai_time(clerk: Client) -> None:
    case = register(clerk, received_at="2026-01-05T09:30")
    assert case.received_at.isoformat() == "2026-01-05T01:30:00+00:00"
    html = clerk.get(f"/cases/{case.number}/").content.decode()
    assert "2026-01-05 09:30" in html


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"employer_credit_code": "91330503MA2B3C4D5X"}, "employer_credit_code"),
        ({"complainant_phone": "12345"}, "complainant_phone"),
        ({"window": ""}, "window"),
        ({"complainant_id_number": "330503198513321234"}, "complainant_id_number"),
        ({"workers_count": "0"}, "workers_count"),
        ({"amount_owed": "-5"}, "amount_owed"),
        ({"complainant_name": ""}, "complainant_name"),
        ({"town": "atlantis"}, "town"),
        ({"lat": "30.7", "lng": ""}, "lng"),
        ({"project_type": ""}, "project_type"),
        ({"received_at": "2999-01-01T00:00"}, "received_at"),
    ],
)
def test_invalid_intake_re_renders_the_form_and_stores_nothing(
    clerk: Client, overrides: dict[str, str], field: str
) -> None:
    response = clerk.post("/cases/new/", form_data(**overrides))
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="error-{field}"' in html, html[:3000]
    assert 'id="form-errors"' in html
    assert not Case.objects.exists()
    assert not Report.objects.exists()
    assert not Enterprise.objects.exists()
    assert not Event.objects.filter(case__isnull=False).exists()


def test_validation_messages_are_in_the_readers_language(clerk: Client) -> None:
    bad = form_data(employer_credit_code="91330503MA2B3C4D5X")
    zh = clerk.post("/cases/new/", bad, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    en = clerk.post("/cases/new/", bad, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "不是有效的统一社会信用代码" in zh
    assert "Not a valid unified social credit code" in en


def test_clerk_keeps_sight_of_a_call_taken_for_another_town(clerk: Client) -> None:
    response = clerk.post(
        "/cases/new/",
        form_data(channel="hotline_12345", window="", town="shuanglin"),
        follow=True,
    )
    case = Case.objects.get()
    assert response.redirect_chain == [(f"/cases/{case.number}/", 302)]
    assert case.number in element(response.content.decode(), "case-number")


def test_second_report_merges_with_a_visible_notice(clerk: Client) -> None:
    code = credit_code()
    first = register(clerk, employer_credit_code=code)
    response = clerk.post(
        "/cases/new/",
        form_data(
            employer_credit_code=code, channel="police_110", window="", complainant_name="李军"
        ),
        follow=True,
    )
    assert response.redirect_chain == [(f"/cases/{first.number}/", 302)]
    html = response.content.decode()
    assert first.number in element(html, "merged-notice")
    assert Case.objects.count() == 1
    assert Report.objects.filter(case=first).count() == 2
    assert "李军" in html


# --- the case page -----------------------------------------------------------------------------


def test_case_page_follows_the_browser_language(clerk: Client) -> None:
    case = register(clerk)
    en = clerk.get(f"/cases/{case.number}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    zh = clerk.get(f"/cases/{case.number}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "Dispatch slip" in en
    assert '<html lang="en">' in en
    assert "dispatched" in element(en, "case-state")
    assert "Housing and Construction Bureau" in en
    assert "转办单" in zh
    assert '<html lang="zh-hans">' in zh
    assert "已转办" in element(zh, "case-state")
    assert "区住房和城乡建设局" in zh
    assert "欠薪联合指挥平台" in zh


def test_liaison_of_another_unit_cannot_open_the_case(clerk: Client, api_client: ClientFor) -> None:
    # Housing leads a real-estate case and the town where it is assists; Lianshi is neither.
    case = register(clerk, town="shuanglin")
    slip = DispatchSlip.objects.get(case=case)
    outsider = api_client("liaison_lianshi")
    assert outsider.get(f"/cases/{case.number}/").status_code == 404
    assert outsider.get(f"/slips/{slip.number}/").status_code == 404
    response = outsider.post(f"/cases/{case.number}/transition/", {"action": "accept"})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == "dispatched"


def test_phones_are_masked_for_liaisons_but_not_for_clerks(
    clerk: Client, api_client: ClientFor
) -> None:
    case = register(clerk)
    assert "13812345678" in clerk.get(f"/cases/{case.number}/").content.decode()
    html = api_client("liaison_housing").get(f"/cases/{case.number}/").content.decode()
    assert "13812345678" not in html
    assert "138****5678" in html


def test_liaison_accepts_through_the_form_and_gets_the_letter(
    clerk: Client, api_client: ClientFor
) -> None:
    case = register(clerk)
    liaison = api_client("liaison_housing")
    page = liaison.get(f"/cases/{case.number}/").content.decode()
    assert 'id="action-accept"' in page
    response = liaison.post(
        f"/cases/{case.number}/transition/",
        {"action": "accept", "reason": "", "revision": case.revision},
        follow=True,
    )
    assert response.redirect_chain == [(f"/cases/{case.number}/", 302)]
    case.refresh_from_db()
    assert case.state == "accepted"
    html = response.content.decode()
    assert 'data-state="accepted"' in element(html, "case-state")
    link = element(html, "commitment-letter-link")
    assert f'href="/cases/{case.number}/commitment-letter/"' in link
    letter = liaison.get(f"/cases/{case.number}/commitment-letter/").content.decode()
    assert f"CN-{case.number}" in element(letter, "letter-number")
    assert "7" in element(letter, "letter-promise")


def test_illegal_transition_is_refused_with_the_reason_and_changes_nothing(
    clerk: Client, api_client: ClientFor
) -> None:
    case = register(clerk)
    events_before = Event.objects.filter(case=case).count()
    response = api_client("liaison_housing").post(
        f"/cases/{case.number}/transition/", {"action": "resolve", "amount": "100"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert element(html, "transition-error")
    assert "不能执行" in html
    assert 'data-state="dispatched"' in element(html, "case-state")
    case.refresh_from_db()
    assert case.state == "dispatched"
    assert Event.objects.filter(case=case).count() == events_before


def test_transition_the_role_may_not_take_is_forbidden(
    clerk: Client, api_client: ClientFor
) -> None:
    case = register(clerk)
    response = api_client("reviewer").post(
        f"/cases/{case.number}/transition/", {"action": "close", "reason": "x"}
    )
    assert response.status_code == 403
    assert 'id="transition-error"' in response.content.decode()
    case.refresh_from_db()
    assert case.state == "dispatched"


def test_missing_reason_is_reported_on_the_form(clerk: Client) -> None:
    case = register(clerk)
    response = clerk.post(f"/cases/{case.number}/transition/", {"action": "reject", "reason": ""})
    assert response.status_code == 422
    assert "reason" in element(response.content.decode(), "transition-error") + (
        response.content.decode()
    )
    case.refresh_from_db()
    assert case.state == "dispatched"


def test_stale_revision_is_a_conflict(clerk: Client, api_client: ClientFor) -> None:
    case = register(clerk)
    response = api_client("liaison_housing").post(
        f"/cases/{case.number}/transition/", {"action": "accept", "revision": case.revision - 1}
    )
    assert response.status_code == 409
    case.refresh_from_db()
    assert case.state == "dispatched"


def test_unknown_action_is_a_bad_request(clerk: Client) -> None:
    case = register(clerk)
    response = clerk.post(f"/cases/{case.number}/transition/", {"action": "explode"})
    assert response.status_code == 400


# --- lists, triage and bulk actions ---------------------------------------------------------------


def test_case_list_filters_and_counts(clerk: Client, api_client: ClientFor) -> None:
    housing_case = register(clerk)
    town_case = register(clerk, project_name="", project_type="")
    command = api_client("command")
    html = command.get("/cases/").content.decode()
    assert housing_case.number in html
    assert town_case.number in html
    assert "2" in element(html, "case-count")
    filtered = command.get("/cases/?unit=housing").content.decode()
    assert housing_case.number in filtered
    assert town_case.number not in filtered
    assert command.get("/cases/?state=closed").content.decode().count("case-row") == 0
    assert command.get("/cases/?received_from=2026-13-01").status_code == 400
    bad_order = command.get("/cases/?received_from=2026-02-01&received_to=2026-01-01")
    assert bad_order.status_code == 400


def test_case_list_is_paginated(clerk: Client, api_client: ClientFor) -> None:
    for _ in range(51):
        register(clerk)
    command = api_client("command")
    first = command.get("/cases/").content.decode()
    assert first.count('class="case-row') == 50
    assert "51" in element(first, "case-count")
    second = command.get("/cases/?page=2").content.decode()
    assert second.count('class="case-row') == 1


def test_triage_lists_unrouted_cases_and_bulk_dispatches_them(clerk: Client) -> None:
    # A government-invested project without a known builder: the table cannot decide.
    waiting = register(clerk, project_type="government_investment", project_name="安置房")
    assert waiting.state == "registered"
    html = clerk.get("/cases/triage/").content.decode()
    assert waiting.number in html
    assert 'name="case_numbers"' in html
    response = clerk.post(
        "/cases/bulk/",
        {
            "case_numbers": [waiting.number, "NX-2026-999999"],
            "action": "dispatch",
            "unit": "nx_invest",
            "reason": "政府投资项目",
            "next": "/cases/triage/",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/cases/triage/", 302)]
    waiting.refresh_from_db()
    assert waiting.state == "dispatched"
    assert waiting.responsible_unit is not None
    assert waiting.responsible_unit.code == "nx_invest"
    html = response.content.decode()
    assert waiting.number in html  # the success message
    assert "NX-2026-999999" in html  # the refusal message
    assert DispatchSlip.objects.filter(case=waiting).count() == 1


def test_bulk_reassignment_from_the_case_list(clerk: Client, api_client: ClientFor) -> None:
    case = register(clerk)
    command = api_client("command")
    assert 'id="bulk-reassign"' in command.get("/cases/").content.decode()
    response = command.post(
        "/cases/bulk/",
        {"case_numbers": [case.number], "action": "dispatch", "unit": "lianshi", "next": "/cases/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/cases/"
    case.refresh_from_db()
    assert case.responsible_unit is not None
    assert case.responsible_unit.code == "lianshi"
    assert DispatchSlip.objects.filter(case=case).count() == 2


def test_bulk_without_cases_or_with_a_foreign_next_stays_home(clerk: Client) -> None:
    response = clerk.post(
        "/cases/bulk/", {"action": "dispatch", "unit": "lianshi", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/cases/triage/"


def test_reviewer_sees_no_bulk_forms(clerk: Client, api_client: ClientFor) -> None:
    register(clerk)
    reviewer = api_client("reviewer")
    assert 'id="bulk-reassign"' not in reviewer.get("/cases/").content.decode()
    assert 'id="bulk-dispatch"' not in reviewer.get("/cases/triage/").content.decode()


# --- printables ----------------------------------------------------------------------------------


def test_dispatch_slip_page(clerk: Client) -> None:
    case = register(clerk, town="shuanglin")
    slip = DispatchSlip.objects.get(case=case)
    response = clerk.get(f"/slips/{slip.number}/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    html = response.content.decode()
    assert slip.number in element(html, "slip-number")
    assert case.number in element(html, "slip-case-number")
    assert 'data-unit="housing"' in element(html, "slip-unit")
    assert "双林镇" in html  # the assisting town
    assert "登记当日转办" in html
    assert "转办单" in html
    assert clerk.get("/slips/ZB-NOPE-1/").status_code == 404


def test_commitment_letter_exists_only_once_accepted(clerk: Client) -> None:
    case = register(clerk)
    assert clerk.get(f"/cases/{case.number}/commitment-letter/").status_code == 404


def test_print_stylesheet_is_linked(clerk: Client) -> None:
    case = register(clerk)
    html = clerk.get(f"/slips/{DispatchSlip.objects.get(case=case).number}/").content.decode()
    assert 'href="/static/css/hub.css"' in html


# --- every page stands alone ---------------------------------------------------------------------


def test_no_page_refers_to_another_host(clerk: Client, api_client: ClientFor) -> None:
    case = register(clerk)
    liaison = api_client("liaison_housing")
    liaison.post(f"/cases/{case.number}/transition/", {"action": "accept"})
    slip = DispatchSlip.objects.get(case=case)
    pages = {
        "/accounts/login/": Client(),
        "/cases/": clerk,
        "/cases/new/": clerk,
        "/cases/triage/": clerk,
        f"/cases/{case.number}/": clerk,
        f"/slips/{slip.number}/": clerk,
        f"/cases/{case.number}/commitment-letter/": clerk,
    }
    incident = incident_open("command")
    command = api_client("command")
    pages.update(
        {
            "/": command,
            "/incidents/": command,
            "/incidents/new/": command,
            f"/incidents/{incident.pk}/": command,
        }
    )
    for url, client in pages.items():
        for language in ("zh-CN", "en"):
            response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, url
            html = response.content.decode()
            assert not foreign_urls(html), (url, foreign_urls(html))
            # Scripts are the hub's own files (static, or a map's script made for the page);
            # inline blocks only carry JSON data (no code runs inline, so a Content Security
            # Policy without 'unsafe-inline' holds).
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert re.search(r'src="/(static|maps)/[^"]+\.js[^"]*"', tag) or (
                    'type="application/json"' in tag
                ), (url, tag)
