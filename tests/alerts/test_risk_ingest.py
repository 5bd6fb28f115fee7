"""POST /api/v1/indicators (indicator readings in) and POST/GET /api/v1/opinions.

A refused batch must store nothing: readings, enterprises, watched subjects and opinion
items are counted before and after. Periods are chosen a few months before today (the API
refuses periods that have not begun, by the real clock).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import OpinionItem, Reading, RiskSubject
from incidents.models import District, Enterprise, Event, Project, StreamEntry, Unit
from tests.alerts.risk_helpers import credit_code
from tests.factories import intake_payload
from tests.live.helpers import incident_open

URL = "/api/v1/indicators"
OPINIONS = "/api/v1/opinions"
TZ = ZoneInfo("Asia/Shanghai")

ClientFor = Callable[[str], Client]


def code(n: int) -> str:
    return credit_code(n, base=8_000_000)


def month_start(back: int) -> date:
    """The first day of the month `back` months before this one (by the hub's clock)."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def month(back: int) -> str:
    return month_start(back).strftime("%Y-%m")


def post(client: Client, body: Any, url: str = URL) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def reading(
    rid: str | int,
    *,
    credit_code: str | None = None,
    project: str | None = None,
    indicator: str = "electricity_kwh",
    period: str | None = None,
    value: Any = 1000,
    source: str = "grid",
    **extra: Any,
) -> dict[str, Any]:
    subject: dict[str, Any] = {}
    if credit_code is not None:
        subject["credit_code"] = credit_code
    if project is not None:
        subject["project"] = project
    return {
        "source": source,
        "id": rid,
        "subject": subject,
        "indicator": indicator,
        "period": period or month(2),
        "value": value,
        **extra,
    }


def stored() -> dict[str, int]:
    return {
        "readings": Reading.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "subjects": RiskSubject.objects.count(),
        "opinions": OpinionItem.objects.count(),
        "versions": sum(RiskSubject.objects.values_list("version", flat=True)),
    }


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def project_with_code(district: District, project_code: str = "JS-330503-001") -> Project:
    return Project.objects.create(
        district=district,
        name=f"练市新城{project_code}",
        code=project_code,
        type="real_estate",
        town=Unit.objects.get(district=district, code="lianshi"),
    )


# --- a good batch -------------------------------------------------------------------------


def test_a_good_batch_is_stored_as_sent(api_client: ClientFor, district: District) -> None:
    known = Enterprise.objects.create(district=district, credit_code=code(2), name="南浔丝绸")
    project_with_code(district)
    day = month_start(1).replace(day=15)
    batch = [
        reading("e-1", credit_code=code(1), period=month(3), value=1200.5),
        reading("e-2", credit_code=code(1), period=day.isoformat(), value="40"),
        reading("t-1", source="tax", credit_code=code(2), indicator="tax_credit_rating", value="c"),
        reading(
            12345,
            source="hr",
            project="JS-330503-001",
            indicator="system_real_name",
            value="no",
        ),
    ]

    response = post(api_client("gateway_110"), {"readings": batch})

    assert response.status_code == 201, response.content
    assert response.json() == {"accepted": 4, "duplicates": 0, "subjects": 3, "registered": 1}
    rows = {(r.source, r.external_id): r for r in Reading.objects.select_related("subject")}
    assert set(rows) == {("grid", "e-1"), ("grid", "e-2"), ("tax", "t-1"), ("hr", "12345")}

    monthly = rows[("grid", "e-1")]
    start = month_start(3)
    assert (monthly.indicator, monthly.number, monthly.text) == (
        "electricity_kwh",
        Decimal("1200.50"),
        "",
    )
    assert monthly.period_start == start
    assert monthly.period_end == month_start(2) - timedelta(days=1)  # the month's last day
    daily = rows[("grid", "e-2")]
    assert (daily.period_start, daily.period_end, daily.number) == (day, day, Decimal("40"))
    rating = rows[("tax", "t-1")]
    assert (rating.number, rating.text) == (None, "C")
    assert rating.subject.enterprise_id == known.pk
    system = rows[("hr", "12345")]
    assert system.number == Decimal(0)
    assert system.subject.project is not None
    assert system.subject.project.code == "JS-330503-001"
    assert monthly.subject_id == daily.subject_id
    assert RiskSubject.objects.count() == 3


def test_the_same_batch_again_is_counted_as_duplicates_and_stores_nothing(
    api_client: ClientFor, district: District
) -> None:
    client = api_client("gateway_110")
    batch = [
        reading("e-1", credit_code=code(1), period=month(3)),
        reading("e-2", credit_code=code(1), period=month(2), value=900),
    ]
    assert post(client, {"readings": batch}).status_code == 201
    before = stored()

    again = post(client, {"readings": batch})

    assert again.status_code == 200, again.content
    assert again.json() == {"accepted": 0, "duplicates": 2, "subjects": 0, "registered": 0}
    assert stored() == before  # no reading, and no subject's version raised


def test_a_batch_mixing_new_and_held_readings_stores_only_the_new(
    api_client: ClientFor, district: District
) -> None:
    client = api_client("gateway_110")
    post(client, {"readings": [reading("e-1", credit_code=code(1), period=month(3))]})

    response = post(
        client,
        {
            "readings": [
                reading("e-1", credit_code=code(1), period=month(3)),
                reading("e-2", credit_code=code(1), period=month(2)),
            ]
        },
    )

    assert response.status_code == 201
    assert response.json() == {"accepted": 1, "duplicates": 1, "subjects": 1, "registered": 0}
    assert Reading.objects.count() == 2


def test_a_held_id_with_a_different_value_refuses_the_whole_batch(
    api_client: ClientFor, district: District
) -> None:
    client = api_client("gateway_110")
    post(client, {"readings": [reading("e-1", credit_code=code(1), value=1000)]})
    before = stored()

    response = post(
        client,
        {
            "readings": [
                reading("e-9", credit_code=code(3), period=month(3)),  # good, new enterprise
                reading("e-1", credit_code=code(1), value=999),  # says something else
            ]
        },
    )

    body = assert_error(response, 422)
    assert fields(body) == {"readings.1.id"}
    assert stored() == before
    assert not Enterprise.objects.filter(credit_code=code(3)).exists()
    assert Reading.objects.get(external_id="e-1").number == Decimal("1000.00")


def test_two_readings_of_one_batch_with_one_id_and_different_values_are_refused(
    api_client: ClientFor, district: District
) -> None:
    response = post(
        api_client("gateway_110"),
        {
            "readings": [
                reading("e-1", credit_code=code(1), value=1),
                reading("e-1", credit_code=code(1), value=2),
            ]
        },
    )
    assert fields(assert_error(response, 422)) == {"readings.1.id"}
    assert stored()["readings"] == 0


@pytest.mark.parametrize(
    "changed",
    [{"credit_code": code(2)}, {"indicator": "water_m3"}, {"period": month(3)}],
    ids=["another enterprise", "another indicator", "another period"],
)
def test_a_held_id_saying_anything_else_is_refused_not_a_duplicate(
    api_client: ClientFor, district: District, changed: dict[str, Any]
) -> None:
    client = api_client("gateway_110")
    post(client, {"readings": [reading("e-1", credit_code=code(1), value=1000)]})
    before = stored()

    response = post(client, {"readings": [reading("e-1", **{"credit_code": code(1), **changed})]})

    assert fields(assert_error(response, 422)) == {"readings.0.id"}
    assert stored() == before
    assert not Enterprise.objects.filter(credit_code=code(2)).exists()


def test_an_unknown_project_is_refused_by_position(
    api_client: ClientFor, district: District
) -> None:
    response = post(
        api_client("gateway_110"),
        {
            "readings": [
                reading("e-1", credit_code=code(1)),
                reading(
                    "p-1", project="NO-SUCH-PROJECT", indicator="system_wage_account", value=True
                ),
            ]
        },
    )

    body = assert_error(response, 422)
    assert fields(body) == {"readings.1.subject.project"}
    assert stored() == {
        "readings": 0,
        "enterprises": 0,
        "subjects": 0,
        "opinions": 0,
        "versions": 0,
    }


def test_a_known_project_takes_readings(api_client: ClientFor, district: District) -> None:
    project = project_with_code(district, "JS-2026-77")

    response = post(
        api_client("command"),
        {
            "readings": [
                reading("p-1", project="JS-2026-77", indicator="fund_disbursed", value=50000),
                reading("p-2", project="JS-2026-77", indicator="system_notice_board", value=True),
            ]
        },
    )

    assert response.status_code == 201, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0, "subjects": 1, "registered": 0}
    subject = RiskSubject.objects.get()
    assert subject.project_id == project.pk
    assert subject.enterprise_id is None
    assert subject.version == 2  # made at 1, raised once by the batch
    assert Enterprise.objects.count() == 0


