"""The permission matrix's world: the demo (both districts and the province) loaded once per
module, a few known things in and out of each person's scope, and a way to call any address
as any demo person.

The world is committed to the test database (not rolled back per test), so that the socket
tests, whose consumers read in other threads, see it too; the module's teardown empties the
database again, as a transactional test would.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from urllib.parse import urlencode

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from alerts.models import Alert, EarlyWarning, OpinionItem, Reading, SensitivePeriod, ZeroReport
from alerts.services.risk import OpinionInput, opinion_record
from command_center.models import SituationReport
from command_center.situation import situation_figures
from incidents.domain.lifecycle import Action, Role
from incidents.models import (
    BlacklistEntry,
    Case,
    DispatchSlip,
    Event,
    Incident,
    Membership,
    Unit,
    Window,
)
from incidents.policy import Actor, actor_for, province_actor_for
from incidents.services import (
    IncidentChange,
    IncidentInput,
    Intake,
    ProjectInput,
    TransitionInput,
    blacklist_add,
    case_register,
    case_transition,
    incident_report,
    incident_transition,
)
from incidents.services.integrations import token_issue
from playbooks.models import Checklist, ChecklistStep
from playbooks.services import period_checklists_start
from tests.factories import credit_code

# The people of the matrix: every demo role of Nanxun, the provincial command, and a person
# of the other district (Wuxing). `clerk_district` (the district window's clerk) and `admin`
# (a superuser) are not in the demo; the world adds them.
ANON = "anonymous"
PERSONAS = [
    ANON,
    "command",
    "clerk_lianshi",
    "clerk_district",
    "liaison_housing",
    "liaison_lianshi",
    "liaison_police",
    "inspector",
    "reviewer",
    "gateway_110",
    "province_command",
    "command_wuxing",
]
# Who acts over the API with a bearer token instead of a session.
TOKEN_PERSONAS = {"gateway_110"}
SITE = "http://testserver"
OPINION_TEXT = "矩阵测试：工地讨薪视频在微博转发"


@dataclass
class World:
    """Known things of the matrix, named by who may see them."""

    nx_id: int
    wx_id: int
    province_id: int
    # Registered at the Lianshi window: housing leads, Lianshi assists (accepted: it has a
    # commitment letter).
    case_housing: str
    # Registered by command: the transport bureau leads, in Shuanglin (no clerk or liaison
    # of the matrix sees it).
    case_transport: str
    # Registered by the 110 link, in Hefu.
    case_gateway: str
    case_wx: str
    slip_housing: str
    slip_transport: str
    slip_wx: str
    # Active, level III, in Lianshi, reported by command; the other in Shuanglin, reported
    # by the 110 link; Wuxing's is the demo's grave (level II) gathering.
    inc_lianshi: int
    inc_shuanglin: int
    inc_wx: int
    # A step of the Lianshi incident's checklist owned by the police, one of Wuxing's.
    step_lianshi: int
    step_wx: int
    # A step of Nanxun's and of Wuxing's sensitive-period checklist.
    period_step_nx: int
    period_step_wx: int
    alert_housing: int
    alert_lianshi: int
    alert_wx: int
    warning_nx: int
    warning_nx_unit: str
    warning_wx: int | None
    blacklist_nx: int
    blacklist_wx: int
    report_nx: int
    report_wx: int
    token: str
    extra: dict[str, Any] = field(default_factory=dict)

    def case_ids(self, *numbers: str) -> list[int]:
        return list(Case.objects.filter(number__in=numbers).values_list("pk", flat=True))


def _actor(username: str) -> Actor:
    return actor_for(User.objects.get(username=username))


def _register(username: str, **kw: Any) -> Case:
    base: dict[str, Any] = {
        "channel": "window",
        "complainant_name": "王建国",
        "complainant_phone": "13812345678",
        "workers_count": 12,
        "amount_owed": Decimal("86000.00"),
        "employer_name": "湖州宏达建筑劳务有限公司",
        "employer_credit_code": credit_code(),
    }
    base.update(kw)
    return case_register(actor=_actor(username), intake=Intake(**base)).case


def _incident(username: str, town: Unit, people: int, title: str) -> Incident:
    return incident_report(
        actor=_actor(username),
        data=IncidentInput(
            title=title,
            town=town.code,
            lat=town.lat or 30.8,
            lng=town.lng or 120.4,
            people_count=people,
            kind="site_gathering",
        ),
    )


def _slip(number: str) -> str:
    return str(DispatchSlip.objects.filter(case__number=number).values_list("number", flat=True)[0])


def build_world() -> World:
    """Load the demo through `seed_demo` and add the matrix's known things."""
    call_command("seed_demo", "--cases", "4", "--second-cases", "3", stdout=_Null(), stderr=_Null())
    nx = Membership.objects.get(user__username="command").district
    wx = Membership.objects.get(user__username="command_wuxing").district
    # The district window's clerk (sees the whole district's cases) and a superuser.
    clerk = User.objects.create_user("clerk_district", password="demo")
    clerk.groups.set([Group.objects.get(name=Role.CLERK.value)])
    Membership.objects.create(
        user=clerk, district=nx, window=Window.objects.get(district=nx, code="district")
    )
    User.objects.create_superuser("admin", password="demo")

    nx_units = {u.code: u for u in Unit.objects.filter(district=nx)}
    housing = _register(
        "clerk_lianshi",
        window="lianshi",
        town="lianshi",
        project=ProjectInput("练市新城", "real_estate"),  # type: ignore[arg-type]
    )
    case_transition(
        actor=_actor("liaison_housing"),
        case_number=housing.number,
        change=TransitionInput(action=Action.ACCEPT),
    )
    transport = _register(
        "command",
        channel="hotline_12345",
        town="shuanglin",
        project=ProjectInput("双林大桥改建", "transport"),  # type: ignore[arg-type]
    )
    gateway = _register("gateway_110", channel="police_110", town="hefu")
    wx_case = Case.objects.filter(district=wx).exclude(state="registered").order_by("pk").first()
    assert wx_case is not None, "the demo made no Wuxing case"

    inc_lianshi = _incident("command", nx_units["lianshi"], 40, "练市新城工地农民工聚集讨薪")
    incident_transition(
        actor=_actor("command"), incident_id=inc_lianshi.pk, change=IncidentChange("activate")
    )
    inc_shuanglin = _incident("gateway_110", nx_units["shuanglin"], 12, "双林工地工人讨薪")
    # Closed, so that its after-action report can be read and signed.
    for action in ("activate", "contain", "close"):
        incident_transition(
            actor=_actor("command"),
            incident_id=inc_shuanglin.pk,
            change=IncidentChange(action, reason="工资已发放"),
        )
    inc_wx = Incident.objects.filter(district=wx, level="II").order_by("pk").first()
    assert inc_wx is not None, "the demo made no Wuxing level II incident"

    steps = ChecklistStep.objects.filter(checklist__incident=inc_lianshi, state="open")
    step_lianshi = steps.filter(owner="police").first() or steps.first()
    step_wx = ChecklistStep.objects.filter(checklist__incident=inc_wx).first()
    assert step_lianshi is not None, "no checklist started for the Lianshi incident"
    assert step_wx is not None, "no checklist started for the Wuxing incident"

    today = timezone.localdate()
    period_steps = []
    for district in (nx, wx):
        SensitivePeriod.objects.create(
            district=district, name="春节", starts_on=today, ends_on=today + timedelta(days=7)
        )
        period_checklists_start(district_id=district.pk, now=timezone.now())
        step = ChecklistStep.objects.filter(
            checklist__district=district, checklist__incident__isnull=True
        ).first()
        assert step is not None, "no sensitive-period checklist started"
        period_steps.append(step.pk)

    alerts = Alert.objects.filter(incident=inc_lianshi)
    alert_housing = alerts.get(unit=nx_units["housing"])
    alert_lianshi = alerts.get(unit=nx_units["lianshi"])
    alert_wx = Alert.objects.filter(district=wx, unit__isnull=False).order_by("pk").first()
    assert alert_wx is not None, "no Wuxing alert"

    warnings = EarlyWarning.objects.filter(district=nx, unit__isnull=False).order_by("pk")
    warning_nx = (
        warnings.filter(unit__code__in=["housing", "lianshi"], state="open").first()
        or warnings.filter(state="open").first()
        or warnings.first()
    )
    assert warning_nx is not None, "no Nanxun warning"
    # Lianshi's to work on: its liaison may act on it, the housing bureau's may not.
    EarlyWarning.objects.filter(pk=warning_nx.pk).update(unit=nx_units["lianshi"], state="open")
    warning_wx = EarlyWarning.objects.filter(district=wx).order_by("pk").first()

    # Listed by the inspector, so that command staff (a second person) may remove it.
    entry_nx = blacklist_add(
        actor=_actor("inspector"), reason="恶意欠薪", credit_code=housing.employer.credit_code
    )
    entry_wx = blacklist_add(
        actor=_actor("command_wuxing"), reason="恶意欠薪", credit_code=wx_case.employer.credit_code
    )
    now = timezone.now()
    # A public-opinion item: only the district-wide roles read it (not the district clerk).
    opinion_record(
        actor=_actor("command"),
        item=OpinionInput(
            source="weibo", text=OPINION_TEXT, published_at=now, incident_id=inc_lianshi.pk
        ),
    )
    reports = [
        SituationReport.objects.create(
            district=d,
            day=today,
            period="春节",
            figures=situation_figures(district_id=d.pk, day=today, now=now),
            drafted_at=now,
        )
        for d in (nx, wx)
    ]
    return World(
        nx_id=nx.pk,
        wx_id=wx.pk,
        province_id=province_actor_for(User.objects.get(username="province_command")).province_id
        or 0,
        case_housing=housing.number,
        case_transport=transport.number,
        case_gateway=gateway.number,
        case_wx=wx_case.number,
        slip_housing=_slip(housing.number),
        slip_transport=_slip(transport.number),
        slip_wx=_slip(wx_case.number),
        inc_lianshi=inc_lianshi.pk,
        inc_shuanglin=inc_shuanglin.pk,
        inc_wx=inc_wx.pk,
        step_lianshi=step_lianshi.pk,
        step_wx=step_wx.pk,
        period_step_nx=period_steps[0],
        period_step_wx=period_steps[1],
        alert_housing=alert_housing.pk,
        alert_lianshi=alert_lianshi.pk,
        alert_wx=alert_wx.pk,
        warning_nx=warning_nx.pk,
        warning_nx_unit="lianshi",
        warning_wx=warning_wx.pk if warning_wx else None,
        blacklist_nx=entry_nx.pk,
        blacklist_wx=entry_wx.pk,
        report_nx=reports[0].pk,
        report_wx=reports[1].pk,
        token=token_issue(user_id=User.objects.get(username="gateway_110").pk, name="matrix"),
    )


