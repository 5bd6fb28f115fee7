"""No request's query count grows with the rows it lists: every page and API endpoint that
lists rows answers in as many queries with 25 rows as with 2."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import DutyShift, EarlyWarning, Officer, RiskSubject
from command_center import dashboard
from incidents.models import Case, Clock, District, Enterprise, Project, Unit
from incidents.policy import actor_for
from incidents.services import Intake, ProjectInput, case_register
from tests.factories import credit_code
from tests.live.helpers import incident_open

FEW = 2
MANY = 25
ClientFor = Callable[[str], Client]
_numbers = itertools.count(1)


def add_cases(n: int) -> None:
    """`n` new complaints about housing projects in Lianshi (routed to the housing bureau,
    Lianshi assisting), each of a new employer so that none merges; every other one placed."""
    clerk = actor_for(User.objects.get(username="clerk_lianshi"))
    for _ in range(n):
        k = next(_numbers)
        case_register(
            actor=clerk,
            intake=Intake(
                channel="window",
                window="lianshi",
                complainant_name="王建国",
                complainant_phone="13812345678",
                workers_count=3 + k % 7,
                amount_owed=Decimal(k * 1000 + 500),
                employer_name=f"湖州第{k}建筑劳务有限公司",
                employer_credit_code=credit_code(),
                town="lianshi",
                project=ProjectInput(f"练市新城{k}期", "real_estate"),  # type: ignore[arg-type]
                lat=30.713 + k / 1000 if k % 2 else None,
                lng=120.429 if k % 2 else None,
            ),
        )


def add_reports(number: str) -> Callable[[int], None]:
    """More reports (and their events) of the same case: the same employer complains again."""

    def grow(n: int) -> None:
        case = Case.objects.select_related("employer", "project").get(number=number)
        clerk = actor_for(User.objects.get(username="clerk_lianshi"))
        for _ in range(n):
            result = case_register(
                actor=clerk,
                intake=Intake(
                    channel="window",
                    window="lianshi",
                    complainant_name="李海峰",
                    complainant_phone="13912345678",
                    workers_count=2,
                    amount_owed=Decimal("3000"),
                    employer_name=case.employer.name,
                    employer_credit_code=case.employer.credit_code,
                    town="lianshi",
                    project=ProjectInput(case.project.name, "real_estate"),  # type: ignore[arg-type,union-attr]
                ),
            )
            assert result.merged

    return grow


def add_incidents(n: int) -> None:
    for k in range(n):
        incident_open("command", town="lianshi", people=10 + k)


def add_warnings(n: int) -> None:
    district = District.objects.get()
    housing = Unit.objects.get(code="housing")
    lianshi = Unit.objects.get(code="lianshi")
    now = timezone.now()
    for _ in range(n):
        k = next(_numbers)
        if k % 2:  # a placed project: the map shows it
            project = Project.objects.create(
                district=district,
                name=f"预警项目{k}",
                type="real_estate",
                town=lianshi,
                lat=30.713 + k / 1000,
                lng=120.429,
            )
            subject = RiskSubject.objects.create(district=district, project=project)
        else:
            enterprise = Enterprise.objects.create(
                district=district, credit_code=credit_code(), name=f"预警企业{k}"
            )
            subject = RiskSubject.objects.create(district=district, enterprise=enterprise)
        EarlyWarning.objects.create(
            district=district,
            code=f"EW-QC-{k}",
            subject=subject,
            level="yellow",
            score=40 + k % 50,
            state="open",
            unit=housing,
            raised_at=now - timedelta(hours=k),
            due_at=now + timedelta(days=1),
        )


def folded(sql: str) -> str:
    return re.sub(r"\b\d+\b", "N", sql)


def counted(client: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def assert_flat(client: Client, url: str | Callable[[], str], grow: Callable[[int], None]) -> None:
    """The same number of queries for `url` with FEW rows and with MANY."""
    grow(FEW)
    target = url() if callable(url) else url
    client.get(target)  # caches warmed: only rows differ between the two counts
    few, few_sql = counted(client, target)
    grow(MANY - FEW)
    many, many_sql = counted(client, target)
    if few != many:
        grew = Counter(map(folded, many_sql)) - Counter(map(folded, few_sql))
        repeated = "\n".join(f"  {n}x {sql[:300]}" for sql, n in grew.most_common(5))
        pytest.fail(
            f"GET {target}: {few} queries with {FEW} rows, {many} with {MANY}; "
            f"the statements that grew:\n{repeated}"
        )


# Each: the person, the address, how rows are added.
LISTS: dict[str, tuple[str, str, Callable[[int], None]]] = {
    "case list API": ("command", "/api/v1/cases?page_size=100", add_cases),
    "case list API, liaison": ("liaison_housing", "/api/v1/cases?page_size=100", add_cases),
    "case list page": ("command", "/cases/", add_cases),
    "case list page, filtered": ("command", "/cases/?state=dispatched&unit=housing", add_cases),
    "case list page, liaison": ("liaison_housing", "/cases/", add_cases),
    "dashboard page": ("command", "/", add_cases),
    "dashboard data": ("command", "/dashboard/panels/", add_cases),
    "dashboard page, liaison": ("liaison_housing", "/", add_cases),
    "map: cases": ("command", "/api/v1/map/cases", add_cases),
    "map: heat": ("command", "/api/v1/map/heat", add_cases),
    "map page": ("command", "/maps/", add_cases),
    "monthly report page": ("command", "/reports/monthly/", add_cases),
    "monthly report API": ("command", "/api/v1/reports/monthly", add_cases),
    "ranking page": ("command", "/reports/ranking/", add_cases),
    "ranking API": ("command", "/api/v1/reports/ranking", add_cases),
    "unit record": ("command", "/reports/units/housing/", add_cases),
    "unit activity log": ("command", "/units/housing/activity/", add_cases),
    "incident list API": ("command", "/api/v1/incidents", add_incidents),
    "incident list page": ("command", "/incidents/", add_incidents),
    "map: incidents": ("command", "/api/v1/map/incidents", add_incidents),
    "dashboard with incidents": ("command", "/", add_incidents),
    "alert list page": ("command", "/alerts/", add_incidents),
    "alert list API": ("command", "/api/v1/alerts", add_incidents),
    "period checklists": ("command", "/playbooks/", add_incidents),
    "warning list page": ("command", "/alerts/warnings/", add_warnings),
    "warning list API": ("command", "/api/v1/warnings", add_warnings),
    "map: warnings": ("command", "/api/v1/map/warnings", add_warnings),
    "dashboard with warnings": ("command", "/", add_warnings),
}


@pytest.mark.parametrize("name", list(LISTS))
def test_queries_do_not_grow_with_the_rows_listed(
    name: str, api_client: ClientFor, on_duty: None
) -> None:
    username, url, grow = LISTS[name]

    assert_flat(api_client(username), url, grow)


@pytest.mark.parametrize("page", ["api", "page"])
def test_case_detail_queries_do_not_grow_with_its_reports(
    page: str, api_client: ClientFor, on_duty: None
) -> None:
    add_cases(1)
    number = Case.objects.get().number
    url = f"/api/v1/cases/{number}" if page == "api" else f"/cases/{number}/"

    assert_flat(api_client("command"), url, add_reports(number))


def test_incident_pages_do_not_grow_with_its_cases(api_client: ClientFor, on_duty: None) -> None:
    incident = incident_open("command", town="lianshi", people=40)

    def link(n: int) -> None:
        add_cases(n)
        incident.cases.set(Case.objects.all())

    client = api_client("command")
    assert_flat(client, f"/incidents/{incident.pk}/", link)
    assert_flat(client, f"/api/v1/incidents/{incident.pk}", link)
    assert_flat(client, f"/incidents/{incident.pk}/activity/", link)


def add_shifts(day: date) -> Callable[[int], None]:
    """`n` more lines of `day`'s roster: a new officer on a rung of a unit with none yet."""
    district = District.objects.get()
    slots = iter(
        (unit, rung)
        for unit in Unit.objects.filter(district=district).order_by("code")
        for rung in ("primary", "backup", "leader")
    )

    def grow(n: int) -> None:
        for _ in range(n):
            unit, rung = next(slots)
            k = next(_numbers)
            officer = Officer.objects.create(
                district=district, unit=unit, name=f"值班员{k}", phone=f"+86139{k:08d}"
            )
            DutyShift.objects.create(unit=unit, day=day, rung=rung, officer=officer)

    return grow


