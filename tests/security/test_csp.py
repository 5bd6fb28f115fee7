"""The Content Security Policy: every HTML page sends it and holds nothing it would block.

Every route of the URL configuration is visited (its arguments filled from the demo data) by
each demo role and by an administrator, and a route that is neither visited nor named below
as not being a page fails the test, so that a new page cannot miss the check. The pages are
read with `html.parser`: no `<script>` with code in it (JSON data blocks are not run), no
event-handler attribute, no `javascript:` URL, no `<style>` element and no `style` attribute.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from command_center import csp
from command_center.models import SituationReport
from command_center.situation import situation_figures
from incidents import demo
from incidents.models import Case, DispatchSlip, District, Incident, Unit
from incidents.policy import actor_for
from incidents.services import IncidentChange, incident_transition

# The demo's roles, and an administrator for the admin pages.
PERSONAS = ("command", "clerk_lianshi", "liaison_housing", "province_command")
ADMIN = "csp_admin"
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "xlink:href"})
# Routes that are not pages: machine endpoints, POST-only actions, files that are not HTML.
NOT_PAGES = frozenset(
    {
        "healthz",
        "readyz",
        "metrics",
        "csp-report",
        "logout",
        "set_language",
        "case-bulk",
        "case-transition",
        "incident-act",
        "after-action-sign",
        "after-action-refresh",
        "after-action-pdf",
        "twilio-status",
        "twilio-inbound",
        "short-incident",
        "short-case",
        "alert-ack",
        "warning-move",
        "checklist-step",
        "checklist-attachment",
        "checklist-add",
        "period-checklist-step",
        "command-map-js",
        "dashboard-map-js",
        "incident-map-js",
        "picker-map-js",
    }
)
# Routes whose argument is filled from another demo value: the after-action report is drawn
# for a closed incident only.
ROUTE_ARGUMENTS = {"after-action": {"incident_id": "closed_incident_id"}}
# Pages of the admin, which Django draws: its index, a list, a change form, an add form.
ADMIN_PAGES = (
    "/admin/",
    "/admin/incidents/case/",
    "/admin/auth/user/add/",
    "/admin/incidents/unit/{unit_pk}/change/",
)


class InlineCode(HTMLParser):
    """What in a page a policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style={value!r}>")
            if name in URL_ATTRIBUTES and value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            self._script = attributes
            self._script_text = []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "script" or self._script is None:
            return
        attributes, text = self._script, "".join(self._script_text).strip()
        self._script = None
        data_block = attributes.get("type") == "application/json"
        if attributes.get("src"):
            if text:
                self.found.append(f"<script src={attributes['src']!r}> with code in it")
        elif text and not data_block:
            self.found.append(f"inline <script>: {text[:80]!r}")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ("<script>alert(1)</script>", "inline <script>"),
        ('<script type="module">import "./x.js";</script>', "inline <script>"),
        ('<script src="/static/x.js">alert(1)</script>', "with code in it"),
        ('<a href=" JavaScript:alert(1)">x</a>', "javascript:"),
        ('<button onclick="go()">x</button>', "onclick"),
        ('<span style="color:red">x</span>', "style="),
        ("<style>p { color: red }</style>", "<style> element"),
        ('<svg><a xlink:href="javascript:alert(1)"></a></svg>', "javascript:"),
    ],
)
def test_the_page_reader_finds_inline_code(html: str, found: str) -> None:
    (problem,) = inline_code(html)
    assert found.lower() in problem.lower()


def test_the_page_reader_lets_files_and_json_data_pass() -> None:
    html = (
        '<script src="/static/js/map.js" type="module"></script>'
        '<script type="application/json" id="live-labels">{"a": "<b>"}</script>'
        '<svg><rect fill="#c0392b"/></svg><a href="/cases/">cases</a>'
    )
    assert inline_code(html) == []


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


