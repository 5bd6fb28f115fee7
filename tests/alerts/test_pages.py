"""The alerting pages: the alert list, acknowledging from the web, the duty roster and its CSV
import, daily reports, and what the dashboard and the incident room show of alerting.

A refused request changes nothing: no alert acknowledged, no officer or shift imported, no
report filed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, DutyShift, Officer, SensitivePeriod, ZeroReport
from incidents.models import District, Event, Incident, Unit

ClientFor = Callable[[str], Client]
HEADER = "day,unit,duty,name,phone"


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def alert_ids(content: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-alert="(\d+)"', content)}


def alert_of(incident: Incident, unit: str) -> Alert:
    return Alert.objects.get(incident=incident, unit__code=unit)


def alert_rows() -> list[tuple[Any, ...]]:
    return list(
        Alert.objects.order_by("pk").values_list("pk", "state", "acknowledged_at", "escalate_at")
    )


def badge(content: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', content)
    assert found, element_id
    return found.group(1).strip()


# --- the alert list and acknowledging ---------------------------------------------------


def test_command_sees_every_alert(api_client: ClientFor, incident: Incident) -> None:
    content = page(api_client("command"), "/alerts/")

    assert alert_ids(content) == set(
        Alert.objects.filter(incident=incident).values_list("pk", flat=True)
    )
    assert incident.code in content


def test_a_liaison_sees_only_their_units_alerts(api_client: ClientFor, incident: Incident) -> None:
    content = page(api_client("liaison_police"), "/alerts/")

    assert alert_ids(content) == {alert_of(incident, "police").pk}


def test_the_list_filters_by_state(api_client: ClientFor, incident: Incident) -> None:
    client = api_client("command")
    police = alert_of(incident, "police")
    assert client.post(f"/alerts/{police.pk}/acknowledge/").status_code == 302

    assert alert_ids(page(client, "/alerts/?state=acknowledged")) == {police.pk}
    assert police.pk not in alert_ids(page(client, "/alerts/?state=open"))
    assert len(alert_ids(page(client, "/alerts/?state=open"))) == 4


def test_the_units_liaison_acknowledges_from_the_web(
    api_client: ClientFor, incident: Incident
) -> None:
    alert = alert_of(incident, "police")

    response = api_client("liaison_police").post(
        f"/alerts/{alert.pk}/acknowledge/", {"next": f"/incidents/{incident.pk}/"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.acknowledged_via == "web"
    assert alert.acknowledged_by == Officer.objects.get(user__username="liaison_police")
    (event,) = Event.objects.filter(kind="alert.acknowledged")
    assert event.data["alert_id"] == alert.pk


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "alerts/"])
def test_the_web_acknowledgement_never_redirects_off_the_site(
    api_client: ClientFor, incident: Incident, target: str
) -> None:
    alert = alert_of(incident, "police")

    response = api_client("liaison_police").post(
        f"/alerts/{alert.pk}/acknowledge/", {"next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == "/alerts/"


def test_the_web_acknowledgement_refuses_a_backslash_redirect_off_the_site(
    api_client: ClientFor, incident: Incident
) -> None:
    alert = alert_of(incident, "police")

    response = api_client("liaison_police").post(
        f"/alerts/{alert.pk}/acknowledge/", {"next": "/\\evil.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/alerts/"


@pytest.mark.parametrize(
    ("username", "unit", "status"),
    [
        ("liaison_housing", "police", 404),  # another unit's alert: not even visible
        ("reviewer", "police", 403),  # sees every alert, answers for none
        ("clerk_lianshi", "lianshi", 403),  # sees the town's alerts, is not its liaison
    ],
)
def test_someone_else_cannot_acknowledge_from_the_web(
    api_client: ClientFor, incident: Incident, username: str, unit: str, status: int
) -> None:
    alert = alert_of(incident, unit)
    before = alert_rows()

    response = api_client(username).post(f"/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == status
    assert alert_rows() == before
    assert not Event.objects.filter(kind="alert.acknowledged").exists()


def test_the_web_acknowledgement_only_takes_post(api_client: ClientFor, incident: Incident) -> None:
    alert = alert_of(incident, "police")

    assert api_client("liaison_police").get(f"/alerts/{alert.pk}/acknowledge/").status_code == 405
    assert alert_rows()[0][1] == Alert.State.OPEN


def test_the_alert_pages_need_a_login(client: Client, incident: Incident) -> None:
    alert = alert_of(incident, "police")

    assert client.get("/alerts/").status_code == 302
    assert client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 302
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN


# --- the roster page and its import -------------------------------------------------------


def roster_rows(content: str) -> dict[str, list[str]]:
    """Each unit's row of the roster table: [primary, backup, leader]."""
    rows = re.findall(r'<tr data-unit="([^"]+)">.*?</th>\s*(.*?)</tr>', content, re.S)
    return {
        code: [html.unescape(c).strip() for c in re.findall(r"<td>(.*?)</td>", cells)]
        for code, cells in rows
    }