@pytest.mark.parametrize("page", ["api", "page"])
def test_roster_does_not_grow_with_its_lines(page: str, api_client: ClientFor) -> None:
    day = timezone.localdate() + timedelta(days=30)
    url = f"/api/v1/roster?day={day}" if page == "api" else f"/alerts/roster/?day={day}"

    assert_flat(api_client("command"), url, add_shifts(day))


def test_dashboard_counts_each_late_case_once_per_unit(actor: Callable[[str], Any]) -> None:
    add_cases(3)
    first, second, _on_time = Case.objects.order_by("pk")
    now = timezone.now()
    Clock.objects.filter(case=first).update(status=Clock.Status.OVERDUE, overdue_at=now)
    # Two late clocks of one case: one overdue, one running past its due time.
    Clock.objects.filter(case=second).update(status=Clock.Status.OVERDUE, overdue_at=now)
    Clock.objects.create(
        case=second,
        kind=Clock.Kind.COMMITMENT,
        started_at=now - timedelta(days=8),
        due_at=now - timedelta(days=1),
    )
    Clock.objects.filter(case=_on_time).update(due_at=now + timedelta(hours=1))

    rows = {r["unit"]: r for r in dashboard.open_by_unit(actor("command"), now=now)}

    assert rows["housing"]["count"] == 3
    assert rows["housing"]["overdue"] == 2