def test_an_unknown_enterprise_is_registered_and_intake_fills_it_in_later(
    api_client: ClientFor, district: District
) -> None:
    response = post(
        api_client("gateway_110"),
        {"readings": [reading("e-1", credit_code=code(5).lower())]},  # case is ignored
    )

    assert response.status_code == 201
    assert response.json()["registered"] == 1
    enterprise = Enterprise.objects.get()
    assert enterprise.credit_code == code(5)
    assert enterprise.name == ""
    assert enterprise.town is None
    assert enterprise.registered_by_reading is True
    assert RiskSubject.objects.get().enterprise_id == enterprise.pk

    case = post(
        api_client("clerk_lianshi"),
        intake_payload(employer={"name": "湖州新登记建筑劳务有限公司", "credit_code": code(5)}),
        url="/api/v1/cases",
    )

    assert case.status_code == 201, case.content
    enterprise.refresh_from_db()
    assert enterprise.name == "湖州新登记建筑劳务有限公司"
    assert enterprise.town is not None
    assert enterprise.town.code == "lianshi"
    assert Enterprise.objects.count() == 1


def test_intake_does_not_overwrite_a_known_name_or_town(
    api_client: ClientFor, district: District
) -> None:
    shuanglin = Unit.objects.get(district=district, code="shuanglin")
    Enterprise.objects.create(
        district=district, credit_code=code(6), name="双林老字号", town=shuanglin
    )
    case = post(
        api_client("clerk_lianshi"),
        intake_payload(employer={"name": "别的名字", "credit_code": code(6)}),
        url="/api/v1/cases",
    )
    assert case.status_code == 201, case.content
    enterprise = Enterprise.objects.get(credit_code=code(6))
    assert (enterprise.name, enterprise.town_id) == ("双林老字号", shuanglin.pk)