class _Null:
    def write(self, *_: Any, **__: Any) -> None:
        return None

    def flush(self) -> None:
        return None


def async_guard_lifted() -> Any:
    """Django's async guard lifted, for plain sync set-up work with nothing else running."""
    return mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"})


@contextlib.contextmanager
def demo_world(django_db_blocker: Any) -> Iterator[World]:
    """The world, committed, for one module; the database is emptied afterwards."""
    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        SMS_BACKEND="locmem",
        SMS_RATE_PER_SECOND=0,
    )
    # The module's first test may be an async one (its fixtures are then set up while its
    # event loop runs in this thread); building and emptying the world is plain sync work
    # with nothing else running, so Django's async guard is lifted for those two steps.
    sync_work = async_guard_lifted()
    with django_db_blocker.unblock(), fast:
        for alias in connections:
            db = connections[alias]
            # Never the real database: pytest-django must have switched to the test one.
            assert db.settings_dict["NAME"] == db.creation._get_test_db_name(), (
                f"{alias} is not the test database; run a django_db test first"
            )
        try:
            with sync_work:
                built = build_world()
            yield built
        finally:
            with sync_work:
                for alias in connections:
                    call_command("flush", database=alias, interactive=False, verbosity=0)


# --- calling an address as a person --------------------------------------------------------


