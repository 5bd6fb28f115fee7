"""Activity logs (ICS 214 style) read from the event log: the rows of a scripted day, who may
read an incident's or a unit's log, the CSV export and the periods refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from command_center.exports import cell_safe
from incidents.activity import ActivityRow, activity_log, activity_period, day_bounds
from incidents.domain.streams import incident_stream, unit_stream
from incidents.errors import Forbidden, Invalid, NotFound
from incidents.events import event_record
from incidents.models import District, Event, Incident, Unit
from incidents.policy import Actor

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 6, 2)
PERIOD = "?from=2025-06-02&to=2025-06-02"
ClientFor = Callable[[str], Client]
ActorFor = Callable[[str], Actor]


def at(hour: int, minute: int = 0, *, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def incident(district: District, actor: ActorFor) -> Incident:
    """A Lianshi gathering and a scripted day of its log, with an event either side of it."""
    command_user = User.objects.get(username="command")
    command_user.first_name, command_user.last_name = "Wei", "Zhang"
    command_user.save()
    lianshi = Unit.objects.get(district=district, code="lianshi")
    made = Incident.objects.create(
        district=district,
        title="练市新城工地农民工聚集讨薪",
        town=lianshi,
        lat=30.713,
        lng=120.429,
        people_count=40,
        kind="site_gathering",
        level="III",
        reported_by=command_user,
    )
    command, liaison = actor("command"), actor("liaison_lianshi")
    script: list[tuple[datetime, str, Actor | None, dict[str, Any]]] = [
        (at(23, 59, day=DAY - timedelta(days=1)), "incident.reported", command, {}),
        (at(0, 0), "incident.reported", command, {}),
        (at(9, 5), "incident.chat", liaison, {"data": {"text": '=HYPERLINK("x")'}}),
        (
            at(9, 30),
            "incident.activate",
            command,
            {"before": "reported", "after": "active", "reason": "workers block the gate"},
        ),
        (at(9, 40), "incident.set_level", command, {"data": {"level_before": "IV"}}),
        (at(10, 0), "alert.raised", None, {}),
        (at(0, 0, day=DAY + timedelta(days=1)), "incident.chat", liaison, {"data": {"text": "x"}}),
    ]
    for when, kind, who, extra in script:
        event_record(at=when, district=district, kind=kind, actor=who, incident=made, **extra)
    return made


def rows_of(actor: Actor, stream: str, **kwargs: int) -> list[ActivityRow]:
    start, end = day_bounds(DAY, DAY)
    return activity_log(actor=actor, stream=stream, start=start, end=end, **kwargs).rows


def test_the_log_lists_the_days_events_oldest_first(incident: Incident, actor: ActorFor) -> None:
    with translation.override("en"):
        rows = rows_of(actor("reviewer"), incident_stream(incident.pk))
        table = [(r.at, r.who, r.unit, r.what, r.summary) for r in rows]
    code = incident.code
    assert table == [
        (at(0, 0), "Wei Zhang", "", "Mass incident reported", f"{code}"),
        (
            at(9, 5),
            "liaison_lianshi",
            "Lianshi Town",
            "Message",
            f'{code} · text: =HYPERLINK("x")',
        ),
        (
            at(9, 30),
            "Wei Zhang",
            "",
            "activate the response",
            f"{code} · reported → active · reason: workers block the gate",
        ),
        (at(9, 40), "Wei Zhang", "", "set the level", f"{code} · level: IV → III"),
        (at(10, 0), "system", "", "SMS alert raised", f"{code}"),
    ]


def test_the_units_log_holds_the_events_of_incidents_in_its_town(
    incident: Incident, actor: ActorFor, district: District
) -> None:
    lianshi = Unit.objects.get(district=district, code="lianshi")
    rows = rows_of(actor("liaison_lianshi"), unit_stream(lianshi.pk))
    assert [r.at for r in rows] == [at(0, 0), at(9, 5), at(9, 30), at(9, 40), at(10, 0)]


def test_a_long_log_is_cut_and_says_so(incident: Incident, actor: ActorFor) -> None:
    start, end = day_bounds(DAY, DAY)
    log = activity_log(
        actor=actor("command"), stream=incident_stream(incident.pk), start=start, end=end, limit=3
    )
    assert [r.at for r in log.rows] == [at(0, 0), at(9, 5), at(9, 30)]
    assert log.truncated
    whole = activity_log(
        actor=actor("command"), stream=incident_stream(incident.pk), start=start, end=end, limit=5
    )
    assert not whole.truncated


@pytest.mark.parametrize(
    ("username", "refusal"),
    [
        ("command", None),
        ("reviewer", None),
        ("inspector", None),
        ("liaison_lianshi", None),
        ("liaison_housing", NotFound),
        ("clerk_lianshi", NotFound),
    ],
)
def test_who_reads_an_incidents_log(
    incident: Incident, actor: ActorFor, username: str, refusal: type[Exception] | None
) -> None:
    stream = incident_stream(incident.pk)
    if refusal is None:
        assert len(rows_of(actor(username), stream)) == 5
    else:
        with pytest.raises(refusal):
            rows_of(actor(username), stream)


@pytest.mark.parametrize(
    ("username", "refusal"),
    [
        ("command", None),
        ("reviewer", None),
        ("inspector", None),
        ("liaison_lianshi", None),
        ("clerk_lianshi", None),
        ("liaison_housing", Forbidden),
        ("gateway_110", Forbidden),
    ],
)
def test_who_reads_a_units_log(
    incident: Incident,
    actor: ActorFor,
    district: District,
    username: str,
    refusal: type[Exception] | None,
) -> None:
    stream = unit_stream(Unit.objects.get(district=district, code="lianshi").pk)
    if refusal is None:
        assert len(rows_of(actor(username), stream)) == 5
    else:
        with pytest.raises(refusal):
            rows_of(actor(username), stream)


@pytest.mark.parametrize(
    "stream", ["district.1", "incident.x", "unit.999999", "incident.999999", "nonsense"]
)
def test_streams_that_name_no_log_are_not_found(
    incident: Incident, actor: ActorFor, stream: str
) -> None:
    with pytest.raises(NotFound):
        rows_of(actor("command"), stream)


@pytest.mark.parametrize(
    ("username", "status"),
    [("command", 200), ("reviewer", 200), ("liaison_lianshi", 200), ("liaison_housing", 404)],
)
def test_the_incident_page_answers_by_who_asks(
    incident: Incident, api_client: ClientFor, username: str, status: int
) -> None:
    response = api_client(username).get(f"/incidents/{incident.pk}/activity/{PERIOD}")
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert html.count("<tr>") == 3 + 1 + 5  # header table, column heads, five rows
        assert "workers block the gate" in html
        assert "<script>" not in html


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("command", 200),
        ("reviewer", 200),
        ("liaison_lianshi", 200),
        ("liaison_housing", 403),
    ],
)
def test_the_unit_page_answers_by_who_asks(
    incident: Incident, api_client: ClientFor, username: str, status: int
) -> None:
    response = api_client(username).get(f"/units/lianshi/activity/{PERIOD}")
    assert response.status_code == status


def test_an_unknown_unit_is_not_found(district: District, api_client: ClientFor) -> None:
    assert api_client("command").get("/units/atlantis/activity/").status_code == 404


def test_the_page_needs_a_login(incident: Incident) -> None:
    response = Client().get(f"/incidents/{incident.pk}/activity/")
    assert response.status_code == 302


def test_the_unit_page_shows_today_by_default(
    district: District, actor: ActorFor, api_client: ClientFor
) -> None:
    event_record(
        district=district,
        kind="zero_report.filed",
        actor=actor("liaison_lianshi"),
        units=[Unit.objects.get(district=district, code="lianshi").pk],
        data={"note": "all quiet on the sites"},
    )
    response = api_client("liaison_lianshi").get("/units/lianshi/activity/")
    assert response.status_code == 200
    assert "all quiet on the sites" in response.content.decode()


def test_the_csv_export_has_a_bom_and_neutralises_formulas(
    incident: Incident, api_client: ClientFor
) -> None:
    liaison = User.objects.get(username="liaison_lianshi")
    liaison.first_name = "=2+3"
    liaison.save()
    response = api_client("command").get(f"/incidents/{incident.pk}/activity/{PERIOD}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    lines = body[1:].splitlines()
    assert len(lines) == 1 + 5
    assert lines[2].startswith("2025-06-02 09:05:00,'=2+3,")
    assert not any(cell.startswith("=") for line in lines for cell in line.split(","))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("王建国", "王建国"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_cells_that_look_like_formulas_are_quoted(value: str, written: str) -> None:
    assert cell_safe(value) == written


@pytest.mark.parametrize(
    "query",
    [
        "?from=2025-13-01",
        "?from=yesterday",
        "?from=20250601&to=20250602",
        "?from=2025-06-03&to=2025-06-02",
        "?from=2025-06-01&to=2025-07-02",
    ],
)
def test_bad_periods_get_a_400_page_that_says_why(
    incident: Incident, api_client: ClientFor, query: str
) -> None:
    response = api_client("command").get(f"/incidents/{incident.pk}/activity/{query}")
    assert response.status_code == 400
    assert 'id="activity-error"' in response.content.decode()
    csv_response = api_client("command").get(f"/units/lianshi/activity/{query}&format=csv")
    assert csv_response.status_code == 400


def test_a_refused_reader_learns_nothing_from_a_bad_period(
    incident: Incident, api_client: ClientFor
) -> None:
    response = api_client("liaison_housing").get("/units/lianshi/activity/?from=nonsense")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (date(2025, 6, 1), date(2025, 6, 2))),
        ("2025-05-01", "2025-05-31", (date(2025, 5, 1), date(2025, 5, 31))),
        ("2025-06-02", "2025-06-02", (date(2025, 6, 2), date(2025, 6, 2))),
        ("2025-05-01", "2025-06-01", Invalid),
        ("2025-06-02", "2025-06-01", Invalid),
        ("2025-02-30", None, Invalid),
        ("", "", (date(2025, 6, 1), date(2025, 6, 2))),
    ],
)
def test_periods(
    start: str | None, end: str | None, expected: tuple[date, date] | type[Invalid]
) -> None:
    defaults = {"default_start": date(2025, 6, 1), "default_end": date(2025, 6, 2)}
    if isinstance(expected, tuple):
        assert activity_period(start, end, **defaults) == expected
    else:
        with pytest.raises(expected):
            activity_period(start, end, **defaults)


def test_day_bounds_are_local_midnights() -> None:
    start, end = day_bounds(DAY, DAY)
    assert (start, end) == (at(0, 0), at(0, 0, day=DAY + timedelta(days=1)))
    assert start.utcoffset() == timedelta(hours=8)


def test_every_event_of_the_script_is_in_the_log_once(incident: Incident) -> None:
    assert Event.objects.filter(incident=incident).count() == 7