# --- bad input ----------------------------------------------------------------------------


def _future() -> str:
    return month(-1)  # next month: has not begun


BAD_READINGS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    (
        "unknown indicator",
        lambda: reading(1, credit_code=code(1), indicator="noise_db"),
        "indicator",
    ),
    ("month 13", lambda: reading(1, credit_code=code(1), period="2026-13"), "readings.0.period"),
    ("day 31 Feb", lambda: reading(1, credit_code=code(1), period="2026-02-30"), "period"),
    ("loose month", lambda: reading(1, credit_code=code(1), period="2026-9"), "period"),
    ("future period", lambda: reading(1, credit_code=code(1), period=_future()), "period"),
    ("before 2000", lambda: reading(1, credit_code=code(1), period="1999-12"), "period"),
    (
        "rating E",
        lambda: reading(1, credit_code=code(1), indicator="tax_credit_rating", value="E"),
        "readings.0.value",
    ),
    (
        "rating as a number",
        lambda: reading(1, credit_code=code(1), indicator="tax_credit_rating", value=4),
        "value",
    ),
    (
        "flag maybe",
        lambda: reading(1, project="JS-330503-001", indicator="system_real_name", value="maybe"),
        "value",
    ),
    ("negative", lambda: reading(1, credit_code=code(1), value=-5), "readings.0.value"),
    ("NaN", lambda: reading(1, credit_code=code(1), value="NaN"), "value"),
    ("Infinity", lambda: reading(1, credit_code=code(1), value="Infinity"), "value"),
    ("bool for kWh", lambda: reading(1, credit_code=code(1), value=True), "value"),
    ("null value", lambda: reading(1, credit_code=code(1), value=None), ""),
    ("text for kWh", lambda: reading(1, credit_code=code(1), value="lots"), "value"),
    ("three decimals", lambda: reading(1, credit_code=code(1), value="1.234"), "value"),
    (
        "fraction of a worker",
        lambda: reading(1, credit_code=code(1), indicator="registered_workers", value=2.5),
        "value",
    ),
    (
        "both subjects",
        lambda: reading(1, credit_code=code(1), project="JS-330503-001"),
        "readings.0.subject",
    ),
    ("no subject", lambda: reading(1), "readings.0.subject"),
    (
        "bad check digit",
        lambda: reading(1, credit_code=code(1)[:-1] + ("0" if code(1)[-1] != "0" else "1")),
        "readings.0.subject.credit_code",
    ),
    (
        "six systems about an enterprise",
        lambda: reading(1, credit_code=code(1), indicator="system_monthly_pay", value=True),
        "readings.0.indicator",
    ),
    ("extra field", lambda: reading(1, credit_code=code(1), unit="kWh"), "unit"),
    (
        "extra subject field",
        lambda: {**reading(1, credit_code=code(1)), "subject": {"credit_code": code(1), "x": 1}},
        "subject.x",
    ),
    ("bad source", lambda: reading(1, credit_code=code(1), source="Grid Co"), "source"),
    ("empty id", lambda: reading("", credit_code=code(1)), ""),
    (
        "naive reported_at",
        lambda: reading(1, credit_code=code(1), reported_at="2026-09-01T08:00:00"),
        "reported_at",
    ),
]


