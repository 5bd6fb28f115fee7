"""Making cases and incidents through the services, for the live tests."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User

from incidents.models import Case, Incident
from incidents.policy import actor_for
from incidents.services import IncidentInput, Intake, ProjectInput, case_register, incident_report
from tests.factories import credit_code

# Where each kind of project is located: its town, and a point in it.
LIANSHI = (30.713, 120.429)


def register_case(
    *, username: str = "clerk_lianshi", project_type: str = "real_estate", workers: int = 12
) -> Case:
    """A new complaint at the Lianshi window, routed by its project type (a new employer
    each time, so it never merges)."""
    actor = actor_for(User.objects.get(username=username))
    return case_register(
        actor=actor,
        intake=Intake(
            channel="window",
            window="lianshi",
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=workers,
            amount_owed=Decimal("86000.00"),
            employer_name="湖州宏达建筑劳务有限公司",
            employer_credit_code=credit_code(),
            town="lianshi",
            project=ProjectInput("练市新城", project_type),  # type: ignore[arg-type]
        ),
    ).case


def incident_open(
    username: str,
    *,
    town: str = "lianshi",
    people: int = 40,
    kind: str = "site_gathering",
    cases: list[str] | None = None,
    lat: float = LIANSHI[0],
    lng: float = LIANSHI[1],
) -> Incident:
    actor = actor_for(User.objects.get(username=username))
    return incident_report(
        actor=actor,
        data=IncidentInput(
            title="练市新城工地农民工聚集讨薪",
            town=town,
            lat=lat,
            lng=lng,
            people_count=people,
            kind=kind,
            case_numbers=cases or [],
        ),
    )