@pytest.fixture
def demo_pages(district: District) -> dict[str, Any]:
    """The demo district with a few cases, incidents, warnings and a situation report; the
    values every route's arguments are filled from."""
    from alerts.demo import load_duty, load_risk_demo
    from alerts.models import EarlyWarning
    from maps.demo import load_map_reference
    from playbooks.services import playbooks_install_defaults

    playbooks_install_defaults(district_id=district.pk)
    load_duty(district, today=timezone.localdate())
    demo.load_cases(district, count=6)
    load_map_reference(district)
    load_risk_demo(district)
    demo.load_province([district])
    demo.load_grave_incident(district, demo.NANXUN)
    now = timezone.now()
    report = SituationReport.objects.create(
        district=district,
        day=timezone.localdate(),
        period="demo",
        figures=situation_figures(district_id=district.pk, day=timezone.localdate(), now=now),
    )
    User.objects.create_superuser(ADMIN, "admin@example.gov.cn", "x")
    case = Case.objects.filter(district=district).order_by("pk").first()
    incident = Incident.objects.filter(district=district).order_by("pk").first()
    warning = EarlyWarning.objects.order_by("pk").first()
    assert case, "the demo data lack a case"
    assert incident, "the demo data lack an incident"
    assert warning, "the demo data lack an early warning"
    closed = Incident.objects.filter(district=district, status="closed").first()
    if closed is None:
        incident_transition(
            actor=actor_for(User.objects.get(username="command")),
            incident_id=incident.pk,
            change=IncidentChange(action="close", reason="dispersed"),
        )
        closed = Incident.objects.get(pk=incident.pk)
    return {
        "case_number": case.number,
        "slip_number": DispatchSlip.objects.filter(case=case).values_list("number", flat=True)[0],
        "incident_id": incident.pk,
        "unit_code": "housing",
        "unit_pk": Unit.objects.get(district=district, code="housing").pk,
        "warning_id": warning.pk,
        "report_id": report.pk,
        "closed_incident_id": closed.pk,
    }