@pytest.mark.parametrize(
    ("make", "field"), [(m, f) for _n, m, f in BAD_READINGS], ids=[n for n, _m, _f in BAD_READINGS]
)
def test_a_bad_reading_is_refused_and_nothing_is_stored(
    api_client: ClientFor,
    district: District,
    make: Callable[[], dict[str, Any]],
    field: str,
) -> None:
    project_with_code(district)
    # A good reading first: it must not be stored either.
    good = reading("good", credit_code=code(9), period=month(3))
    bad = make()
    before = stored()

    response = post(api_client("gateway_110"), {"readings": [good, bad]})

    body = assert_error(response, 422)
    got = fields(body)
    if field:  # the bad reading (the second) is named, and only it
        assert got == {f"readings.1.{field.removeprefix('readings.0.')}"}
    else:  # a value no schema branch takes: each branch's complaint is named
        assert got
        assert all(f.startswith("readings.1.") for f in got), got
    assert stored() == before


BAD_BODIES: list[tuple[str, Callable[[], Any]]] = [
    ("empty list", lambda: {"readings": []}),
    ("no readings key", lambda: {}),
    ("readings not a list", lambda: {"readings": {"a": 1}}),
    ("body a list", lambda: [reading(1, credit_code=code(1))]),
    ("extra top field", lambda: {"readings": [reading(1, credit_code=code(1))], "x": 1}),
]


@pytest.mark.parametrize("make", [m for _n, m in BAD_BODIES], ids=[n for n, _m in BAD_BODIES])
def test_a_bad_batch_shape_is_refused(
    api_client: ClientFor, district: District, make: Callable[[], Any]
) -> None:
    response = post(api_client("gateway_110"), make())
    assert_error(response, 422)
    assert stored()["readings"] == 0


def test_a_body_that_is_not_json_is_400(api_client: ClientFor, district: District) -> None:
    response = api_client("gateway_110").post(
        URL, '{"readings": [', content_type="application/json"
    )
    assert_error(response, 400)
    assert stored()["readings"] == 0


def test_a_body_not_declared_json_is_415(api_client: ClientFor, district: District) -> None:
    body = json.dumps({"readings": [reading(1, credit_code=code(1))]})
    response = api_client("gateway_110").post(URL, body, content_type="text/plain")
    assert_error(response, 415)
    assert stored()["readings"] == 0


def test_a_batch_over_the_limit_is_refused(
    api_client: ClientFor, district: District, settings: Any
) -> None:
    settings.INDICATOR_BATCH_MAX = 2
    client = api_client("gateway_110")
    batch = [reading(i, credit_code=code(1), period=month(i + 1)) for i in range(3)]

    body = assert_error(post(client, {"readings": batch}), 422)

    assert fields(body) == {"readings"}
    assert stored()["readings"] == 0
    assert post(client, {"readings": batch[:2]}).status_code == 201


def test_every_bad_reading_is_named(api_client: ClientFor, district: District) -> None:
    response = post(
        api_client("gateway_110"),
        {
            "readings": [
                reading(1, credit_code=code(1), value=-1),
                reading(2, credit_code=code(1)),
                reading(3, credit_code=code(1), period=_future()),
            ]
        },
    )
    assert fields(assert_error(response, 422)) == {"readings.0.value", "readings.2.period"}


# --- who may send -------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["gateway_110", "command"])
def test_feeds_and_command_send_readings(
    api_client: ClientFor, district: District, username: str
) -> None:
    response = post(api_client(username), {"readings": [reading(1, credit_code=code(1))]})
    assert response.status_code == 201, response.content
    assert Reading.objects.count() == 1