class Callers:
    """One logged-in test client per person (made once; sessions live in the database)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._clients: dict[str, Client] = {}

    def client(self, persona: str) -> Client:
        if persona not in self._clients:
            client = Client()
            if persona != ANON:
                client.force_login(User.objects.get(username=persona))
            self._clients[persona] = client
        return self._clients[persona]

    def call(
        self,
        persona: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        api: bool = False,
        form: bool = False,
    ) -> Any:
        """Call `path` as `persona` (the API with the bearer token for integrations)."""
        headers: dict[str, str] = {}
        client = self.client(persona)
        if api and persona in TOKEN_PERSONAS:
            client = self.client(ANON)
            headers["Authorization"] = f"Bearer {self.world.token}"
        kwargs: dict[str, Any] = {"headers": headers}
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            if form:
                kwargs["data"] = urlencode(body or {}, doseq=True)
                kwargs["content_type"] = "application/x-www-form-urlencoded"
            else:
                kwargs["data"] = body if body is not None else {}
                kwargs["content_type"] = "application/json"
        elif body:
            kwargs["data"] = body
        return getattr(client, method.lower())(path, **kwargs)


def fingerprint() -> tuple[int, ...]:
    """What any accepted write changes: events, and the rows and revisions of what people
    act on."""
    from django.db.models import Sum

    def revisions(model: Any) -> int:
        return int(model.objects.aggregate(n=Sum("revision"))["n"] or 0)

    return (
        Event.objects.count(),
        Case.objects.count(),
        Incident.objects.count(),
        BlacklistEntry.objects.count(),
        Checklist.objects.count(),
        SituationReport.objects.exclude(edited_at=None).count(),
        revisions(Case),
        revisions(Incident),
        revisions(ChecklistStep),
        revisions(EarlyWarning),
        Alert.objects.exclude(acknowledged_at=None).count(),
        ZeroReport.objects.count(),
        Reading.objects.count(),
        OpinionItem.objects.count(),
    )
