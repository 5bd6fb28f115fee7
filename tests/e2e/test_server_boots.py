"""The real ASGI server, as `make run` starts it: pages, languages, static files, the API
schema and docs, and the embedded clock sweep in the server's own process."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import string
import time
import urllib.error
import urllib.request
from contextlib import closing
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import pytest

from incidents.domain.identifiers import credit_code_check_char
from tests.e2e.conftest import api_call

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e


class _Links(HTMLParser):
    """Collects stylesheet links and script/link/img sources of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.stylesheets: list[str] = []
        self.assets: list[str] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.html_lang = attr.get("lang")
        if tag == "link" and attr.get("href"):
            self.assets.append(attr["href"])
            if "stylesheet" in attr.get("rel", "").split():
                self.stylesheets.append(attr["href"])
        if tag in {"script", "img"} and attr.get("src"):
            self.assets.append(attr["src"])


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback only)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        body = response.read().decode("utf-8", errors="replace")
        return response.status, {k.lower(): v for k, v in response.headers.items()}, body


def parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def test_login_page_is_chinese_by_default(live_hub: LiveHub) -> None:
    status, headers, body = fetch(f"{live_hub}/accounts/login/")
    assert status == 200
    assert headers.get("content-language") == "zh-hans"
    assert (parse(body).html_lang or "").lower().startswith("zh")
    assert "登录" in body
    assert 'name="username"' in body
    assert 'name="password"' in body


def test_login_page_is_english_when_the_browser_asks(live_hub: LiveHub) -> None:
    status, headers, body = fetch(
        f"{live_hub}/accounts/login/", {"Accept-Language": "en-US,en;q=0.9"}
    )
    assert status == 200
    assert headers.get("content-language") == "en"
    assert (parse(body).html_lang or "").lower().startswith("en")
    assert re.search(r"log\s*in|sign\s*in", body, re.IGNORECASE)
    assert "登录" not in body


def test_stylesheet_of_the_login_page_is_served(live_hub: LiveHub) -> None:
    _, _, body = fetch(f"{live_hub}/accounts/login/")
    stylesheets = parse(body).stylesheets
    assert stylesheets, "the login page links no stylesheet"
    for href in stylesheets:
        url = urljoin(f"{live_hub}/accounts/login/", href)
        assert urlsplit(url).netloc == urlsplit(live_hub).netloc, f"{href} is not on this host"
        status, headers, css = fetch(url)
        assert status == 200, url
        assert headers.get("content-type", "").startswith("text/css"), (url, headers)
        assert css.strip(), f"{url} is empty"


def test_openapi_schema_is_json(live_hub: LiveHub) -> None:
    status, headers, body = fetch(f"{live_hub}/api/v1/openapi.json")
    assert status == 200
    assert headers.get("content-type", "").startswith("application/json")
    schema = json.loads(body)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/cases" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/cases"]


def test_api_docs_assets_come_from_this_host(live_hub: LiveHub) -> None:
    status, _, body = fetch(f"{live_hub}/api/v1/docs")
    assert status == 200
    assets = parse(body).assets
    assert any(a.endswith(".js") for a in assets), assets
    for href in assets:
        url = urljoin(f"{live_hub}/api/v1/docs", href)
        assert urlsplit(url).netloc == urlsplit(live_hub).netloc, f"{href} is not on this host"
        asset_status, _, _ = fetch(url)
        assert asset_status == 200, url


def test_api_docs_render_in_the_browser_without_other_hosts(live_hub: LiveHub, page: Any) -> None:
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto(f"{live_hub}/api/v1/docs")
    assert response is not None
    assert response.status == 200
    # Swagger UI has fetched the schema and drawn the operations.
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() >= 3
    host = urlsplit(live_hub).netloc
    foreign = [u for u in requested if urlsplit(u).scheme in {"http", "https"}]
    foreign = [u for u in foreign if urlsplit(u).netloc != host]
    assert not foreign, f"the docs page asked other hosts: {foreign}"
    assert not failed, f"requests failed: {failed}"


def _sqlite_time(moment: datetime) -> str:
    # Django stores aware datetimes in SQLite as naive UTC text.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def test_embedded_clock_sweep_runs_in_the_server_without_errors(live_hub: LiveHub) -> None:
    """A government project without a builder waits for a person to route it, so its dispatch
    clock runs. Let that clock fall due (the one step done directly in the e2e's own SQLite
    file) and watch the server's embedded sweep mark it overdue, as the API then shows."""
    token = live_hub.manage("issue_token", "clerk_lianshi", "--name", "e2e").strip()
    code_body = "91330503MA" + "".join(random.choices(string.digits, k=7))
    credit_code = code_body + credit_code_check_char(code_body)
    status, case = api_call(
        live_hub,
        "POST",
        "/api/v1/cases",
        token,
        {
            "channel": "window",
            "window": "lianshi",
            "complainant": {"name": "赵大海", "phone": "13705721111"},
            "workers_count": 3,
            "amount_owed": "12000.00",
            "employer": {"name": "湖州练市路桥劳务有限公司", "credit_code": credit_code},
            "project": {"name": "练市镇政府投资道路改造", "type": "government_investment"},
            "town": "lianshi",
        },
    )
    assert status == 201, case
    assert case["state"] == "registered", case
    number = case["case_number"]
    assert case["overdue"] is False, case

    with closing(sqlite3.connect(live_hub.db_path, timeout=20)) as db, db:
        changed = db.execute(
            "UPDATE incidents_clock SET due_at = ? WHERE status = 'running' AND case_id = "
            "(SELECT id FROM incidents_case WHERE number = ?)",
            (_sqlite_time(datetime.now(UTC) - timedelta(minutes=1)), number),
        ).rowcount
    assert changed == 1, f"expected one running clock on {number}, found {changed}"

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, case = api_call(live_hub, "GET", f"/api/v1/cases/{number}", token)
        assert status == 200, case
        # `overdue` is computed on read; the sweep's own marks are the event and `was_overdue`.
        if "clock.overdue" in [e["kind"] for e in case["events"]]:
            break
        time.sleep(0.5)
    log = live_hub.log_since_start()
    kinds = [e["kind"] for e in case["events"]]
    assert "clock.overdue" in kinds, f"the sweep did not mark {number}; server log:\n{log}"
    assert case["overdue"] is True
    assert case["deadlines"]["dispatch"]["status"] == "overdue", case["deadlines"]
    assert case["deadlines"]["dispatch"]["was_overdue"] is True, case["deadlines"]
    assert "clock sweep marked" in log, log
    assert live_hub.process.poll() is None, "the server has exited"
    assert "Traceback" not in log, log
    assert "clock sweep failed" not in log, log
    assert "Application startup complete" in live_hub.log()