@pytest.mark.parametrize(
    "username", ["liaison_lianshi", "liaison_housing", "clerk_lianshi", "reviewer", "inspector"]
)
def test_others_may_not_send_readings(
    api_client: ClientFor, district: District, username: str
) -> None:
    response = post(api_client(username), {"readings": [reading(1, credit_code=code(1))]})
    assert_error(response, 403)
    assert stored()["readings"] == 0
    assert stored()["enterprises"] == 0


def test_anonymous_may_not_send_readings(district: District) -> None:
    response = post(Client(), {"readings": [reading(1, credit_code=code(1))]})
    assert_error(response, 401)
    assert stored()["readings"] == 0


# --- when a reading was taken -------------------------------------------------------------


def test_reported_at_is_kept_and_defaults_to_the_receive_time(
    api_client: ClientFor, district: District
) -> None:
    taken = datetime(2026, 9, 5, 8, 30, tzinfo=TZ)
    before = timezone.now()

    response = post(
        api_client("gateway_110"),
        {
            "readings": [
                reading("with", credit_code=code(1), reported_at=taken.isoformat()),
                reading("without", credit_code=code(1), period=month(3)),
            ]
        },
    )

    after = timezone.now()
    assert response.status_code == 201
    given = Reading.objects.get(external_id="with")
    assert given.reported_at == taken
    assert before <= given.received_at <= after
    default = Reading.objects.get(external_id="without")
    assert default.reported_at == default.received_at
    assert before <= default.reported_at <= after


# --- scoring after commit -----------------------------------------------------------------


