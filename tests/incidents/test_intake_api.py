"""POST /api/v1/cases (intake, routing, merge, idempotency, validation) and the case reads.

Every refused request must answer JSON `{"detail", "errors"}` with a 4xx status and store
nothing: the counts of cases, reports and events are compared before and after.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Case, Clock, DispatchSlip, Enterprise, Event, IdempotencyRecord, Report
from incidents.services import token_issue
from tests.asgi import asgi_post
from tests.factories import credit_code, id_number, intake_payload

URL = "/api/v1/cases"
CASE_NUMBER = re.compile(r"^NX-\d{4}-\d{6}$")
OFFSET = "+08:00"

ClientFor = Callable[[str], Client]


def post(client: Client, body: Any, url: str = URL, **extra: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def stored() -> dict[str, int]:
    return {
        "cases": Case.objects.count(),
        "reports": Report.objects.count(),
        "events": Event.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "slips": DispatchSlip.objects.count(),
    }


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list)
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def ago(**delta: float) -> datetime:
    return timezone.localtime() - timedelta(**delta)


# --- a new case ---------------------------------------------------------------------------


def test_new_complaint_answers_201_with_number_unit_slip_and_deadlines(
    api_client: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    client = api_client("clerk_lianshi")
    payload = intake_payload()

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, payload)

    assert response.status_code == 201, response.content
    body = response.json()
    assert CASE_NUMBER.match(body["case_number"])
    assert body["case_number"] == f"NX-{timezone.localtime().year}-000001"
    assert body["merged"] is False
    assert body["state"] == "dispatched"
    assert body["responsible_unit"] == "housing"
    assert body["assisting_units"] == ["lianshi"]
    assert body["dispatch_slip"] == f"ZB-{body['case_number']}-1"
    assert body["amount_owed"] == "86000.00"
    assert body["amount_paid"] == "0.00"
    assert body["workers_count"] == 12
    assert body["received_at"].endswith(OFFSET)
    dispatch = body["deadlines"]["dispatch"]
    assert dispatch["due_at"].endswith(OFFSET)
    assert datetime.fromisoformat(dispatch["due_at"]).time().isoformat() == "23:59:59"
    assert dispatch["status"] == "met"
    assert body["employer"]["blacklisted"] is False
    assert body["employer"]["open_cases"] == []

    case = Case.objects.get(number=body["case_number"])
    assert case.state == "dispatched"
    assert case.responsible_unit.code == "housing"
    assert case.reports.count() == 1
    report = case.reports.get()
    assert (report.channel, report.window.code) == ("window", "lianshi")
    assert report.complainant_phone == "13812345678"
    assert DispatchSlip.objects.filter(case=case).count() == 1
    kinds = list(Event.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == ["case.registered", "case.dispatched"]
    # Each event is published only after commit: one callback per event.
    assert len(callbacks) == 2


def test_received_at_is_kept_and_shown_in_shanghai_time(api_client: ClientFor) -> None:
    received = "2026-01-05T01:30:00+00:00"  # 09:30 in Shanghai
    response = post(api_client("clerk_lianshi"), intake_payload(received_at=received))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["received_at"] == "2026-01-05T09:30:00+08:00"
    assert body["case_number"].startswith("NX-2026-")


def test_naive_received_at_is_read_as_shanghai_time(api_client: ClientFor) -> None:
    response = post(api_client("clerk_lianshi"), intake_payload(received_at="2026-01-05T09:30:00"))
    assert response.status_code == 201, response.content
    assert response.json()["received_at"] == "2026-01-05T09:30:00+08:00"


ROUTES = [
    # project, town, responsible unit, assisting units, state
    ({"name": "P-real", "type": "real_estate"}, "lianshi", "housing", ["lianshi"], "dispatched"),
    (
        {"name": "P-mall", "type": "commercial_complex"},
        "shuanglin",
        "housing",
        ["shuanglin"],
        "dispatched",
    ),
    ({"name": "P-road", "type": "transport"}, "lianshi", "transport", [], "dispatched"),
    ({"name": "P-dyke", "type": "water"}, "lianshi", "water", [], "dispatched"),
    (
        {"name": "P-resettle", "type": "government_investment", "builder": "nx_invest"},
        "lianshi",
        "nx_invest",
        [],
        "dispatched",
    ),
    (
        {"name": "P-plant", "type": "government_investment"},
        "lianshi",
        None,
        [],
        "registered",
    ),
    ({"name": "P-shed", "type": "other_construction"}, "shuanglin", "shuanglin", [], "dispatched"),
    (None, "lianshi", "lianshi", [], "dispatched"),
]


@pytest.mark.parametrize(
    ("project", "town", "unit", "assisting", "state"),
    ROUTES,
    ids=[
        "real_estate",
        "commercial_complex",
        "transport",
        "water",
        "government_investment_nx_invest",
        "government_investment_no_builder",
        "other_construction",
        "no_project",
    ],
)
def test_routing_for_every_project_type(
    api_client: ClientFor,
    project: dict[str, str] | None,
    town: str,
    unit: str | None,
    assisting: list[str],
    state: str,
) -> None:
    response = post(api_client("command"), intake_payload(project=project, town=town))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["responsible_unit"] == unit
    assert body["assisting_units"] == assisting
    assert body["state"] == state
    case = Case.objects.get(number=body["case_number"])
    assert case.state == state
    if unit is None:
        assert body["dispatch_slip"] is None
        assert not case.slips.exists()
        assert case.responsible_unit is None
        # A person must route it: the dispatch clock still runs.
        assert case.clocks.get(kind="dispatch").status == "running"
        assert body["deadlines"]["dispatch"]["status"] in {"running", "overdue"}
    else:
        slip = case.slips.get()
        assert body["dispatch_slip"] == slip.number
        assert slip.unit.code == unit
        assert case.responsible_unit.code == unit
        assert sorted(u.code for u in case.assisting_units.all()) == assisting


# --- one complaint, one case ---------------------------------------------------------------


def test_reports_from_three_channels_merge_into_one_case(
    api_client: ClientFor, district: Any
) -> None:
    employer = {"name": "湖州宏达建筑劳务有限公司", "credit_code": credit_code()}
    project = {"name": "练市新城一期", "type": "real_estate"}
    at_window = ago(hours=5).isoformat()
    at_110 = ago(hours=3).isoformat()
    at_hotline = ago(hours=1).isoformat()

    first = post(
        api_client("clerk_lianshi"),
        intake_payload(employer=employer, project=project, received_at=at_window),
    )
    assert first.status_code == 201, first.content
    number = first.json()["case_number"]

    # 110 dispatch pushes through its bearer token, without the project's name.
    token = token_issue(user_id=_user_id("gateway_110"))
    gateway = Client()
    police = post(
        gateway,
        intake_payload(
            channel="police_110",
            window=None,
            employer=employer,
            project=None,
            received_at=at_110,
            complainant={"name": "李海峰", "phone": "13900001111"},
        ),
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert police.status_code == 200, police.content
    assert police.json()["merged"] is True
    assert police.json()["case_number"] == number

    hotline = post(
        api_client("command"),
        intake_payload(
            channel="hotline_12345",
            window=None,
            employer=employer,
            project=project,
            received_at=at_hotline,
            workers_count=20,
            complainant={"name": "张秀英", "phone": "0572-3012345"},
        ),
    )
    assert hotline.status_code == 200, hotline.content
    body = hotline.json()
    assert body["merged"] is True
    assert body["case_number"] == number
    assert body["reports_count"] == 3
    assert body["workers_count"] == 20  # the larger count reported is kept

    assert Case.objects.filter(employer__credit_code=employer["credit_code"]).count() == 1
    case = Case.objects.get(number=number)
    reports = list(case.reports.order_by("received_at"))
    assert [r.channel for r in reports] == ["window", "police_110", "hotline_12345"]
    assert [r.complainant_name for r in reports] == ["王建国", "李海峰", "张秀英"]
    assert [r.received_at for r in reports] == [
        datetime.fromisoformat(t) for t in (at_window, at_110, at_hotline)
    ]
    assert reports[1].created_by.username == "gateway_110"
    merged_events = Event.objects.filter(case=case, kind="case.report_merged")
    assert [e.data["channel"] for e in merged_events] == ["police_110", "hotline_12345"]

    detail = api_client("command").get(f"{URL}/{number}").json()
    assert [r["channel"] for r in detail["reports"]] == ["window", "police_110", "hotline_12345"]
    assert [r["complainant"]["name"] for r in detail["reports"]] == ["王建国", "李海峰", "张秀英"]
    assert all(r["received_at"].endswith(OFFSET) for r in detail["reports"])


def test_report_on_another_project_of_the_same_employer_opens_a_new_case(
    api_client: ClientFor,
) -> None:
    client = api_client("clerk_lianshi")
    employer = {"name": "湖州恒丰建设有限公司", "credit_code": credit_code()}
    first = post(
        client, intake_payload(employer=employer, project={"name": "A区", "type": "real_estate"})
    )
    second = post(
        client, intake_payload(employer=employer, project={"name": "B区", "type": "transport"})
    )

    assert first.status_code == 201
    assert second.status_code == 201, second.content
    body = second.json()
    assert body["merged"] is False
    assert body["case_number"] != first.json()["case_number"]
    assert body["responsible_unit"] == "transport"
    # The employer's standing: not blacklisted, and its other open case.
    assert body["employer"]["blacklisted"] is False
    assert body["employer"]["open_cases"] == [first.json()["case_number"]]
    assert Case.objects.filter(employer__credit_code=employer["credit_code"]).count() == 2


def test_report_after_the_case_is_closed_opens_a_new_case(api_client: ClientFor) -> None:
    clerk = api_client("clerk_lianshi")
    payload = intake_payload(project=None)
    first = post(clerk, payload).json()["case_number"]
    rejected = clerk.post(
        f"{URL}/{first}/transitions",
        json.dumps({"action": "reject", "reason": "不属于欠薪"}),
        content_type="application/json",
    )
    assert rejected.status_code == 200, rejected.content

    again = post(clerk, payload)

    assert again.status_code == 201, again.content
    assert again.json()["case_number"] != first
    assert again.json()["employer"]["open_cases"] == []


# --- idempotency ----------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_the_first_answer(api_client: ClientFor) -> None:
    client = api_client("clerk_lianshi")
    payload = intake_payload()
    first = post(client, payload, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == 201
    before = stored()

    again = post(client, payload, HTTP_IDEMPOTENCY_KEY="retry-1")

    assert again.status_code == 201
    assert again.json() == first.json()
    assert stored() == before
    assert IdempotencyRecord.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_refused(api_client: ClientFor) -> None:
    client = api_client("clerk_lianshi")
    payload = intake_payload()
    assert post(client, payload, HTTP_IDEMPOTENCY_KEY="retry-2").status_code == 201
    before = stored()

    other = dict(payload, workers_count=13)
    response = post(client, other, HTTP_IDEMPOTENCY_KEY="retry-2")

    assert_error(response, 422)
    assert stored() == before


def test_without_idempotency_key_a_repeat_merges(api_client: ClientFor) -> None:
    client = api_client("clerk_lianshi")
    payload = intake_payload()
    assert post(client, payload).status_code == 201
    again = post(client, payload)
    assert again.status_code == 200
    assert again.json()["merged"] is True


# --- validation: 4xx JSON, nothing stored ------------------------------------------------------


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for p in parents:
            node = node[p]
        del node[last]

    return change


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for p in parents:
            node = node[p]
        node[last] = value

    return change


def _bad_credit_code() -> str:
    good = credit_code()
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def _bad_id_number() -> str:
    good = id_number()
    return good[:-1] + ("0" if good[-1] != "0" else "1")


INVALID = [
    # id, change to a valid body, status, the field named in errors (None: any)
    ("workers_count_string", _set("workers_count", "5"), 422, "workers_count"),
    ("workers_count_float", _set("workers_count", 5.5), 422, "workers_count"),
    ("workers_count_zero", _set("workers_count", 0), 422, "workers_count"),
    ("amount_bool", _set("amount_owed", True), 422, "amount_owed"),
    ("amount_zero", _set("amount_owed", "0"), 422, "amount_owed"),
    ("amount_negative", _set("amount_owed", "-100.00"), 422, "amount_owed"),
    ("amount_three_decimals", _set("amount_owed", "100.123"), 422, "amount_owed"),
    ("amount_not_a_number", _set("amount_owed", "lots"), 422, "amount_owed"),
    ("complainant_string", _set("complainant", "王建国"), 422, "complainant"),
    ("unknown_channel", _set("channel", "fax"), 422, "channel"),
    ("unknown_project_type", _set("project.type", "bridge"), 422, "project.type"),
    ("unknown_field", _set("colour", "red"), 422, "colour"),
    ("unknown_nested_field", _set("employer.boss", "x"), 422, "employer.boss"),
    ("missing_employer", _without("employer"), 422, "employer"),
    ("missing_complainant", _without("complainant"), 422, "complainant"),
    ("missing_phone", _without("complainant.phone"), 422, "complainant.phone"),
    ("missing_town", _without("town"), 422, "town"),
    ("missing_amount", _without("amount_owed"), 422, "amount_owed"),
    ("missing_workers", _without("workers_count"), 422, "workers_count"),
    ("missing_channel", _without("channel"), 422, "channel"),
    ("empty_employer_name", _set("employer.name", ""), 422, "employer.name"),
    ("bad_credit_code", _set("employer.credit_code", "BAD"), 422, "employer.credit_code"),
    ("bad_phone", _set("complainant.phone", "12345678901"), 422, "complainant.phone"),
    ("phone_letters", _set("complainant.phone", "1381234abcd"), 422, "complainant.phone"),
    ("lat_out_of_range", _set("location.lat", 91), 422, "location.lat"),
    ("lng_out_of_range", _set("location.lng", -181), 422, "location.lng"),
    ("received_in_future", _set("received_at", "2999-01-01T00:00:00+08:00"), 422, "received_at"),
    ("received_not_a_time", _set("received_at", "yesterday"), 422, "received_at"),
    ("description_too_long", _set("description", "x" * 5001), 422, "description"),
    ("town_not_a_code", _set("town", "Lianshi Town"), 422, "town"),
    ("window_missing_for_window", _set("window", None), 422, None),
    ("unknown_window", _set("window", "nowhere"), 422, "window"),
    ("unknown_town", _set("town", "atlantis"), 422, "town"),
    ("bureau_is_not_a_town", _set("town", "housing"), 422, "town"),
    (
        "unknown_builder",
        _set("project", {"name": "P", "type": "government_investment", "builder": "acme"}),
        422,
        "project.builder",
    ),
]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [pytest.param(c, s, f, id=i) for i, c, s, f in INVALID],
)
def test_invalid_intake_is_refused_with_json_and_stores_nothing(
    api_client: ClientFor,
    change: Callable[[dict[str, Any]], None],
    status: int,
    field: str | None,
) -> None:
    client = api_client("clerk_lianshi")
    payload = copy.deepcopy(intake_payload())
    change(payload)
    before = stored()

    body = assert_error(post(client, payload), status)

    assert body["errors"], "a validation error names its fields"
    if field is not None:
        assert field in fields(body), body
    assert stored() == before


def test_credit_code_with_a_wrong_check_character_is_refused(api_client: ClientFor) -> None:
    payload = intake_payload()
    payload["employer"]["credit_code"] = _bad_credit_code()
    before = stored()

    body = assert_error(post(api_client("clerk_lianshi"), payload, HTTP_ACCEPT_LANGUAGE="en"), 422)

    assert fields(body) == {"employer.credit_code"}
    assert "checksum" in body["errors"][0]["message"]
    assert stored() == before


def test_id_number_with_a_wrong_check_digit_is_refused(api_client: ClientFor) -> None:
    payload = intake_payload()
    payload["complainant"]["id_number"] = _bad_id_number()
    before = stored()

    body = assert_error(post(api_client("clerk_lianshi"), payload), 422)

    assert fields(body) == {"complainant.id_number"}
    assert stored() == before


def test_unknown_codes_are_all_named_at_once(api_client: ClientFor) -> None:
    payload = intake_payload(
        window="nowhere",
        town="atlantis",
        project={"name": "P", "type": "government_investment", "builder": "acme"},
    )
    before = stored()

    body = assert_error(post(api_client("clerk_lianshi"), payload), 422)

    assert fields(body) == {"window", "town", "project.builder"}
    assert stored() == before


def test_missing_window_for_window_channel_names_the_window_field(api_client: ClientFor) -> None:
    body = assert_error(post(api_client("clerk_lianshi"), intake_payload(window=None)), 422)
    assert fields(body) == {"window"}


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param("{not json", "application/json", id="malformed_json"),
        pytest.param('{"channel": "window",', "application/json", id="truncated_json"),
        pytest.param(b"\xff\xfe\x00garbage", "application/json", id="not_utf8"),
    ],
)
def test_malformed_body_is_400_json_and_stores_nothing(
    api_client: ClientFor, raw: str | bytes, content_type: str
) -> None:
    before = stored()
    response = api_client("clerk_lianshi").post(URL, raw, content_type=content_type)
    assert_error(response, 400)
    assert stored() == before


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[1, 2]", id="list"),
        pytest.param('"text"', id="string"),
        pytest.param("", id="empty"),
    ],
)
def test_body_that_is_not_an_object_is_refused(api_client: ClientFor, raw: str) -> None:
    before = stored()
    response = api_client("clerk_lianshi").post(URL, raw, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert stored() == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_body_that_is_not_declared_json_is_415(api_client: ClientFor, content_type: str) -> None:
    before = stored()
    raw = json.dumps(intake_payload())  # valid JSON, but not declared as such
    response = api_client("clerk_lianshi").post(URL, raw, content_type=content_type)
    assert_error(response, 415)
    assert stored() == before


def test_multipart_form_body_is_refused(api_client: ClientFor) -> None:
    before = stored()
    response = api_client("clerk_lianshi").post(URL, {"channel": "window", "town": "lianshi"})
    body = assert_error(response, response.status_code)
    assert 400 <= response.status_code < 500, body
    assert stored() == before


def test_body_over_256_kb_is_413(api_client: ClientFor) -> None:
    payload = intake_payload(description="欠" * 100_000)  # about 300 KB of UTF-8
    raw = json.dumps(payload, ensure_ascii=False).encode()
    assert len(raw) > 256 * 1024
    before = stored()

    response = api_client("clerk_lianshi").post(URL, raw, content_type="application/json")

    assert_error(response, 413)
    assert stored() == before


def test_declared_content_length_over_256_kb_is_413_before_reading(api_client: ClientFor) -> None:
    before = stored()
    response = api_client("clerk_lianshi").generic(
        "POST",
        URL,
        json.dumps(intake_payload()),
        content_type="application/json",
        CONTENT_LENGTH=str(256 * 1024 + 1),
    )
    assert_error(response, 413)
    assert stored() == before


def test_body_of_exactly_256_kb_is_not_refused_for_size(api_client: ClientFor) -> None:
    payload = intake_payload(description="")
    raw = json.dumps(payload)
    # Pad with whitespace (valid JSON) to exactly the limit.
    raw = raw[:-1] + " " * (256 * 1024 - len(raw.encode())) + "}"
    assert len(raw.encode()) == 256 * 1024
    response = api_client("clerk_lianshi").post(URL, raw, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db(transaction=True)
def test_chunked_body_over_256_kb_without_content_length_is_413(district: Any) -> None:
    """Over ASGI a body may come in chunks with no Content-Length: its real size counts.

    A real ASGI handler (not the test client) closes connections between requests, so this
    test commits its data instead of running in a rolled-back transaction."""
    token = token_issue(user_id=_user_id("gateway_110"))
    raw = json.dumps(
        intake_payload(channel="police_110", window=None, description="x" * 300_000)
    ).encode()
    chunks = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    before = stored()

    status, headers, body = asgi_post(
        URL,
        chunks,
        [(b"content-type", b"application/json"), (b"authorization", f"Bearer {token}".encode())],
    )

    assert status == 413, body
    assert headers.get(b"content-type", b"").startswith(b"application/json")
    assert set(json.loads(body)) == {"detail", "errors"}
    assert stored() == before


def _user_id(username: str) -> int:
    from django.contrib.auth.models import User

    return User.objects.get(username=username).pk


# --- GET /api/v1/cases -----------------------------------------------------------------------


@pytest.fixture
def three_cases(api_client: ClientFor) -> dict[str, dict[str, Any]]:
    """A: housing, window, 40 days ago; B: transport, hotline, 20 days ago;
    C: registered (no builder), 110 in hefu, 10 days ago, dispatch clock passed."""
    client = api_client("command")
    made = {}
    specs = {
        "A": intake_payload(received_at=ago(days=40).isoformat()),
        "B": intake_payload(
            channel="hotline_12345",
            window=None,
            town="shuanglin",
            project={"name": "双林大道", "type": "transport"},
            received_at=ago(days=20).isoformat(),
        ),
        "C": intake_payload(
            channel="police_110",
            window=None,
            town="hefu",
            project={"name": "和孚厂房", "type": "government_investment"},
            received_at=ago(days=10).isoformat(),
        ),
    }
    for key, payload in specs.items():
        response = post(client, payload)
        assert response.status_code == 201, response.content
        made[key] = response.json()
    return made


def _numbers(client: Client, query: str = "") -> list[str]:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.content
    return [c["case_number"] for c in response.json()["results"]]


def test_list_is_newest_first_with_total_count(
    api_client: ClientFor, three_cases: dict[str, Any]
) -> None:
    body = api_client("command").get(URL).json()
    assert body["count"] == 3
    assert [c["case_number"] for c in body["results"]] == [
        three_cases[k]["case_number"] for k in "CBA"
    ]


def test_list_filters_by_state_unit_town_and_channel(
    api_client: ClientFor, three_cases: dict[str, Any]
) -> None:
    client = api_client("command")
    n = {k: v["case_number"] for k, v in three_cases.items()}
    assert _numbers(client, "state=registered") == [n["C"]]
    assert _numbers(client, "state=dispatched") == [n["B"], n["A"]]
    assert _numbers(client, "state=closed") == []
    assert _numbers(client, "unit=housing") == [n["A"]]
    assert _numbers(client, "unit=transport") == [n["B"]]
    assert _numbers(client, "town=hefu") == [n["C"]]
    assert _numbers(client, "town=lianshi") == [n["A"]]
    assert _numbers(client, "channel=hotline_12345") == [n["B"]]
    assert _numbers(client, "channel=window&unit=housing") == [n["A"]]
    assert _numbers(client, "channel=window&unit=transport") == []


def test_list_filters_overdue_by_clocks_past_due(
    api_client: ClientFor, three_cases: dict[str, Any]
) -> None:
    client = api_client("command")
    n = {k: v["case_number"] for k, v in three_cases.items()}
    # C's dispatch clock ended 10 days ago and nobody routed it.
    assert _numbers(client, "overdue=true") == [n["C"]]
    assert _numbers(client, "overdue=false") == [n["B"], n["A"]]
    listed = {c["case_number"]: c for c in client.get(URL).json()["results"]}
    assert listed[n["C"]]["overdue"] is True
    assert listed[n["C"]]["deadlines"]["dispatch"]["status"] == "overdue"

    Clock.objects.filter(case__number=n["C"]).update(due_at=timezone.now() + timedelta(hours=2))
    assert _numbers(client, "overdue=true") == []

    # A clock the sweep already marked overdue counts as overdue too.
    Clock.objects.filter(case__number=n["A"]).update(status="overdue")
    assert _numbers(client, "overdue=true") == [n["A"]]


def test_list_filters_received_dates_inclusively(
    api_client: ClientFor, three_cases: dict[str, Any]
) -> None:
    client = api_client("command")
    n = {k: v["case_number"] for k, v in three_cases.items()}
    day = {k: v["received_at"][:10] for k, v in three_cases.items()}
    assert _numbers(client, f"received_from={day['A']}&received_to={day['B']}") == [
        n["B"],
        n["A"],
    ]
    assert _numbers(client, f"received_from={day['B']}&received_to={day['B']}") == [n["B"]]
    assert _numbers(client, f"received_from={day['B']}") == [n["C"], n["B"]]
    assert _numbers(client, f"received_to={day['A']}") == [n["A"]]


def test_list_paginates_with_total_count(
    api_client: ClientFor, three_cases: dict[str, Any]
) -> None:
    client = api_client("command")
    first = client.get(f"{URL}?page_size=2&page=1").json()
    second = client.get(f"{URL}?page_size=2&page=2").json()
    beyond = client.get(f"{URL}?page_size=2&page=3").json()
    assert (first["count"], second["count"], beyond["count"]) == (3, 3, 3)
    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    assert beyond["results"] == []
    listed = [c["case_number"] for c in first["results"] + second["results"]]
    assert sorted(listed) == sorted(v["case_number"] for v in three_cases.values())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=bogus", "state"),
        ("channel=fax", "channel"),
        ("overdue=maybe", "overdue"),
        ("received_from=2026-13-01", "received_from"),
        ("received_to=yesterday", "received_to"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("page_size=1000", "page_size"),
        ("unit=Not%20A%20Code", "unit"),
        ("town=%E7%BB%83%E5%B8%82", "town"),
    ],
)
def test_list_with_bad_filter_values_is_422(api_client: ClientFor, query: str, field: str) -> None:
    body = assert_error(api_client("command").get(f"{URL}?{query}"), 422)
    assert field in fields(body)


def test_list_with_received_from_after_received_to_is_422(api_client: ClientFor) -> None:
    body = assert_error(
        api_client("command").get(f"{URL}?received_from=2026-03-02&received_to=2026-03-01"), 422
    )
    assert "received_from" in fields(body)


# --- GET /api/v1/cases/{number} ------------------------------------------------------------------


def test_detail_has_reports_events_deadlines_and_fund_movements(api_client: ClientFor) -> None:
    created = post(api_client("clerk_lianshi"), intake_payload()).json()
    number = created["case_number"]

    body = api_client("command").get(f"{URL}/{number}").json()

    assert body["case_number"] == number
    assert len(body["reports"]) == 1
    assert body["reports"][0]["complainant"]["name"] == "王建国"
    assert [e["kind"] for e in body["events"]] == ["case.registered", "case.dispatched"]
    assert all(e["at"].endswith(OFFSET) for e in body["events"])
    assert body["events"][1]["before"] == "registered"
    assert body["events"][1]["after"] == "dispatched"
    assert body["events"][1]["actor"] == "clerk_lianshi"
    assert body["deadlines"]["dispatch"]["status"] == "met"
    assert body["dispatch_slips"][0]["number"] == created["dispatch_slip"]
    assert body["dispatch_slips"][0]["issued_at"].endswith(OFFSET)
    assert body["fund_movements"] == []
    assert body["amount_owed"] == "86000.00"


def test_detail_of_unknown_case_is_404_json(api_client: ClientFor) -> None:
    assert_error(api_client("command").get(f"{URL}/NX-2026-999999"), 404)


@pytest.mark.parametrize(
    ("username", "phone", "masked"),
    [
        ("liaison_housing", "138****5678", True),
        ("reviewer", "138****5678", True),
        ("clerk_lianshi", "13812345678", False),
        ("command", "13812345678", False),
    ],
)
def test_phone_and_id_are_masked_for_roles_that_do_not_need_them(
    api_client: ClientFor, username: str, phone: str, masked: bool
) -> None:
    payload = intake_payload()
    number = post(api_client("clerk_lianshi"), payload).json()["case_number"]

    response = api_client(username).get(f"{URL}/{number}")

    assert response.status_code == 200, response.content
    complainant = response.json()["reports"][0]["complainant"]
    assert complainant["phone"] == phone
    full_id = payload["complainant"]["id_number"]
    if masked:
        assert complainant["id_number"] != full_id
        assert complainant["id_number"].startswith(full_id[:6])
        assert complainant["id_number"].endswith(full_id[-4:])
        assert full_id not in response.content.decode()
        assert "13812345678" not in response.content.decode()
    else:
        assert complainant["id_number"] == full_id