def test_the_roster_page_shows_each_units_duty_officers(
    api_client: ClientFor, on_duty: None
) -> None:
    day = timezone.localdate() + timedelta(days=1)

    rows = roster_rows(page(api_client("command"), f"/alerts/roster/?day={day.isoformat()}"))

    assert set(rows) == set(Unit.objects.filter(active=True).values_list("code", flat=True))
    for code, names in rows.items():
        shifts = {
            s.rung: s.officer.name
            for s in DutyShift.objects.filter(unit__code=code, day=day).select_related("officer")
        }
        assert names == [shifts["primary"], shifts["backup"], shifts["leader"]]


def test_a_liaison_sees_only_their_units_roster_and_no_import(
    api_client: ClientFor, on_duty: None
) -> None:
    content = page(api_client("liaison_police"), "/alerts/roster/")

    assert set(roster_rows(content)) == {"police"}
    assert 'enctype="multipart/form-data"' not in content


def test_a_day_without_shifts_shows_dashes(api_client: ClientFor, on_duty: None) -> None:
    rows = roster_rows(page(api_client("command"), "/alerts/roster/?day=2001-01-01"))

    assert rows["police"] == ["—", "—", "—"]


def csv_file(*lines: str, encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "roster.csv", "\n".join(lines).encode(encoding), content_type="text/csv"
    )


def upload(client: Client, file: SimpleUploadedFile, day: date | None = None) -> Any:
    query = f"?day={day.isoformat()}" if day else ""
    return client.post(f"/alerts/roster/{query}", {"file": file})


def roster_state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return (
        list(Officer.objects.order_by("pk").values_list("pk", "name", "phone", "unit")),
        list(DutyShift.objects.order_by("pk").values_list("pk", "unit", "day", "rung", "officer")),
    )