def test_the_subject_is_scored_once_the_batch_commits(
    api_client: ClientFor,
    normal_time: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    batch = [
        reading("t-1", source="tax", credit_code=code(1), indicator="tax_credit_rating", value="D"),
        *(reading(f"e-{b}", credit_code=code(1), period=month(b), value=1000) for b in (2, 3, 4)),
        reading("e-1", credit_code=code(1), period=month(1), value=100),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client("gateway_110"), {"readings": batch})

    assert response.status_code == 201, response.content
    subject = RiskSubject.objects.get()
    assert subject.scored_version == subject.version == 2
    assert subject.scored_at is not None
    assert subject.score == 60
    assert subject.level == "orange"
    assert {h["rule"] for h in subject.hits} == {"tax_rating_d", "electricity_drop"}


def test_without_the_commit_nothing_is_scored(api_client: ClientFor, district: District) -> None:
    # In the test transaction the batch never commits: the subject stays due.
    post(
        api_client("gateway_110"),
        {"readings": [reading(1, credit_code=code(1), indicator="tax_credit_rating", value="D")]},
    )
    subject = RiskSubject.objects.get()
    assert subject.version > subject.scored_version
    assert subject.scored_at is None


# --- public opinion -----------------------------------------------------------------------


def opinion(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "cac",
        "id": "op-1",
        "text": "某工地农民工在网上反映被拖欠工资三个月",
        "link": "https://weibo.example.cn/p/123",
        "reach": 5000,
        "published_at": (timezone.now() - timedelta(days=1)).isoformat(),
        "subject": {"credit_code": code(1)},
    }
    body.update(overrides)
    return body


def test_an_opinion_is_recorded_once_by_source_and_id(
    api_client: ClientFor, normal_time: None
) -> None:
    client = api_client("command")

    first = post(client, opinion(), url=OPINIONS)
    again = post(client, opinion(text="同一条，再发一次"), url=OPINIONS)

    assert first.status_code == 201, first.content
    assert first.json()["created"] is True
    assert first.json()["subject"] == {"credit_code": code(1)}
    assert again.status_code == 200, again.content
    assert again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    assert OpinionItem.objects.count() == 1
    assert Event.objects.filter(kind="opinion.recorded").count() == 1


def test_an_opinion_about_an_enterprise_leaves_it_due_for_scoring(
    api_client: ClientFor, normal_time: None
) -> None:
    post(api_client("gateway_110"), {"readings": [reading(1, credit_code=code(1))]})
    subject = RiskSubject.objects.get()
    version = subject.version

    response = post(api_client("liaison_lianshi"), opinion(), url=OPINIONS)

    assert response.status_code == 201, response.content
    subject.refresh_from_db()
    assert subject.version == version + 1
    item = OpinionItem.objects.get()
    assert item.subject_id == subject.pk
    assert item.incident_id is None
    assert item.recorded_by is not None
    assert item.recorded_by.username == "liaison_lianshi"


def test_an_opinion_reaching_many_counts_towards_the_risk_after_commit(
    api_client: ClientFor, normal_time: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client("command"), opinion(reach=5000), url=OPINIONS)

    assert response.status_code == 201, response.content
    subject = RiskSubject.objects.get()
    assert subject.scored_version == subject.version
    (hit,) = subject.hits
    assert hit["rule"] == "public_opinion"
    assert hit["detail"]["reach"] == 5000
    assert hit["detail"]["opinions"] == [response.json()["id"]]
    assert (subject.score, subject.level) == (30, "yellow")


def test_an_opinion_about_a_project(api_client: ClientFor, district: District) -> None:
    project = project_with_code(district, "JS-OP-1")
    response = post(api_client("gateway_110"), opinion(subject={"project": "JS-OP-1"}), OPINIONS)
    assert response.status_code == 201, response.content
    assert response.json()["subject"] == {"project": "JS-OP-1"}
    assert OpinionItem.objects.get().subject == RiskSubject.objects.get(project=project)


def test_an_opinion_about_an_incident_is_in_the_incidents_stream(
    api_client: ClientFor, normal_time: None
) -> None:
    incident = incident_open("command")

    response = post(
        api_client("command"),
        opinion(id="op-2", subject={"incident": incident.pk}),
        url=OPINIONS,
    )

    assert response.status_code == 201, response.content
    assert response.json()["incident"] == incident.pk
    assert response.json()["subject"] is None
    (event,) = Event.objects.filter(kind="opinion.recorded")
    assert event.incident_id == incident.pk
    assert event.actor is not None
    assert event.actor.username == "command"
    streams = set(StreamEntry.objects.filter(event=event).values_list("stream", flat=True))
    assert f"incident.{incident.pk}" in streams
    assert f"district.{incident.district_id}" in streams
    assert RiskSubject.objects.count() == 0


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        ({}, "subject"),
        ({"incident": 999_999}, "subject.incident"),
        ({"project": "NO-SUCH"}, "subject.project"),
        ({"credit_code": "91330503MA0000000X"}, "subject.credit_code"),
        ({"credit_code": code(1), "project": "JS-1"}, "subject"),
    ],
    ids=["nothing", "unknown incident", "unknown project", "bad credit code", "both"],
)
def test_an_opinion_must_be_linked_to_something_known(
    api_client: ClientFor, normal_time: None, subject: dict[str, Any], field: str
) -> None:
    before = stored()
    response = post(api_client("command"), opinion(subject=subject), url=OPINIONS)
    assert field in fields(assert_error(response, 422))
    assert stored() == before
    assert not Event.objects.filter(kind="opinion.recorded").exists()


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "ftp://files.example.cn/x", "data:text/html,hi", "//evil.example"],
)
def test_an_opinion_link_must_be_http(api_client: ClientFor, normal_time: None, link: str) -> None:
    response = post(api_client("command"), opinion(link=link), url=OPINIONS)
    assert fields(assert_error(response, 422)) == {"link"}
    assert stored()["opinions"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"published_at": "2026-11-01T10:00:00"},  # no time zone
        {"reach": -1},
        {"text": ""},
        {"extra": 1},
    ],
    ids=["naive time", "negative reach", "empty text", "extra field"],
)
def test_a_bad_opinion_is_refused(
    api_client: ClientFor, normal_time: None, body: dict[str, Any]
) -> None:
    response = post(api_client("command"), opinion(**body), url=OPINIONS)
    assert_error(response, 422)
    assert stored()["opinions"] == 0


def test_a_clerk_may_not_report_opinion(api_client: ClientFor, normal_time: None) -> None:
    assert_error(post(api_client("clerk_lianshi"), opinion(), url=OPINIONS), 403)
    assert stored()["opinions"] == 0


def test_opinions_are_read_by_district_wide_roles_only(
    api_client: ClientFor, normal_time: None
) -> None:
    post(api_client("command"), opinion(), url=OPINIONS)

    listed = api_client("command").get(OPINIONS)
    assert listed.status_code == 200
    (item,) = listed.json()
    assert item["external_id"] == "op-1"
    assert item["subject"] == {"credit_code": code(1)}
    assert api_client("reviewer").get(OPINIONS).status_code == 200
    assert_error(api_client("liaison_lianshi").get(OPINIONS), 403)
    assert_error(Client().get(OPINIONS), 401)