def test_every_page_sends_the_policy_and_holds_no_inline_code(
    demo_pages: dict[str, Any],
) -> None:
    urls: dict[str, str] = {"/admin/": "admin"}
    unvisited = []
    for route, pattern in routes(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/")) or pattern.name in NOT_PAGES:
            continue
        if pattern.name is None:
            unvisited.append(route)
            continue
        renamed = ROUTE_ARGUMENTS.get(pattern.name, {})
        kwargs = {
            key: demo_pages[renamed.get(key, key)] for key in pattern.pattern.regex.groupindex
        }
        urls[reverse(pattern.name, kwargs=kwargs)] = pattern.name
    assert not unvisited, f"routes without a name cannot be checked: {unvisited}"
    for page in ADMIN_PAGES:
        urls[page.format(**demo_pages)] = page
    urls["/api/v1/docs"] = "api-docs"

    clients = {}
    for username in (*PERSONAS, ADMIN):
        client = Client()
        client.force_login(User.objects.get(username=username))
        clients[username] = client
    clients["anonymous"] = Client()

    problems: list[str] = []
    seen_html: set[str] = set()
    for url, name in urls.items():
        for who, client in clients.items():
            response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN")
            if response.status_code >= 500:
                problems.append(f"{url} as {who}: {response.status_code}")
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            header = response.get(csp.ENFORCE_HEADER, "")
            if "script-src 'self';" not in header or "'unsafe-inline'" in header:
                problems.append(f"{url} as {who} ({response.status_code}): policy {header!r}")
            if response.status_code == 200:
                seen_html.add(name)
                problems.extend(f"{url} as {who}: {f}" for f in inline_code(response.text))
    assert not problems, "\n".join(problems)
    # Every page was drawn in full (with 200) for someone, so each of them was checked.
    assert set(urls.values()) - seen_html == set(), set(urls.values()) - seen_html


def test_a_refusal_and_a_missing_page_send_the_policy(
    api_client: Any,
) -> None:
    liaison = api_client("liaison_housing")
    for url, status in (("/maps/no-such-page/", 404), ("/reports/situation/", 403)):
        response = liaison.get(url)
        assert response.status_code == status
        assert "default-src 'self'" in response[csp.ENFORCE_HEADER]


def test_the_policy_names_the_page_host_for_sockets_and_nothing_loose(
    client: Client, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["hub.example.gov.cn", "testserver"]
    response = client.get("/accounts/login/", HTTP_HOST="hub.example.gov.cn", secure=True)
    policy = directives(response[csp.ENFORCE_HEADER])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    # Over HTTPS only wss: to this host; over plain HTTP ws: too.
    assert policy["connect-src"] == ["'self'", "wss://hub.example.gov.cn"]
    plain = directives(client.get("/accounts/login/")[csp.ENFORCE_HEADER])
    assert plain["connect-src"] == ["'self'", "wss://testserver", "ws://testserver"]
    assert plain["report-uri"] == ["/csp-report/"]


def test_debug_pages_of_django_are_left_without_the_policy(client: Client, settings: Any) -> None:
    # Django's own 404 page in DEBUG styles itself inline; the hub's pages keep the policy.
    settings.DEBUG = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert csp.ENFORCE_HEADER not in response
    assert csp.ENFORCE_HEADER in client.get("/accounts/login/")


def test_json_and_scripts_carry_no_policy(client: Client, api_client: Any) -> None:
    assert csp.ENFORCE_HEADER not in client.get("/healthz")
    assert csp.ENFORCE_HEADER not in api_client("command").get("/maps/picker.js")


def test_report_only_mode_and_extra_sources_from_settings(client: Client, settings: Any) -> None:
    settings.CSP_REPORT_ONLY = True
    settings.CSP_EXTRA_IMG_SRC = ["https://img.example.gov.cn"]
    settings.CSP_EXTRA_CONNECT_SRC = ["https://feeds.example.gov.cn"]
    settings.CSP_REPORT_URI = ""
    # The test client builds its middleware (and so the policy) at its first request.
    response = client.get("/accounts/login/")
    assert csp.ENFORCE_HEADER not in response
    policy = directives(response[csp.REPORT_ONLY_HEADER])
    assert "https://img.example.gov.cn" in policy["img-src"]
    assert "https://feeds.example.gov.cn" in policy["connect-src"]
    assert "report-uri" not in policy


@pytest.mark.parametrize(
    "source", ["https://a.example.gov.cn; script-src *", "'unsafe-inline' x", "a,b"]
)
def test_an_extra_source_that_would_add_a_directive_is_refused(source: str) -> None:
    with pytest.raises(Exception, match="CSP_EXTRA_IMG_SRC"):
        csp.build_policy(extra_img=[source])


@pytest.mark.parametrize(
    ("tiles", "subdomains", "expected"),
    [
        ("none", "abc", []),
        ("/tiles/{z}/{x}/{y}.png", "abc", []),
        (
            "https://{s}.tiles.example.gov.cn:8443/{z}/{x}/{y}.png",
            "ab",
            ["https://a.tiles.example.gov.cn:8443", "https://b.tiles.example.gov.cn:8443"],
        ),
        ("http://tiles.example.gov.cn/{z}/{x}/{y}.png", "abc", ["http://tiles.example.gov.cn"]),
    ],
)
def test_the_tile_server_origins_are_allowed_images(
    settings: Any, client: Client, tiles: str, subdomains: str, expected: list[str]
) -> None:
    settings.MAP_TILES = tiles
    settings.MAP_TILES_SUBDOMAINS = subdomains
    assert list(csp.tile_origins()) == expected
    policy = directives(client.get("/accounts/login/")[csp.ENFORCE_HEADER])
    assert policy["img-src"] == ["'self'", "data:", *expected]


def test_tianditu_tiles_allow_its_eight_hosts(settings: Any) -> None:
    settings.MAP_TILES = "tianditu"
    settings.MAP_TIANDITU_KEY = "abc123"
    assert csp.tile_origins() == tuple(f"https://t{n}.tianditu.gov.cn" for n in range(8))


# --- the report endpoint ----------------------------------------------------------------------


def post_report(client: Client, body: Any, content_type: str = "application/csp-report") -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/csp-report/", data=data, content_type=content_type)


def test_a_violation_report_is_logged_and_answered_204(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    report = {
        "csp-report": {
            "document-uri": "https://hub.example.gov.cn/maps/",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline",
            "line-number": 12,
            "original-policy": "x" * 2000,
        }
    }
    client.cookies.clear()  # no session, no CSRF token: browsers send reports like this
    with caplog.at_level(logging.WARNING, logger="command_center.csp"):
        response = post_report(client, report)
    assert response.status_code == 204
    (record,) = [r for r in caplog.records if r.name == "command_center.csp"]
    assert record.csp == {  # type: ignore[attr-defined]
        "document-uri": "https://hub.example.gov.cn/maps/",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "blocked-uri": "inline",
        "line-number": "12",
    }


def test_a_reporting_api_batch_is_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    batch = [
        {"type": "csp-violation", "body": {"documentURL": "/a", "blockedURL": "eval"}},
        {"type": "deprecation", "body": {"id": "x"}},
    ]
    with caplog.at_level(logging.WARNING, logger="command_center.csp"):
        response = post_report(client, batch, "application/reports+json")
    assert response.status_code == 204
    assert [r.csp for r in caplog.records] == [  # type: ignore[attr-defined]
        {"document-uri": "/a", "blocked-uri": "eval"}
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not json", "application/csp-report", 400),
        ({"something": "else"}, "application/csp-report", 400),
        ([{"type": "deprecation", "body": {}}], "application/reports+json", 400),
        ({"csp-report": {"blocked-uri": "x" * 9000}}, "application/csp-report", 413),
        ({"csp-report": {}}, "text/plain", 415),
    ],
)
def test_a_bad_report_is_refused_and_not_logged(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    body: Any,
    content_type: str,
    status: int,
) -> None:
    with caplog.at_level(logging.WARNING, logger="command_center.csp"):
        response = post_report(client, body, content_type)
    assert response.status_code == status
    assert not [r for r in caplog.records if r.name == "command_center.csp"]


def test_the_report_endpoint_takes_only_post(client: Client) -> None:
    assert client.get("/csp-report/").status_code == 405
