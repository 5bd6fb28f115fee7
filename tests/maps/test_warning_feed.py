"""The early-warning layer of the map: GET /api/v1/map/warnings and the map pages that show it.

Each warning is drawn at its subject's position: a project at its site; an enterprise at its
latest case with a position, else at its town's centre; a subject with none of these is left
out. Open warnings only unless `status=all`; `level`, `town` and `bbox` filter; `datum=gcj02`
shifts every position; a liaison gets only their unit's warnings. Bad or unknown parameters
are a 422 naming them.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from alerts.domain.indicators import reading_parse
from alerts.domain.risk import Outcome, WarningAction
from alerts.models import EarlyWarning, RiskSubject
from alerts.services.risk import WarningMove, readings_store, risk_score, warning_transition
from incidents.models import Case, District, Enterprise, Project, Unit
from incidents.policy import actor_for
from incidents.services import Intake, ProjectInput, case_register
from maps.domain import styles
from maps.domain.coords import wgs84_to_gcj02
from tests.alerts.risk_helpers import credit_code, district_id, month_back
from tests.maps.helpers import assert_error, feed, fields_of

ClientFor = Callable[[str], Client]
Ref = dict[str, str]

PROJECT_SITE = (30.8801, 120.4233)  # a real-estate project in Nanxun
OLDER_CASE_SITE = (30.7101, 120.4402)  # the Lianshi enterprise's first case
LATEST_CASE_SITE = (30.7155, 120.4321)  # its latest positioned case

_serial = itertools.count(1)


# --- making warnings ------------------------------------------------------------------------


def credit(n: int) -> str:
    return credit_code(n, base=8_600_000)


month = month_back


def enterprise(n: int, town: str | None, name: str) -> Ref:
    Enterprise.objects.create(
        district_id=district_id(),
        credit_code=credit(n),
        name=name,
        town=Unit.objects.get(code=town) if town else None,
    )
    return {"credit_code": credit(n)}


def project(code: str, town: str, site: tuple[float, float] | None) -> Ref:
    Project.objects.create(
        district_id=district_id(),
        name=f"工程{code}",
        code=code,
        type="real_estate",
        town=Unit.objects.get(code=town),
        lat=site[0] if site else None,
        lng=site[1] if site else None,
    )
    return {"project": code}


def complaint(ref: Ref, n: int, site: tuple[float, float] | None, days_ago: float) -> Case:
    """A complaint against the enterprise, received `days_ago` days ago, on a project of its
    own (so that the complaints do not merge)."""
    return case_register(
        actor=actor_for(User.objects.get(username="command")),
        intake=Intake(
            channel="labour_complaint",
            complainant_name="李海峰",
            complainant_phone="13912345678",
            workers_count=6,
            amount_owed=Decimal("36000.00"),
            employer_name="湖州练市红星建筑劳务有限公司",
            employer_credit_code=ref["credit_code"],
            town="lianshi",
            project=ProjectInput(f"练市厂房{n}期", "other_construction", None),  # type: ignore[arg-type]
            received_at=timezone.now() - timedelta(days=days_ago),
            lat=site[0] if site else None,
            lng=site[1] if site else None,
        ),
    ).case


def store(ref: Ref, rows: list[tuple[str, str, Any]]) -> None:
    parsed = [
        reading_parse(
            source="feed",
            external_id=f"m{next(_serial)}",
            credit_code=ref.get("credit_code"),
            project=ref.get("project"),
            indicator=indicator,
            period=period,
            value=value,
            today=timezone.localdate(),
        )
        for indicator, period, value in rows
    ]
    with transaction.atomic():
        result = readings_store(
            district_id=district_id(), batch=list(enumerate(parsed)), now=timezone.now()
        )
    assert not result.errors, result.errors


def readings_for(ref: Ref, level: str) -> None:
    """Readings that score `ref` at least at `level` (yellow 30, orange 60, red 100)."""
    rows: list[tuple[str, str, Any]] = [("tax_credit_rating", month(1), "D")]
    if level in ("orange", "red"):
        rows += [("electricity_kwh", month(b), 1000) for b in (4, 3, 2)]
        rows.append(("electricity_kwh", month(1), 300))
    if level == "red":
        rows += [
            ("registered_workers", month(1), 40),
            ("wage_account_payroll", month(4), 50000),
            ("wage_account_payroll", month(3), 0),
            ("wage_account_payroll", month(2), 0),
            ("wage_account_payroll", month(1), 0),
        ]
    store(ref, rows)


def warning_of(ref: Ref) -> EarlyWarning:
    if "project" in ref:
        subject = RiskSubject.objects.get(project__code=ref["project"])
    else:
        subject = RiskSubject.objects.get(enterprise__credit_code=ref["credit_code"])
    return EarlyWarning.objects.select_related("unit").get(subject=subject)


@dataclass(frozen=True)
class Warnings:
    site: EarlyWarning  # orange: a project in Nanxun, at its site (the housing bureau's)
    cases: EarlyWarning  # red: a Lianshi enterprise, at its latest positioned case
    town: EarlyWarning  # yellow: a Shuanglin enterprise without cases, at the town's centre
    nowhere: EarlyWarning  # yellow: an enterprise with no town and no case: not on the map
    unsited: EarlyWarning  # yellow: a project without a site: not on the map
    closed: EarlyWarning  # yellow: a Hefu enterprise, closed


@pytest.fixture
def warnings(map_data: District, normal_time: None) -> Warnings:
    site = project("NX-RE-101", "nanxun", PROJECT_SITE)
    cases = enterprise(1, "lianshi", "湖州练市红星建筑劳务有限公司")
    town = enterprise(2, "shuanglin", "双林恒通纺织有限公司")
    nowhere = enterprise(3, None, "无名劳务有限公司")
    unsited = project("NX-RE-102", "hefu", None)
    closed = enterprise(4, "hefu", "和孚顺达物流有限公司")
    complaint(cases, 1, OLDER_CASE_SITE, days_ago=3)
    complaint(cases, 2, LATEST_CASE_SITE, days_ago=1)
    complaint(cases, 3, None, days_ago=0.1)  # the newest has no position of its own
    assert Case.objects.filter(employer__credit_code=cases["credit_code"]).count() == 3
    readings_for(site, "orange")
    readings_for(cases, "red")
    for ref in (town, nowhere, unsited, closed):
        readings_for(ref, "yellow")
    risk_score(district_id=district_id(), now=timezone.now())
    warning_transition(
        actor=actor_for(User.objects.get(username="command")),
        warning_id=warning_of(closed).pk,
        move=WarningMove(WarningAction.CLOSE, note="已核实，无风险", outcome=Outcome.NO_RISK),
    )
    made = Warnings(
        site=warning_of(site),
        cases=warning_of(cases),
        town=warning_of(town),
        nowhere=warning_of(nowhere),
        unsited=warning_of(unsited),
        closed=warning_of(closed),
    )
    assert (made.site.level, made.cases.level, made.town.level) == ("orange", "red", "yellow")
    assert made.closed.state == "closed"
    assert made.cases.unit is not None
    assert made.cases.unit.code == "lianshi"
    assert made.nowhere.unit is None  # no town known: the joint command's
    return made


def by_code(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["properties"]["code"]: f for f in body["features"]}


def lng_lat(lat: float, lng: float) -> list[float]:
    return [round(lng, 6), round(lat, 6)]


def town_centre(code: str) -> tuple[float, float]:
    town = Unit.objects.get(code=code)
    assert town.lat is not None
    assert town.lng is not None
    return town.lat, town.lng


# --- the feed -------------------------------------------------------------------------------


def test_open_warnings_are_points_at_their_subjects_positions(
    api_client: ClientFor, warnings: Warnings
) -> None:
    body = feed(api_client("command"), "warnings")

    assert body["layer"] == "warnings"
    features = by_code(body)
    assert set(features) == {warnings.site.code, warnings.cases.code, warnings.town.code}
    for f in body["features"]:
        assert f["type"] == "Feature"
        assert f["geometry"]["type"] == "Point"
    assert features[warnings.site.code]["geometry"]["coordinates"] == lng_lat(*PROJECT_SITE)
    assert features[warnings.cases.code]["geometry"]["coordinates"] == lng_lat(*LATEST_CASE_SITE)
    assert features[warnings.town.code]["geometry"]["coordinates"] == lng_lat(
        *town_centre("shuanglin")
    )


def test_a_feature_carries_what_the_map_draws(api_client: ClientFor, warnings: Warnings) -> None:
    body = feed(api_client("command"), "warnings")

    red = by_code(body)[warnings.cases.code]["properties"]
    assert red == {
        "id": warnings.cases.pk,
        "code": warnings.cases.code,
        "subject": "湖州练市红星建筑劳务有限公司",
        "level": "red",
        "colour": styles.WARNING_COLOURS["red"],
        "score": warnings.cases.score,
        "state": "open",
        "unit": "lianshi",
    }
    site = by_code(body)[warnings.site.code]["properties"]
    assert (site["subject"], site["level"], site["unit"]) == ("工程NX-RE-101", "orange", "housing")
    assert site["colour"] == styles.WARNING_COLOURS["orange"]


def test_a_warning_being_handled_is_still_on_the_map(
    api_client: ClientFor, warnings: Warnings
) -> None:
    warning_transition(
        actor=actor_for(User.objects.get(username="liaison_lianshi")),
        warning_id=warnings.cases.pk,
        move=WarningMove(WarningAction.ACCEPT),
    )

    features = by_code(feed(api_client("command"), "warnings"))

    assert features[warnings.cases.code]["properties"]["state"] == "handling"


def test_a_subject_without_a_position_is_left_out(
    api_client: ClientFor, warnings: Warnings
) -> None:
    codes = set(by_code(feed(api_client("command"), "warnings", status="all")))

    assert warnings.nowhere.code not in codes
    assert warnings.unsited.code not in codes
    # Both are there to be seen on the list, just not on the map.
    listed = api_client("command").get("/alerts/warnings/").content.decode()
    assert warnings.nowhere.code in listed
    assert warnings.unsited.code in listed


def test_closed_warnings_only_with_status_all(api_client: ClientFor, warnings: Warnings) -> None:
    client = api_client("command")

    assert warnings.closed.code not in by_code(feed(client, "warnings"))
    assert warnings.closed.code not in by_code(feed(client, "warnings", status="open"))
    everything = by_code(feed(client, "warnings", status="all"))
    assert set(everything) == {
        warnings.site.code,
        warnings.cases.code,
        warnings.town.code,
        warnings.closed.code,
    }
    closed = everything[warnings.closed.code]
    assert closed["properties"]["state"] == "closed"
    assert closed["geometry"]["coordinates"] == lng_lat(*town_centre("hefu"))


@pytest.mark.parametrize(
    ("level", "which"),
    [("red", {"cases"}), ("orange", {"site"}), ("yellow", {"town"})],
)
def test_the_level_filter(
    api_client: ClientFor, warnings: Warnings, level: str, which: set[str]
) -> None:
    body = feed(api_client("command"), "warnings", level=level)

    assert set(by_code(body)) == {getattr(warnings, name).code for name in which}
    assert {f["properties"]["level"] for f in body["features"]} == {level}


def test_the_level_filter_with_closed_ones(api_client: ClientFor, warnings: Warnings) -> None:
    body = feed(api_client("command"), "warnings", level="yellow", status="all")

    assert set(by_code(body)) == {warnings.town.code, warnings.closed.code}


@pytest.mark.parametrize(
    ("town", "which"),
    [
        ("lianshi", {"cases"}),
        ("nanxun", {"site"}),
        ("shuanglin", {"town"}),
        ("hefu", set()),  # the closed one and the unsited project: neither is drawn
        ("linghu", set()),
    ],
)
def test_the_town_filter(
    api_client: ClientFor, warnings: Warnings, town: str, which: set[str]
) -> None:
    body = feed(api_client("command"), "warnings", town=town)

    assert set(by_code(body)) == {getattr(warnings, name).code for name in which}


def test_the_town_filter_with_closed_ones(api_client: ClientFor, warnings: Warnings) -> None:
    body = feed(api_client("command"), "warnings", town="hefu", status="all")

    assert set(by_code(body)) == {warnings.closed.code}


def box_around(lat: float, lng: float, d: float = 0.01) -> str:
    return f"{lng - d},{lat - d},{lng + d},{lat + d}"


def test_the_box_filter(api_client: ClientFor, warnings: Warnings) -> None:
    client = api_client("command")

    assert set(by_code(feed(client, "warnings", bbox=box_around(*PROJECT_SITE)))) == {
        warnings.site.code
    }
    # The enterprise is drawn at its latest positioned case, not its first.
    assert set(by_code(feed(client, "warnings", bbox=box_around(*LATEST_CASE_SITE, 0.002)))) == {
        warnings.cases.code
    }
    assert by_code(feed(client, "warnings", bbox=box_around(*OLDER_CASE_SITE, 0.002))) == {}
    assert by_code(feed(client, "warnings", bbox="100,20,101,21")) == {}
    assert len(by_code(feed(client, "warnings", bbox="-180,-90,180,90"))) == 3


def test_gcj02_shifts_every_position(api_client: ClientFor, warnings: Warnings) -> None:
    client = api_client("command")

    plain = by_code(feed(client, "warnings", status="all"))
    shifted = by_code(feed(client, "warnings", status="all", datum="gcj02"))

    assert set(plain) == set(shifted)
    for code, f in plain.items():
        lng, lat = f["geometry"]["coordinates"]
        want_lat, want_lng = wgs84_to_gcj02(lat, lng)
        got_lng, got_lat = shifted[code]["geometry"]["coordinates"]
        assert got_lat == pytest.approx(want_lat, abs=2e-6), code
        assert got_lng == pytest.approx(want_lng, abs=2e-6), code
        assert (got_lat, got_lng) != (lat, lng), code  # it moved
        assert shifted[code]["properties"] == f["properties"]
    site_lat, site_lng = wgs84_to_gcj02(*PROJECT_SITE)
    assert shifted[warnings.site.code]["geometry"]["coordinates"] == [
        round(site_lng, 6),
        round(site_lat, 6),
    ]


def test_the_box_is_in_wgs84_whatever_the_datum(api_client: ClientFor, warnings: Warnings) -> None:
    body = feed(
        api_client("command"), "warnings", bbox=box_around(*PROJECT_SITE, 0.001), datum="gcj02"
    )

    assert set(by_code(body)) == {warnings.site.code}


@pytest.mark.parametrize(
    ("username", "which"),
    [
        ("liaison_lianshi", {"cases"}),
        ("liaison_housing", {"site"}),
        ("liaison_police", set()),
        ("clerk_lianshi", set()),
        ("reviewer", {"cases", "site", "town"}),
        ("inspector", {"cases", "site", "town"}),
    ],
)
def test_each_person_gets_the_warnings_they_may_see(
    api_client: ClientFor, warnings: Warnings, username: str, which: set[str]
) -> None:
    body = feed(api_client(username), "warnings", status="all")

    expected = {getattr(warnings, name).code for name in which}
    if username in ("reviewer", "inspector"):
        expected.add(warnings.closed.code)
    assert set(by_code(body)) == expected


def test_a_liaison_cannot_reach_another_units_warning_by_filter(
    api_client: ClientFor, warnings: Warnings
) -> None:
    client = api_client("liaison_lianshi")

    assert by_code(feed(client, "warnings", town="nanxun")) == {}
    assert by_code(feed(client, "warnings", bbox=box_around(*PROJECT_SITE))) == {}


def test_the_feed_needs_a_login(warnings: Warnings) -> None:
    assert_error(Client().get("/api/v1/map/warnings"), 401)


def test_the_feed_is_private_geojson(api_client: ClientFor, warnings: Warnings) -> None:
    response = api_client("command").get("/api/v1/map/warnings")

    assert response["Content-Type"].startswith("application/geo+json")
    assert response["Cache-Control"] == "private, no-store"


def test_the_feed_is_gzipped_when_asked(api_client: ClientFor, warnings: Warnings) -> None:
    client = api_client("command")

    response = client.get("/api/v1/map/warnings", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(response.content)) == feed(client, "warnings")


BAD = [
    ({"state": "open"}, "state"),
    ({"unit": "lianshi"}, "unit"),
    ({"near": "30.7,120.4"}, "near"),
    ({"within": "1000"}, "within"),
    ({"id": "1"}, "id"),
    ({"Level": "red"}, "Level"),
    ({"status": "closed"}, "status"),
    ({"status": "Open"}, "status"),
    ({"status": ""}, "status"),
    ({"level": "purple"}, "level"),
    ({"level": "RED"}, "level"),
    ({"level": ""}, "level"),
    ({"town": "atlantis"}, "town"),
    ({"town": "housing"}, "town"),  # a bureau is no town
    ({"town": "Lianshi"}, "town"),
    ({"bbox": "120,30,121"}, "bbox"),
    ({"bbox": "121,30,120,31"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"datum": "bd09"}, "datum"),
    ({"datum": "GCJ02"}, "datum"),
]


@pytest.mark.parametrize(("params", "field"), BAD, ids=lambda v: str(v))
def test_a_bad_parameter_is_a_422_naming_it(
    api_client: ClientFor, warnings: Warnings, params: dict[str, str], field: str
) -> None:
    before = list(EarlyWarning.objects.order_by("pk").values_list("pk", "state", "revision"))

    body = assert_error(api_client("command").get("/api/v1/map/warnings", params), 422)

    assert fields_of(body) == {field}
    assert all(e["message"] for e in body["errors"])
    assert list(EarlyWarning.objects.order_by("pk").values_list("pk", "state", "revision")) == (
        before
    )


def test_every_unknown_parameter_is_named(api_client: ClientFor, warnings: Warnings) -> None:
    response = api_client("command").get(
        "/api/v1/map/warnings", {"zoom": "12", "colour": "red", "level": "red"}
    )

    body = assert_error(response, 422)
    assert body["errors"] == [
        {"field": "colour", "message": "unknown parameter"},
        {"field": "zoom", "message": "unknown parameter"},
    ]


def test_a_repeated_parameter_is_refused(api_client: ClientFor, warnings: Warnings) -> None:
    response = api_client("command").get("/api/v1/map/warnings", {"level": ["red", "orange"]})

    body = assert_error(response, 422)
    assert body["errors"] == [{"field": "level", "message": "give this parameter once"}]


# --- the map pages --------------------------------------------------------------------------


def map_config(html: str) -> list[dict[str, Any]]:
    """The configuration each folium map hands to static/js/map.js (as in test_pages)."""
    return [json.loads(m) for m in re.findall(r"config: (\{.*?\})\s*\}\);", html, re.S)]


def page_with_scripts(client: Client, path: str, status: int = 200) -> str:
    """The page, followed by the map scripts it loads (no script runs inline)."""
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    html = response.content.decode()
    scripts = []
    for url in re.findall(r'<script src="(/maps/[^"]+)"', html):
        script = client.get(url.replace("&amp;", "&"))
        assert script.status_code == 200, url
        scripts.append(script.content.decode())
    return "\n".join([html, *scripts])


def test_the_command_map_has_a_warnings_feed(api_client: ClientFor, warnings: Warnings) -> None:
    html = page_with_scripts(api_client("command"), "/maps/")

    (config,) = map_config(html)
    assert config["purpose"] == "command"
    assert urlsplit(config["feeds"]["warnings"]).path == "/api/v1/map/warnings"
    assert parse_qs(urlsplit(config["feeds"]["warnings"]).query) == {}
    assert config["labels"]["warning_levels"] == {"yellow": "黄色", "orange": "橙色", "red": "红色"}
    # The layer control names the layer in the reader's language (JSON-escaped in the script).
    assert json.dumps("欠薪预警")[1:-1] in html


def test_the_command_maps_town_filter_reaches_the_warnings_feed(
    api_client: ClientFor, warnings: Warnings
) -> None:
    html = page_with_scripts(
        api_client("command"),
        "/maps/?town=lianshi&unit=housing&date_from=2026-01-01&date_to=2026-06-30",
    )

    (config,) = map_config(html)
    assert parse_qs(urlsplit(config["feeds"]["warnings"]).query) == {"town": ["lianshi"]}
    # What the feed answers there is the Lianshi warning.
    body = api_client("command").get(config["feeds"]["warnings"])
    assert set(by_code(json.loads(body.content))) == {warnings.cases.code}


def test_the_dashboards_map_has_a_warnings_feed(api_client: ClientFor, warnings: Warnings) -> None:
    html = page_with_scripts(api_client("command"), "/")

    (config,) = map_config(html)
    assert config["purpose"] == "dashboard"
    assert set(config["feeds"]) == {"cases", "incidents", "windows", "warnings"}
    assert urlsplit(config["feeds"]["warnings"]).path == "/api/v1/map/warnings"
    assert config["live"] == "page"


def test_the_feed_url_of_the_map_answers_what_the_feed_gives(
    api_client: ClientFor, warnings: Warnings
) -> None:
    client = api_client("command")
    (config,) = map_config(page_with_scripts(client, "/maps/"))

    response = client.get(config["feeds"]["warnings"])

    assert response.status_code == 200
    assert json.loads(response.content) == feed(client, "warnings")
