"""A province in one deployment: districts kept apart, and the provincial command.

- each district's cases, incidents, people and streams are its own: a district's staff
  never see or reach another district's;
- the provincial command sees every district's figures side by side (one grouped query
  per figure, whatever the number of districts) and every incident of level II and above,
  live over `/ws/province/`, and acts on nothing in a district;
- the province's stream spans districts, yet its entries chain (`prev`) in id order even
  with writers in two districts at once.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from command_center import province as province_reads
from incidents import demo
from incidents.domain.incidents import seen_by_province
from incidents.domain.streams import district_stream, province_stream
from incidents.live import CLOSE_FORBIDDEN
from incidents.models import Case, District, Event, Incident, Province, StreamEntry
from incidents.policy import actor_for, province_actor_for
from incidents.services import (
    IncidentChange,
    IncidentInput,
    Intake,
    case_register,
    incident_report,
    incident_transition,
)
from tests.factories import credit_code
from tests.live.test_consumers import closed_with, connect

ZHILI = (30.839, 120.260)
LIANSHI = (30.713, 120.429)


@pytest.fixture
def second(district: District) -> District:
    return demo.load_reference(spec=demo.WUXING)


@pytest.fixture
def province(district: District, second: District) -> Province:
    return demo.load_province([district, second])


def _register(username: str, window: str, *, workers: int = 10) -> Case:
    return case_register(
        actor=actor_for(User.objects.get(username=username)),
        intake=Intake(
            channel="window",
            window=window,
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=workers,
            amount_owed=Decimal("50000.00"),
            employer_name="湖州宏达建筑劳务有限公司",
            employer_credit_code=credit_code(),
            town=window,
        ),
    ).case


def _incident(username: str, town: str, people: int, where: tuple[float, float]) -> Incident:
    return incident_report(
        actor=actor_for(User.objects.get(username=username)),
        data=IncidentInput(
            title="工人聚集讨薪",
            town=town,
            lat=where[0],
            lng=where[1],
            people_count=people,
            kind="site_gathering",
        ),
    )


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


# --- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "before", "seen"),
    [
        ("I", None, True),
        ("II", None, True),
        ("III", None, False),
        ("IV", None, False),
        ("III", "II", True),  # the event that lowered it tells the province it left
        ("IV", "III", False),
        ("II", "III", True),
    ],
)
def test_the_province_watches_level_ii_and_above(
    level: str, before: str | None, seen: bool
) -> None:
    assert seen_by_province(level, before) is seen


# --- districts apart -----------------------------------------------------------------------


@pytest.mark.django_db
def test_each_district_sees_only_its_own_cases_and_incidents(
    district: District, second: District
) -> None:
    nanxun_case = _register("clerk_lianshi", "lianshi")
    wuxing_case = _register("clerk_zhili", "zhili")
    assert nanxun_case.number.startswith("NX")
    assert wuxing_case.number.startswith("WX")
    wuxing_incident = _incident("command_wuxing", "zhili", 40, ZHILI)

    nanxun = _client("command")
    listed = nanxun.get("/api/v1/cases?page_size=100").json()
    numbers = {row["case_number"] for row in listed["results"]}
    assert nanxun_case.number in numbers
    assert wuxing_case.number not in numbers
    assert nanxun.get(f"/api/v1/cases/{wuxing_case.number}").status_code == 404
    assert nanxun.get(f"/cases/{wuxing_case.number}/").status_code == 404
    assert nanxun.get(f"/api/v1/incidents/{wuxing_incident.pk}").status_code == 404
    assert nanxun.get(f"/incidents/{wuxing_incident.pk}/").status_code == 404
    ids = {row["id"] for row in nanxun.get("/api/v1/incidents?status=open").json()["results"]}
    assert wuxing_incident.pk not in ids

    wuxing = _client("command_wuxing")
    numbers = {
        row["case_number"] for row in wuxing.get("/api/v1/cases?page_size=100").json()["results"]
    }
    assert numbers == {wuxing_case.number}
    # A move on another district's case is as if it did not exist, and changes nothing.
    state, events = nanxun_case.state, Event.objects.count()
    moved = wuxing.post(
        f"/api/v1/cases/{nanxun_case.number}/transitions",
        {"action": "dispatch", "unit": "lianshi"},
        content_type="application/json",
    )
    assert moved.status_code == 404
    nanxun_case.refresh_from_db()
    assert nanxun_case.state == state
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_each_districts_events_stay_in_its_own_streams(
    district: District, second: District
) -> None:
    case = _register("clerk_zhili", "zhili")
    entries = set(StreamEntry.objects.filter(event__case=case).values_list("stream", flat=True))
    assert district_stream(second.pk) in entries
    assert district_stream(district.pk) not in entries
    assert all(not s.startswith("province.") for s in entries)  # no province set yet


@pytest.mark.django_db
def test_district_settings_and_reference_data_are_apart(
    district: District, second: District
) -> None:
    from alerts.services import alert_settings

    assert set(district.units.values_list("code", flat=True)) != set(
        second.units.values_list("code", flat=True)
    )
    nanxun_settings = alert_settings(district.pk)
    nanxun_settings.builtin_periods = False
    nanxun_settings.save()
    assert alert_settings(second.pk).builtin_periods is True
    # Numbering is per district: each starts its own sequence with its own prefix.
    assert _register("clerk_zhili", "zhili").number.startswith("WX")


# --- the province's stream -----------------------------------------------------------------


@pytest.mark.django_db
def test_grave_incidents_enter_the_provinces_stream_and_others_do_not(
    province: Province,
) -> None:
    stream = province_stream(province.pk)
    grave = _incident("command_wuxing", "zhili", 150, ZHILI)  # level II
    minor = _incident("command", "lianshi", 40, LIANSHI)  # level III
    assert grave.level == "II"
    assert minor.level == "III"

    def streams(incident: Incident) -> set[str]:
        return set(
            StreamEntry.objects.filter(event__incident=incident).values_list("stream", flat=True)
        )

    assert stream in streams(grave)
    assert stream not in streams(minor)

    # Raised to II: from then on the province sees it; lowered again: the lowering event is
    # the last it sees.
    commander = actor_for(User.objects.get(username="command"))
    incident_transition(
        actor=commander,
        incident_id=minor.pk,
        change=IncidentChange(action="set_level", level="II", reason="堵路风险"),
    )
    incident_transition(
        actor=commander,
        incident_id=minor.pk,
        change=IncidentChange(action="set_level", level="III", reason="人员已散去大半"),
    )
    incident_transition(
        actor=commander,
        incident_id=minor.pk,
        change=IncidentChange(action="update", description="现场平稳"),
    )
    seen = list(
        Event.objects.filter(incident=minor, entries__stream=stream, kind__startswith="incident.")
        .order_by("id")
        .values_list("kind", "data__level_before")
    )
    assert seen == [("incident.set_level", "III"), ("incident.set_level", "II")]
    # Pages sent about it while it was grave are the province's to see too.
    assert Event.objects.filter(
        incident=minor, entries__stream=stream, kind__startswith="alert."
    ).exists()


@pytest.mark.django_db
def test_a_district_outside_any_province_writes_no_province_stream(
    district: District, second: District
) -> None:
    _incident("command_wuxing", "zhili", 150, ZHILI)
    assert not StreamEntry.objects.filter(stream__startswith="province.").exists()


@pytest.mark.django_db(transaction=True)
def test_two_districts_writing_at_once_keep_the_provinces_stream_in_order(
    province: Province,
) -> None:
    """The race exists on PostgreSQL (two district locks); SQLite must pass too."""
    grave = {
        "command": _incident("command", "lianshi", 150, LIANSHI),
        "command_wuxing": _incident("command_wuxing", "zhili", 150, ZHILI),
    }
    errors: list[BaseException] = []

    def writer(username: str) -> None:
        try:
            actor = actor_for(User.objects.get(username=username))
            for n in range(8):
                incident_transition(
                    actor=actor,
                    incident_id=grave[username].pk,
                    change=IncidentChange(action="update", people_count=150 + n),
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(u,)) for u in grave for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    stream = province_stream(province.pk)
    entries = list(
        StreamEntry.objects.filter(stream=stream)
        .order_by("event_id")
        .values_list("event_id", "prev")
    )
    updates = StreamEntry.objects.filter(stream=stream, event__kind="incident.update")
    assert updates.count() == 2 * 2 * 8
    # Each entry names the one before it: ids committed in order across both districts.
    for (before, _), (_, prev) in itertools.pairwise(entries):
        assert prev == before


# --- the provincial command ------------------------------------------------------------


@pytest.mark.django_db
def test_the_province_summary_puts_districts_side_by_side(
    province: Province, district: District, second: District
) -> None:
    for _ in range(3):
        _register("clerk_lianshi", "lianshi", workers=5)
    _register("clerk_zhili", "zhili", workers=7)
    grave = _incident("command_wuxing", "zhili", 150, ZHILI)
    _incident("command", "lianshi", 40, LIANSHI)

    body = _client("province_command").get("/api/v1/province/summary").json()
    assert body["province"]["code"] == "zhejiang"
    rows = {row["district"]: row for row in body["districts"]}
    assert set(rows) == {district.code, second.code}
    assert rows[district.code]["open_cases"] == 3
    assert rows[district.code]["open_workers"] == 15
    assert rows[second.code]["open_cases"] == 1
    assert rows[second.code]["month_cases"] == 1
    assert rows[second.code]["open_amount"] == "50000.00"
    assert rows[district.code]["open_incidents"] == {"I": 0, "II": 0, "III": 1, "IV": 0}
    assert rows[second.code]["open_incidents"]["II"] == 1
    assert body["total"]["open_cases"] == 4
    assert body["total"]["open_incidents"]["III"] == 1
    # Only the incidents of level II and above, each with its district.
    assert [(i["id"], i["district"]["code"]) for i in body["incidents"]] == [
        (grave.pk, second.code)
    ]


@pytest.mark.django_db
def test_the_summary_costs_the_same_queries_for_more_districts(
    province: Province, district: District, second: District
) -> None:
    actor = province_actor_for(User.objects.get(username="province_command"))
    _register("clerk_zhili", "zhili")
    with CaptureQueriesContext(connection) as two:
        province_reads.summary_json(actor)
    third = District.objects.create(
        code="third", case_prefix="TH", name_zh="第三区", name_en="Third", province=province
    )
    assert third.pk
    with CaptureQueriesContext(connection) as three:
        body = province_reads.summary_json(actor)
    assert len(body["districts"]) == 3
    assert len(three.captured_queries) == len(two.captured_queries), [
        q["sql"] for q in three.captured_queries
    ]


@pytest.mark.django_db
def test_the_province_page_panels_and_incident(province: Province, second: District) -> None:
    grave = _incident("command_wuxing", "zhili", 150, ZHILI)
    minor = _incident("command", "lianshi", 40, LIANSHI)
    client = _client("province_command")
    assert client.get("/").url == "/province/"
    page = client.get("/province/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "南浔区" in html
    assert "吴兴区" in html
    assert f"/province/incidents/{grave.pk}/" in html
    assert f"/province/incidents/{minor.pk}/" not in html
    assert 'data-ws="/ws/province/"' in html
    assert "/cases/" not in html  # no district navigation for the province
    assert client.get("/province/panels/").status_code == 200
    detail = client.get(f"/province/incidents/{grave.pk}/")
    assert detail.status_code == 200
    assert "incident.reported" in detail.content.decode() or "吴兴区" in detail.content.decode()
    assert client.get(f"/province/incidents/{minor.pk}/").status_code == 404


@pytest.mark.django_db
def test_the_province_acts_on_nothing_in_a_district_and_districts_cannot_read_the_province(
    province: Province,
) -> None:
    case = _register("clerk_lianshi", "lianshi")
    grave = _incident("command", "lianshi", 150, LIANSHI)
    boss = _client("province_command")
    assert boss.get("/api/v1/cases").status_code == 403
    assert boss.get(f"/cases/{case.number}/").status_code == 403
    assert boss.get(f"/incidents/{grave.pk}/").status_code == 403
    refused = boss.post(
        f"/api/v1/incidents/{grave.pk}/transitions",
        {"action": "close", "reason": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    grave.refresh_from_db()
    assert grave.status == "reported"
    for username in ("command", "command_wuxing", "reviewer"):
        other = _client(username)
        assert other.get("/api/v1/province/summary").status_code == 403
        assert other.get("/province/").status_code == 403
        assert other.get(f"/province/incidents/{grave.pk}/").status_code == 403


@pytest.mark.django_db
def test_a_province_member_sees_only_their_own_province(province: Province) -> None:
    other = Province.objects.create(code="jiangsu", name_zh="江苏省", name_en="Jiangsu")
    elsewhere = District.objects.create(
        code="elsewhere", case_prefix="EL", name_zh="别区", name_en="Elsewhere", province=other
    )
    assert elsewhere.pk
    grave = _incident("command", "lianshi", 150, LIANSHI)
    user = User.objects.get(username="province_command")
    user.province_membership.province = other
    user.province_membership.save()
    client = _client("province_command")
    body = client.get("/api/v1/province/summary").json()
    assert [row["district"] for row in body["districts"]] == ["elsewhere"]
    assert body["incidents"] == []
    assert client.get(f"/province/incidents/{grave.pk}/").status_code == 404


# --- live --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_province_socket_carries_grave_incidents_of_every_district(
    province: Province,
) -> None:
    async def scenario(call: Callable[..., Any]) -> None:
        ws, hello = await connect("/ws/province/", user="province_command")
        assert hello["type"] == "hello"
        assert hello["stream"] == province_stream(province.pk)
        await call(_incident, "command", "lianshi", 40, LIANSHI)  # level III: not sent
        grave = await call(_incident, "command_wuxing", "zhili", 150, ZHILI)
        received = []
        while not await ws.receive_nothing(timeout=0.5):
            received.append(await ws.receive_json_from(timeout=5))
        assert received[0]["kind"] == "incident.reported"
        assert received[0]["data"]["level"] == "II"
        # Its pages follow; nothing of the level III incident comes.
        assert {f["data"]["incident_id"] for f in received} == {grave.pk}
        await ws.disconnect()

        refused, first = await connect("/ws/province/", user="command")
        assert first["type"] == "error"
        assert first["code"] == "forbidden"
        assert await closed_with(refused) == CLOSE_FORBIDDEN

        nobody, first = await connect("/ws/dashboard/", user="province_command")
        assert first["type"] == "error"
        assert await closed_with(nobody) == CLOSE_FORBIDDEN

    from channels.db import database_sync_to_async

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return await database_sync_to_async(fn)(*args)

    async_to_sync(scenario)(call)