def import_errors(content: str) -> list[str]:
    found = re.search(r'<ul class="errors" id="import-errors">(.*?)</ul>', content, re.S)
    assert found, "no error list on the page"
    return [html.unescape(e) for e in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_command_imports_a_roster_replacing_the_days_shifts(
    api_client: ClientFor, on_duty: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    leader = DutyShift.objects.get(unit__code="police", day=day, rung="leader").officer
    officers = Officer.objects.count()

    response = upload(
        api_client("command"),
        csv_file(
            HEADER,
            f"{day},police,primary,赵卫东,13900011111",
            f"{day},police,backup,钱立新,139 0001 2222",
            f"{day},police,leader,{leader.name},{leader.phone}",
            f"{day},lianshi,primary,孙海燕,+86 139-0001-3333",
        ),
        day,
    )

    assert response.status_code == 302
    assert response["Location"] == f"/alerts/roster/?day={day.isoformat()}"
    assert Officer.objects.count() == officers + 3
    on_day = {
        (s.unit.code, s.rung): s.officer
        for s in DutyShift.objects.filter(day=day).select_related("unit", "officer")
    }
    assert on_day["police", "primary"].name == "赵卫东"
    assert on_day["police", "primary"].phone == "+8613900011111"
    assert on_day["police", "backup"].phone == "+8613900012222"
    assert on_day["police", "leader"] == leader
    assert on_day["lianshi", "primary"].phone == "+8613900013333"
    assert on_day["lianshi", "primary"].unit == Unit.objects.get(code="lianshi")
    assert DutyShift.objects.filter(day=day, unit__code="police").count() == 3
    rows = roster_rows(page(api_client("command"), f"/alerts/roster/?day={day.isoformat()}"))
    assert rows["police"] == ["赵卫东", "钱立新", leader.name]


def test_a_roster_file_with_a_byte_order_mark_imports(
    api_client: ClientFor, normal_time: None
) -> None:
    day = timezone.localdate() + timedelta(days=2)

    response = upload(
        api_client("command"),
        csv_file(HEADER, f"{day},police,primary,赵卫东,13900011111", encoding="utf-8-sig"),
    )

    assert response.status_code == 302
    shift = DutyShift.objects.select_related("officer").get(
        unit__code="police", day=day, rung="primary"
    )
    assert shift.officer.name == "赵卫东"


BAD_ROWS = {
    "unknown_unit": ("{day},atlantis,primary,李四,13900014444", "unknown unit 'atlantis'"),
    "bad_phone": ("{day},police,primary,李四,12345", "phone '12345' is not a mobile number"),
    "landline": ("{day},police,primary,李四,0572-3012345", "is not a mobile number"),
    "bad_date": ("2026-13-01,police,primary,李四,13900014444", "day '2026-13-01' is not a date"),
    "bad_duty": ("{day},police,chief,李四,13900014444", "duty 'chief' is not one of"),
    "no_name": ("{day},police,primary,,13900014444", "give a name"),
    "duplicate_slot": (
        "{day},hrss,primary,李四,13900014444",
        "hrss already has a primary on {day} (line 2)",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
def test_a_roster_with_one_bad_row_imports_nothing_and_names_the_line(
    api_client: ClientFor, normal_time: None, kind: str
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    bad_row, message = BAD_ROWS[kind]
    before = roster_state()

    response = upload(
        api_client("command"),
        csv_file(
            HEADER,
            f"{day},hrss,primary,赵卫东,13900011111",
            bad_row.format(day=day),
            f"{day},hrss,backup,钱立新,13900012222",
        ),
    )

    assert response.status_code == 400
    (error,) = import_errors(response.content.decode())
    assert error.startswith("line 3: ")
    assert message.format(day=day) in error
    assert roster_state() == before


def test_a_roster_without_a_column_imports_nothing(
    api_client: ClientFor, normal_time: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    before = roster_state()

    response = upload(
        api_client("command"), csv_file("day,unit,duty,name", f"{day},police,primary,赵卫东")
    )

    assert response.status_code == 400
    (error,) = import_errors(response.content.decode())
    assert error.startswith("line 1: missing columns: phone")
    assert roster_state() == before


def test_every_bad_row_of_a_roster_is_listed_with_its_line(
    api_client: ClientFor, normal_time: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    before = roster_state()

    response = upload(
        api_client("command"),
        csv_file(
            HEADER,
            f"{day},atlantis,primary,李四,13900014444",
            f"{day},police,primary,李四,12345",
            f"{day},police,primary,赵卫东,13900011111",
            f"{day},police,primary,钱立新,13900012222",
            f"31/12/{day.year},police,backup,王五,13900015555",
        ),
    )

    assert response.status_code == 400
    errors = import_errors(response.content.decode())
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 3", "line 5", "line 6"]
    assert "unknown unit 'atlantis'" in errors[0]
    assert "phone '12345'" in errors[1]
    assert f"police already has a primary on {day} (line 4)" in errors[2]
    assert f"day '31/12/{day.year}'" in errors[3]
    assert roster_state() == before


def test_a_known_number_under_another_name_imports_nothing(
    api_client: ClientFor, on_duty: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    known = DutyShift.objects.get(unit__code="housing", day=day, rung="primary").officer
    before = roster_state()

    response = upload(
        api_client("command"),
        csv_file(
            HEADER,
            f"{day},police,primary,赵卫东,13900011111",
            f"{day},police,backup,冒名者,{known.phone}",
        ),
    )

    assert response.status_code == 400
    (error,) = import_errors(response.content.decode())
    assert error.startswith("line 3: ")
    assert roster_state() == before


def test_two_new_people_with_the_same_number_in_one_file_import_nothing(
    api_client: ClientFor, normal_time: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    before = roster_state()

    response = upload(
        api_client("command"),
        csv_file(
            HEADER,
            f"{day},police,primary,赵卫东,13900011111",
            f"{day},lianshi,backup,钱立新,13900011111",
        ),
    )

    assert response.status_code == 400
    assert import_errors(response.content.decode())[0].startswith("line 3: ")
    assert roster_state() == before


def test_an_error_after_a_blank_line_names_the_files_own_line(
    api_client: ClientFor, normal_time: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)

    response = upload(
        api_client("command"),
        csv_file(
            HEADER,
            f"{day},police,primary,赵卫东,13900011111",
            "",
            f"{day},atlantis,backup,钱立新,13900012222",
        ),
    )

    assert response.status_code == 400
    (error,) = import_errors(response.content.decode())
    assert error.startswith("line 4: ")


@pytest.mark.parametrize("username", ["liaison_police", "reviewer", "clerk_lianshi"])
def test_only_command_imports_a_roster(
    api_client: ClientFor, normal_time: None, username: str
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    before = roster_state()

    response = upload(
        api_client(username), csv_file(HEADER, f"{day},police,primary,赵卫东,13900011111")
    )

    assert response.status_code == 403
    assert roster_state() == before


def test_a_roster_neither_utf8_nor_gbk_imports_nothing(
    api_client: ClientFor, normal_time: None
) -> None:
    day = timezone.localdate() + timedelta(days=3)
    before = roster_state()
    gbk = csv_file(HEADER, f"{day},police,primary,赵卫东,13900011111", encoding="gbk")

    response = upload(api_client("command"), SimpleUploadedFile("r.csv", b"\x81 " + gbk.read()))

    assert response.status_code == 400
    (error,) = import_errors(response.content.decode())
    assert "UTF-8" in error
    assert roster_state() == before


def test_an_empty_upload_imports_nothing(api_client: ClientFor, normal_time: None) -> None:
    before = roster_state()

    response = api_client("command").post(
        "/alerts/roster/", {"file": SimpleUploadedFile("roster.csv", b"")}
    )

    assert response.status_code == 400
    assert roster_state() == before


# --- daily reports --------------------------------------------------------------------------


def test_a_liaison_files_the_daily_report_once_from_the_page(
    api_client: ClientFor, normal_time: None
) -> None:
    client = api_client("liaison_police")
    assert 'id="daily-report-form"' in page(client, "/alerts/daily-reports/")

    first = client.post("/alerts/daily-reports/", {"nothing_to_report": "on"})
    again = client.post("/alerts/daily-reports/", {"note": "又有情况"})

    assert (first.status_code, again.status_code) == (302, 302)
    report = ZeroReport.objects.select_related("unit").get()
    assert (report.unit.code, report.nothing_to_report, report.note) == ("police", True, "")
    assert report.day == timezone.localdate()
    assert Event.objects.filter(kind="zero_report.filed").count() == 1
    content = page(client, "/alerts/daily-reports/")
    assert 'id="own-filed"' in content
    assert 'id="daily-report-form"' not in content
    filed = re.search(r'<ul id="filed-list">(.*?)</ul>', content, re.S)
    assert filed
    assert report.unit.name_zh in filed.group(1)


def test_a_report_with_something_to_report_needs_a_note(
    api_client: ClientFor, normal_time: None
) -> None:
    response = api_client("liaison_police").post("/alerts/daily-reports/", {"note": " "})

    assert response.status_code == 422
    assert not ZeroReport.objects.exists()


@pytest.mark.parametrize("username", ["command", "reviewer"])
def test_only_a_liaison_files_a_daily_report_from_the_page(
    api_client: ClientFor, normal_time: None, username: str
) -> None:
    client = api_client(username)
    assert 'id="daily-report-form"' not in page(client, "/alerts/daily-reports/")

    response = client.post("/alerts/daily-reports/", {"nothing_to_report": "on"})

    assert response.status_code == 403
    assert not ZeroReport.objects.exists()


# --- the dashboard and the incident room ------------------------------------------------------


def test_the_dashboard_shows_alerts_waiting_for_an_acknowledgement(
    api_client: ClientFor, incident: Incident
) -> None:
    client = api_client("command")
    content = page(client, "/")

    assert 'id="alerts-panel"' in content
    assert badge(content, "alerts-waiting") == "5"
    assert alert_ids(content) == set(
        Alert.objects.filter(incident=incident).values_list("pk", flat=True)
    )
    assert 'id="sensitive-period"' not in content
    assert 'id="co-location"' not in content
    assert 'id="daily-reports"' not in content

    assert client.post(f"/alerts/{alert_of(incident, 'police').pk}/acknowledge/").status_code == 302
    assert badge(page(client, "/"), "alerts-waiting") == "4"


def test_in_a_sensitive_period_the_dashboard_shows_the_banner_co_location_and_reports(
    api_client: ClientFor, on_duty: None, district: District
) -> None:
    today = timezone.localdate()
    SensitivePeriod.objects.create(
        district=district,
        name="进博会保障",
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
    )
    filed = api_client("liaison_police").post("/alerts/daily-reports/", {"nothing_to_report": "on"})
    assert filed.status_code == 302

    content = page(api_client("command"), "/")

    banner = re.search(r'id="sensitive-period">(.*?)</p>', content, re.S)
    assert banner
    assert "进博会保障" in banner.group(1)
    table = re.search(r'<table class="compact" id="co-location">(.*?)</table>', content, re.S)
    assert table
    rows = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td>', table.group(1))
    departments = ("housing", "hrss", "petition", "police")  # by code, as shown
    expected = []
    for code in departments:
        shifts = {
            s.rung: s.officer.name
            for s in DutyShift.objects.filter(unit__code=code, day=today).select_related(
                "officer", "unit"
            )
        }
        expected.append((Unit.objects.get(code=code).name_zh, shifts["primary"], shifts["leader"]))
    assert rows == expected
    reports = re.search(r'id="daily-reports">(.*?)</p>', content, re.S)
    assert reports
    assert re.search(r'<span class="badge">1</span>', reports.group(1))
    assert badge(content, "reports-missing") == "13"


def test_the_incident_room_shows_its_alerts_and_the_cap_link(
    api_client: ClientFor, incident: Incident
) -> None:
    content = page(api_client("command"), f"/incidents/{incident.pk}/")

    panel = re.search(r'id="room-alerts"(.*?)</section>', content, re.S)
    assert panel
    assert alert_ids(panel.group(1)) == set(
        Alert.objects.filter(incident=incident).values_list("pk", flat=True)
    )
    assert f'href="/api/v1/incidents/{incident.pk}/cap.xml" id="cap-link"' in panel.group(1)


def test_the_incident_room_shows_a_liaison_only_their_units_alert(
    api_client: ClientFor, incident: Incident
) -> None:
    content = page(api_client("liaison_police"), f"/incidents/{incident.pk}/")

    panel = re.search(r'id="room-alerts"(.*?)</section>', content, re.S)
    assert panel
    assert alert_ids(panel.group(1)) == {alert_of(incident, "police").pk}
