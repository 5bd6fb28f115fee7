"""A window clerk's first day, in a real browser against the real server: log in, register a
complaint in the intake form, see it dispatched with its slip; the same complaint again from
110 merges into it; a liaison of another unit cannot open it; bad input changes nothing.

The intake form's contract (input names, element ids) is fixed in the helpers below.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import expect

from incidents.domain.identifiers import CREDIT_ALPHABET, credit_code_check_char

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

CASE_NUMBER_RE = re.compile(r"NX-\d{4}-\d{6}")
SLIP_NUMBER_RE = re.compile(r"ZB-[A-Z0-9-]+")
CJK_RE = re.compile(r"[\u4e00-\u9fff]")
VALID_ID_NUMBER = "11010519491231002X"
DEMO_PASSWORD = "demo"  # the demo users' password (demo data only)

_codes_made: set[str] = set()


def new_credit_code() -> str:
    """A valid unified social credit code no other test of this run uses."""
    while True:
        body = "91330503MA" + "".join(random.choices(string.digits, k=7))
        if body not in _codes_made:
            _codes_made.add(body)
            return body + credit_code_check_char(body)


def with_wrong_check_char(code: str) -> str:
    wrong = next(c for c in CREDIT_ALPHABET if c != code[17])
    return code[:17] + wrong


@dataclass
class Complaint:
    """One complaint as a clerk types it into the form (the form's input names)."""

    channel: str = "window"
    window: str = "lianshi"
    complainant_name: str = "王建国"
    complainant_phone: str = "13805721234"
    complainant_id_number: str = VALID_ID_NUMBER
    workers_count: str = "12"
    amount_owed: str = "86500.00"
    employer_name: str = "湖州练市宏达建设有限公司"
    employer_credit_code: str = field(default_factory=new_credit_code)
    project_name: str = "练市镇锦绣花园二期"
    project_type: str = "real_estate"
    project_builder: str = ""
    town: str = "lianshi"
    lat: str = "30.7226"
    lng: str = "120.4258"
    description: str = "十二名木工三个月工资未付，项目部称开发商未拨款。"


# --- helpers: what a person does -------------------------------------------------------------


def log_in(page: Any, hub: LiveHub, username: str, password: str = DEMO_PASSWORD) -> None:
    if "/accounts/login/" not in page.url:
        page.goto(f"{hub}/accounts/login/")
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(password)
    with page.expect_navigation():
        page.locator('input[name="password"]').press("Enter")
    assert "/accounts/login/" not in urlsplit(page.url).path, (
        f"logging in as {username} failed; still on {page.url}"
    )


def log_out(page: Any, hub: LiveHub) -> None:
    """Use the page's own log-out control (Django's LogoutView needs a POST form)."""
    form = page.locator('form[action$="/accounts/logout/"]')
    assert form.count() >= 1, f"no log-out form on {page.url}"
    with page.expect_navigation():
        form.first.locator('button, input[type="submit"]').first.click()
    assert urlsplit(page.url).path == "/accounts/login/", page.url


def set_field(page: Any, name: str, value: str) -> None:
    """Type into an input, choose in a select, or set a hidden input (e.g. a map picker)."""
    element = page.locator(f'[name="{name}"]')
    assert element.count() >= 1, f"the intake form has no field named {name!r}"
    element = element.first
    tag = element.evaluate("el => el.tagName.toLowerCase()")
    if tag == "select":
        if value == "" and element.locator('option[value=""]').count() == 0:
            return  # nothing to clear: the select has no empty choice
        if element.is_visible():
            element.select_option(value=value)
        else:
            element.evaluate("(el, v) => { el.value = v; }", value)
    elif element.is_visible():
        element.fill(value)
    else:
        element.evaluate("(el, v) => { el.value = v; }", value)


def submit_complaint(page: Any, hub: LiveHub, complaint: Complaint) -> Any:
    """Open the intake form, fill it as a clerk would, submit; returns the POST's response."""
    response = page.goto(f"{hub}/cases/new/")
    assert response is not None
    assert response.status == 200, f"GET /cases/new/ answered {response.status}"
    values = asdict(complaint)
    # The channel first: the form may show or hide the window field depending on it.
    set_field(page, "channel", values.pop("channel"))
    for name, value in values.items():
        set_field(page, name, value)
    with page.expect_navigation() as navigation:
        page.locator("#submit-intake").click()
    return navigation.value


def api_get(page: Any, hub: LiveHub, path: str) -> dict[str, Any]:
    """GET the JSON API with the browser's own session."""
    response = page.request.get(f"{hub}{path}")
    assert response.status == 200, f"GET {path}: {response.status} {response.text()}"
    return response.json()


def case_count(page: Any, hub: LiveHub) -> int:
    return int(api_get(page, hub, "/api/v1/cases")["count"])


def case_number_on(page: Any) -> str:
    number = page.locator("#case-number").inner_text().strip()
    match = CASE_NUMBER_RE.search(number)
    assert match, f"#case-number shows {number!r}"
    return match.group(0)


# --- the journey -------------------------------------------------------------------------------


def test_home_sends_a_stranger_to_log_in_and_the_clerk_gets_in(page: Any, live_hub: LiveHub):
    page.goto(f"{live_hub}/")
    assert urlsplit(page.url).path == "/accounts/login/", page.url
    log_in(page, live_hub, "clerk_lianshi")
    landed = page.goto(page.url)
    assert landed is not None
    assert landed.status == 200, f"after logging in, {page.url} answered {landed.status}"


def test_clerk_registers_a_complaint_and_it_is_dispatched_with_a_slip(
    page: Any, live_hub: LiveHub, artifacts_dir: Path
) -> None:
    log_in(page, live_hub, "clerk_lianshi")
    complaint = Complaint()
    response = submit_complaint(page, live_hub, complaint)
    assert response.status == 200, f"after submitting, {page.url} answered {response.status}"

    number = case_number_on(page)
    expect(page.locator("#case-state")).to_have_attribute("data-state", "dispatched")
    # Real estate: the housing bureau is responsible (谁主管谁负责).
    expect(page.locator("#responsible-unit")).to_have_attribute("data-unit", "housing")
    expect(page.locator("#merged-notice")).to_have_count(0)

    shot = artifacts_dir / f"case-{number}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists()
    assert shot.stat().st_size > 0

    # The page agrees with the API.
    detail = api_get(page, live_hub, f"/api/v1/cases/{number}")
    assert detail["state"] == "dispatched"
    assert detail["responsible_unit"] == "housing"
    assert detail["employer"]["credit_code"] == complaint.employer_credit_code
    slip_numbers = [s["number"] for s in detail["dispatch_slips"]]
    assert slip_numbers, detail

    # The printable dispatch slip (转办单).
    link = page.locator("#dispatch-slip-link")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href, "#dispatch-slip-link has no href"
    slip = page.goto(urljoin(page.url, href))
    assert slip is not None
    assert slip.status == 200, f"the slip page {page.url} answered {slip.status}"
    text = page.locator("body").inner_text()
    shown = SLIP_NUMBER_RE.findall(text)
    assert shown, f"no slip number (ZB-...) on the slip page:\n{text}"
    assert slip_numbers[-1] in shown, (slip_numbers, shown)
    assert number in text


def test_the_same_complaint_from_110_merges_into_the_open_case(page: Any, live_hub: LiveHub):
    log_in(page, live_hub, "clerk_lianshi")
    first = Complaint()
    submit_complaint(page, live_hub, first)
    number = case_number_on(page)
    case_url = page.url
    expect(page.locator("#merged-notice")).to_have_count(0)
    count_before = case_count(page, live_hub)

    again = Complaint(
        channel="police_110",
        window="",
        complainant_name="李小红",
        complainant_phone="13905729876",
        complainant_id_number="",
        workers_count="5",
        amount_owed="31000.00",
        employer_credit_code=first.employer_credit_code,
        project_name=first.project_name,
        description="110 接警：工人在项目部门口聚集讨薪。",
    )
    response = submit_complaint(page, live_hub, again)
    assert response.status == 200, f"after submitting, {page.url} answered {response.status}"
    assert case_number_on(page) == number
    assert urlsplit(page.url).path == urlsplit(case_url).path
    expect(page.locator("#merged-notice")).to_be_visible()
    expect(page.locator("#case-state")).to_have_attribute("data-state", "dispatched")

    assert case_count(page, live_hub) == count_before
    detail = api_get(page, live_hub, f"/api/v1/cases/{number}")
    assert sorted(r["channel"] for r in detail["reports"]) == ["police_110", "window"]


def test_only_the_responsible_unit_can_open_the_case(page: Any, live_hub: LiveHub):
    # A real-estate project in Shuanglin: housing leads, Shuanglin assists, Lianshi has no part.
    log_in(page, live_hub, "clerk_lianshi")
    complaint = Complaint(
        town="shuanglin",
        project_name="双林镇滨河府",
        employer_name="湖州双林广厦置业有限公司",
        complainant_name="张卫东",
        lat="30.7812",
        lng="120.3370",
    )
    submit_complaint(page, live_hub, complaint)
    number = case_number_on(page)
    case_url = page.url
    expect(page.locator("#responsible-unit")).to_have_attribute("data-unit", "housing")
    log_out(page, live_hub)

    log_in(page, live_hub, "liaison_lianshi")
    refused = page.goto(case_url)
    assert refused is not None
    assert refused.status == 404, f"liaison_lianshi opened {case_url}: {refused.status}"
    expect(page.locator("#case-number")).to_have_count(0)
    assert complaint.complainant_name not in page.content()
    api_refused = page.request.get(f"{live_hub}/api/v1/cases/{number}")
    assert api_refused.status == 404, api_refused.text()
    page.goto(f"{live_hub}/cases/")  # the 404 page has no header; the case list has
    expect(page.locator("#case-number")).to_have_count(0)
    assert number not in page.content(), "the case list shows a case of another unit"
    log_out(page, live_hub)

    log_in(page, live_hub, "liaison_housing")
    shown = page.goto(case_url)
    assert shown is not None
    assert shown.status == 200
    assert case_number_on(page) == number
    expect(page.locator("#responsible-unit")).to_have_attribute("data-unit", "housing")


def test_a_wrong_credit_code_is_refused_and_nothing_is_created(page: Any, live_hub: LiveHub):
    log_in(page, live_hub, "clerk_lianshi")
    count_before = case_count(page, live_hub)
    bad = Complaint(employer_credit_code=with_wrong_check_char(new_credit_code()))
    response = submit_complaint(page, live_hub, bad)

    assert response.status in {200, 400, 422}, response.status
    expect(page.locator("#submit-intake")).to_be_visible()
    expect(page.locator("#case-number")).to_have_count(0)
    errors = page.locator(".errorlist, [role='alert'], .invalid-feedback, .field-error, .error")
    expect(errors.first).to_be_visible()
    # What the clerk typed is kept, so that only the wrong field needs fixing.
    expect(page.locator('[name="employer_credit_code"]')).to_have_value(bad.employer_credit_code)
    expect(page.locator('[name="complainant_name"]')).to_have_value(bad.complainant_name)

    assert case_count(page, live_hub) == count_before


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_the_intake_form_speaks_english_to_an_english_browser(page: Any, live_hub: LiveHub):
    log_in(page, live_hub, "clerk_lianshi")
    response = page.goto(f"{live_hub}/cases/new/")
    assert response is not None
    assert response.status == 200
    assert (page.locator("html").get_attribute("lang") or "").lower().startswith("en")
    label = page.locator("#submit-intake").inner_text() or (
        page.locator("#submit-intake").get_attribute("value") or ""
    )
    assert label.strip(), "the submit button has no label"
    assert not CJK_RE.search(label), f"submit button in English expected, got {label!r}"
