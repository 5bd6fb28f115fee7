"""Demo data: Nanxun district (reference data, people and a year of cases), Wuxing district
beside it, and the province over both.

Reference data is upserted (safe to load again); demo cases are made only once per district,
through the same services the hub uses, so their events, slips, clocks and fund movements are
what the real flow would have written.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from incidents.domain import routing
from incidents.domain.identifiers import CREDIT_ALPHABET, credit_code_check_char
from incidents.domain.lifecycle import Action, Role
from incidents.errors import ServiceError
from incidents.models import (
    Case,
    District,
    FundAccount,
    Incident,
    Membership,
    Province,
    ProvinceMembership,
    RoutingRule,
    Unit,
    Window,
)
from incidents.policy import PROVINCE_GROUP, Actor, actor_for
from incidents.services import (
    IncidentChange,
    IncidentInput,
    Intake,
    ProjectInput,
    TransitionInput,
    case_register,
    case_transition,
    clocks_sweep,
    fund_move,
    incident_report,
    incident_transition,
    room_acknowledge,
    room_chat,
)
from playbooks.models import ChecklistStep
from playbooks.services import StepMove, step_move

DISTRICT = ("nanxun_district", "NX", "南浔区", "Nanxun District")
FUND_OPENING_BALANCE = Decimal("5000000.00")
DEMO_PASSWORD = "demo"  # noqa: S105  (the demo's published password; see README)

# code, Chinese name, English name, approximate lat/lng of the town centre
TOWNS = [
    ("nanxun", "南浔镇", "Nanxun Town", 30.8780, 120.4220),
    ("shuanglin", "双林镇", "Shuanglin Town", 30.7770, 120.3340),
    ("lianshi", "练市镇", "Lianshi Town", 30.7130, 120.4290),
    ("linghu", "菱湖镇", "Linghu Town", 30.7200, 120.2100),
    ("hefu", "和孚镇", "Hefu Town", 30.7900, 120.1750),
    ("shanlian", "善琏镇", "Shanlian Town", 30.6980, 120.3450),
    ("jiuguan", "旧馆街道", "Jiuguan Subdistrict", 30.8420, 120.3550),
    ("qianjin", "千金镇", "Qianjin Town", 30.7350, 120.2780),
    ("shicong", "石淙镇", "Shicong Town", 30.7980, 120.2950),
    ("devzone", "南浔经济开发区", "Nanxun Economic Development Zone", 30.8650, 120.4450),
]
BUREAUS = [
    ("hrss", "区人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("labour_inspection", "区劳动保障监察大队", "Labour Inspection Brigade"),
    ("housing", "区住房和城乡建设局", "Housing and Construction Bureau"),
    ("transport", "区交通运输局", "Transport Bureau"),
    ("water", "区水利局", "Water Resources Bureau"),
    ("police", "区公安分局", "Public Security Bureau"),
    ("petition", "区信访局", "Petition Bureau"),
    ("cac", "区委网信办", "Cyberspace Affairs Office"),
]
SOES = [("nx_invest", "南浔城市投资发展集团", "Nanxun Urban Investment Group")]
DISTRICT_CENTRE = (30.8720, 120.4180)

# username, role, unit code or None, window code or None
PEOPLE = [
    ("command", Role.COMMAND, None, None),
    ("clerk_lianshi", Role.CLERK, "lianshi", "lianshi"),
    ("liaison_housing", Role.LIAISON, "housing", None),
    ("liaison_lianshi", Role.LIAISON, "lianshi", None),
    ("liaison_police", Role.LIAISON, "police", None),
    ("liaison_hrss", Role.LIAISON, "hrss", None),
    ("liaison_petition", Role.LIAISON, "petition", None),
    ("inspector", Role.INSPECTOR, "labour_inspection", None),
    ("reviewer", Role.REVIEWER, None, None),
    ("gateway_110", Role.INTEGRATION, "police", None),
]


@dataclass(frozen=True)
class DemoDistrict:
    """What makes one demo district: its names, units, windows' towns, people and projects."""

    code: str
    prefix: str
    name_zh: str
    name_en: str
    towns: list[tuple[str, str, str, float, float]]
    bureaus: list[tuple[str, str, str]]
    soes: list[tuple[str, str, str]]
    centre: tuple[float, float]
    people: list[tuple[str, Role, str | None, str | None]]
    projects: list[tuple[str, routing.ProjectType, str | None]]
    # The clerk who registers the complaints made at `clerk_window`; the liaisons who speak
    # in the demo incidents' rooms.
    clerk: str
    clerk_window: str
    police: str
    hrss: str


def load_reference(district_code: str = DISTRICT[0], spec: DemoDistrict | None = None) -> District:
    """Upsert the district, its units, windows, routing table, fund and demo people."""
    spec = spec or NANXUN
    with transaction.atomic():
        district, _ = District.objects.update_or_create(
            code=district_code if spec is NANXUN else spec.code,
            defaults={
                "case_prefix": spec.prefix,
                "name_zh": spec.name_zh,
                "name_en": spec.name_en,
            },
        )
        for ucode, uzh, uen, lat, lng in spec.towns:
            Unit.objects.update_or_create(
                district=district,
                code=ucode,
                defaults={
                    "kind": Unit.Kind.TERRITORIAL,
                    "name_zh": uzh,
                    "name_en": uen,
                    "lat": lat,
                    "lng": lng,
                },
            )
        for kind, rows in ((Unit.Kind.BUREAU, spec.bureaus), (Unit.Kind.SOE, spec.soes)):
            for ucode, uzh, uen in rows:
                Unit.objects.update_or_create(
                    district=district,
                    code=ucode,
                    defaults={
                        "kind": kind,
                        "name_zh": uzh,
                        "name_en": uen,
                        "lat": spec.centre[0],
                        "lng": spec.centre[1],
                    },
                )
        Window.objects.update_or_create(
            district=district,
            code="district",
            defaults={
                "name_zh": "区矛调中心欠薪专窗",
                "name_en": "District wage-arrears window",
                "unit": None,
                "lat": spec.centre[0],
                "lng": spec.centre[1],
            },
        )
        for ucode, uzh, uen, lat, lng in spec.towns:
            Window.objects.update_or_create(
                district=district,
                code=ucode,
                defaults={
                    "name_zh": f"{uzh}矛调中心欠薪专窗",
                    "name_en": f"{uen} wage-arrears window",
                    "unit": Unit.objects.get(district=district, code=ucode),
                    "lat": lat,
                    "lng": lng,
                },
            )
        for rule in routing.DEFAULT_RULES:
            RoutingRule.objects.get_or_create(
                district=district,
                project_type=rule.project_type.value if rule.project_type else "",
                defaults={
                    "responsible": rule.responsible,
                    "assist_territorial": rule.assist_territorial,
                },
            )
        for role in Role:
            Group.objects.get_or_create(name=role.value)
        for username, role, unit_code, window_code in spec.people:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.set([Group.objects.get(name=role.value)])
            Membership.objects.update_or_create(
                user=user,
                defaults={
                    "district": district,
                    "unit": Unit.objects.get(district=district, code=unit_code)
                    if unit_code
                    else None,
                    "window": Window.objects.get(district=district, code=window_code)
                    if window_code
                    else None,
                },
            )
        if not FundAccount.objects.filter(district=district).exists():
            FundAccount.objects.create(district=district)
            fund_move(
                district_id=district.pk,
                kind="deposit",
                amount=FUND_OPENING_BALANCE,
                note="opening balance",
            )
    return district


EMPLOYER_NAMES = [
    "湖州{}建筑劳务有限公司",
    "南浔{}纺织有限公司",
    "浙江{}建设有限公司",
    "湖州{}木业有限公司",
    "南浔{}装饰工程有限公司",
    "湖州{}电梯安装有限公司",
    "浙江{}置业有限公司",
    "南浔{}服装厂",
]
NAME_PARTS = [
    "宏达",
    "新泉",
    "恒丰",
    "鑫源",
    "华盛",
    "金桥",
    "永兴",
    "东方",
    "天成",
    "联华",
    "安顺",
    "富民",
    "嘉和",
    "瑞丰",
    "荣盛",
    "振兴",
]
PROJECTS = [
    ("洪光新天地", routing.ProjectType.COMMERCIAL_COMPLEX, None),
    ("孔雀城三期", routing.ProjectType.REAL_ESTATE, None),
    ("南浔古镇安置房", routing.ProjectType.GOVERNMENT_INVESTMENT, "nx_invest"),
    ("练市大桥改建", routing.ProjectType.TRANSPORT, None),
    ("頔塘河堤加固", routing.ProjectType.WATER, None),
    ("双林工业厂房", routing.ProjectType.OTHER_CONSTRUCTION, None),
    ("菱湖商业综合体", routing.ProjectType.COMMERCIAL_COMPLEX, None),
    ("开发区标准厂房二期", routing.ProjectType.GOVERNMENT_INVESTMENT, None),
    ("和孚美丽乡村道路", routing.ProjectType.TRANSPORT, None),
    ("千金花园小区", routing.ProjectType.REAL_ESTATE, None),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "小明", "海峰", "秀英", "志强", "桂芳", "伟", "军", "红梅", "国庆", "德华", "春生"]
CHANNELS = [
    ("window", 40),
    ("labour_complaint", 15),
    ("police_110", 12),
    ("petition", 10),
    ("inspection_tip", 5),
    ("hotline_12345", 13),
    ("online", 5),
]

NANXUN = DemoDistrict(
    *DISTRICT,
    towns=TOWNS,
    bureaus=BUREAUS,
    soes=SOES,
    centre=DISTRICT_CENTRE,
    people=PEOPLE,
    projects=PROJECTS,
    clerk="clerk_lianshi",
    clerk_window="lianshi",
    police="liaison_police",
    hrss="liaison_hrss",
)

# The second demo district, beside Nanxun in one province: its own units, people and cases.
WUXING = DemoDistrict(
    "wuxing_district",
    "WX",
    "吴兴区",
    "Wuxing District",
    towns=[
        ("zhili", "织里镇", "Zhili Town", 30.8390, 120.2600),
        ("balidian", "八里店镇", "Balidian Town", 30.8610, 120.1560),
        ("miaoxi", "妙西镇", "Miaoxi Town", 30.7930, 119.9800),
        ("daixi", "埭溪镇", "Daixi Town", 30.6750, 120.0450),
        ("donglin", "东林镇", "Donglin Town", 30.6620, 120.1280),
        ("yuehe", "月河街道", "Yuehe Subdistrict", 30.8700, 120.0950),
    ],
    bureaus=BUREAUS,
    soes=[("wx_invest", "吴兴城市投资发展集团", "Wuxing Urban Investment Group")],
    centre=(30.8570, 120.0990),
    people=[
        ("command_wuxing", Role.COMMAND, None, None),
        ("clerk_zhili", Role.CLERK, "zhili", "zhili"),
        ("liaison_zhili", Role.LIAISON, "zhili", None),
        ("liaison_wuxing_housing", Role.LIAISON, "housing", None),
        ("liaison_wuxing_police", Role.LIAISON, "police", None),
        ("liaison_wuxing_hrss", Role.LIAISON, "hrss", None),
        ("inspector_wuxing", Role.INSPECTOR, "labour_inspection", None),
        ("reviewer_wuxing", Role.REVIEWER, None, None),
    ],
    projects=[
        ("织里童装产业园", routing.ProjectType.OTHER_CONSTRUCTION, None),
        ("吴兴高新区标准厂房", routing.ProjectType.GOVERNMENT_INVESTMENT, "wx_invest"),
        ("八里店安置小区", routing.ProjectType.REAL_ESTATE, None),
        ("东林大桥", routing.ProjectType.TRANSPORT, None),
        ("月河商业街", routing.ProjectType.COMMERCIAL_COMPLEX, None),
    ],
    clerk="clerk_zhili",
    clerk_window="zhili",
    police="liaison_wuxing_police",
    hrss="liaison_wuxing_hrss",
)
PROVINCE = ("zhejiang", "浙江省", "Zhejiang Province")
PROVINCE_PEOPLE = ["province_command"]


def load_province(districts: list[District]) -> Province:
    """Upsert the demo province over `districts`, and its command staff."""
    code, zh, en = PROVINCE
    with transaction.atomic():
        province, _ = Province.objects.update_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en}
        )
        District.objects.filter(pk__in=[d.pk for d in districts]).update(province=province)
        group, _ = Group.objects.get_or_create(name=PROVINCE_GROUP)
        for username in PROVINCE_PEOPLE:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.set([group])
            ProvinceMembership.objects.update_or_create(user=user, defaults={"province": province})
    return province


def load_grave_incident(district: District, spec: DemoDistrict) -> Incident | None:
    """A gathering of level II in the district, being handled now (once): what the
    province's command watches live."""
    if Incident.objects.filter(district=district, level__in=["I", "II"]).exists():
        return None
    people = _people(district, spec)
    town = Unit.objects.get(district=district, code=spec.clerk_window)
    incident = incident_report(
        actor=people.command,
        data=IncidentInput(
            title=f"{town.name_zh}工业园区工人聚集讨薪",
            town=town.code,
            lat=town.lat or spec.centre[0],
            lng=town.lng or spec.centre[1],
            people_count=150,
            kind="site_gathering",
            case_numbers=[],
            description="约150名工人在园区管委会门前聚集，要求支付拖欠工资。",
        ),
    )
    incident_transition(
        actor=people.command,
        incident_id=incident.pk,
        change=IncidentChange(action="activate"),
    )
    room_chat(
        actor=actor_for(User.objects.get(username=spec.police)),
        incident_id=incident.pk,
        text="派出所已到场维持秩序",
    )
    return incident


def random_credit_code(rng: random.Random) -> str:
    body = "91330503" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return body + credit_code_check_char(body)


@dataclass
class DemoPeople:
    clerk: Actor
    command: Actor
    inspector: Actor
    liaison_for: Callable[[str], Actor | None]


def _people(district: District, spec: DemoDistrict) -> DemoPeople:
    actors = {
        m.user.username: actor_for(m.user)
        for m in Membership.objects.filter(district=district).select_related("user")
    }

    def first(role: Role) -> Actor:
        return next(a for _, a in sorted(actors.items()) if role in a.roles)

    by_unit = {a.unit_id: a for a in actors.values() if Role.LIAISON in a.roles}
    units = dict(Unit.objects.filter(district=district).values_list("code", "pk"))

    def liaison_for(unit_code: str) -> Actor | None:
        return by_unit.get(units.get(unit_code))

    return DemoPeople(actors[spec.clerk], first(Role.COMMAND), first(Role.INSPECTOR), liaison_for)


def load_cases(
    district: District,
    *,
    count: int = 300,
    seed: int = 2026,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    spec: DemoDistrict | None = None,
) -> int:
    """Make `count` cases over the last 12 months, once: nothing happens if the district
    already has cases. Returns how many were made."""
    spec = spec or NANXUN
    if Case.objects.filter(district=district).exists():
        return 0
    rng = random.Random(seed)
    # Positions come from their own sequence, so the cases stay what they were before.
    place_rng = random.Random(seed + 1)
    centres = {code: (lat, lng) for code, _zh, _en, lat, lng in spec.towns}
    now = now or timezone.now()
    people = _people(district, spec)
    employers = [
        (rng.choice(EMPLOYER_NAMES).format(rng.choice(NAME_PARTS)), random_credit_code(rng))
        for _ in range(count)
    ]
    town_codes = [t[0] for t in spec.towns]
    made = 0
    # In time order, so that reports merge into cases received before them.
    times = sorted(now - timedelta(days=rng.uniform(0, 365)) for _ in range(count))
    for i, received in enumerate(times):
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        town = rng.choice(town_codes)
        project = None
        if rng.random() < 0.67:
            name, ptype, builder = rng.choice(spec.projects)
            project = ProjectInput(name, ptype, builder)
        employer_name, credit_code = rng.choice(employers)
        # Four in five complaints give a place within 3 km of the town's centre.
        lat, lng = centres[town]
        located = place_rng.random() < 0.8
        d_lat, d_lng = place_rng.uniform(-0.027, 0.027), place_rng.uniform(-0.031, 0.031)
        workers = rng.choice([1, 1, 2, 3, 5, 8, 12, 20, 35, 60])
        intake = Intake(
            channel=channel,
            window=town if channel == "window" else None,
            received_at=received,
            complainant_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            complainant_phone=f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
            workers_count=workers,
            amount_owed=Decimal(workers * rng.randint(30, 250) * 100),
            employer_name=employer_name,
            employer_credit_code=credit_code,
            town=town,
            project=project,
            lat=round(lat + d_lat, 6) if located else None,
            lng=round(lng + d_lng, 6) if located else None,
            description="拖欠工资" if rng.random() < 0.5 else "春节前讨薪",
        )
        registrar = people.clerk if intake.window == spec.clerk_window else people.command
        result = case_register(actor=registrar, intake=intake, now=received)
        if not result.merged:
            _advance(result.case, people, rng, received, now)
            made += 1
        if progress:
            progress(i + 1)
    _repeat_reports(district, people, rng, now)
    clocks_sweep(now=now)
    _incidents(district, people, spec)
    return made


def _incidents(district: District, people: DemoPeople, spec: DemoDistrict) -> None:
    """Two mass incidents from the biggest open cases: one closed, one being handled now,
    with a few words said in its room."""
    big = list(
        Case.objects.filter(district=district, workers_count__gte=30)
        .exclude(state__in=["closed", "merged", "rejected"])
        .select_related("town")
        .order_by("-received_at")[:2]
    )
    police = actor_for(User.objects.get(username=spec.police))
    hrss = actor_for(User.objects.get(username=spec.hrss))
    for n, case in enumerate(big):
        town = case.town
        incident = incident_report(
            actor=people.command,
            data=IncidentInput(
                title=f"{case.employer.name}工人在{town.name_zh}聚集讨薪",
                town=town.code,
                lat=case.lat if case.lat is not None else (town.lat or spec.centre[0]),
                lng=case.lng if case.lng is not None else (town.lng or spec.centre[1]),
                people_count=case.workers_count,
                kind="site_gathering" if n == 0 else "gate_gathering",
                case_numbers=[case.number],
                description="工人在项目部门前聚集，要求结清拖欠工资。",
            ),
        )
        move = partial(incident_transition, actor=people.command, incident_id=incident.pk)
        move(change=IncidentChange(action="activate"))
        room_acknowledge(actor=police, incident_id=incident.pk, note="派出所已出警")
        for step in ChecklistStep.objects.filter(checklist__incident=incident, owner="police"):
            step_move(actor=police, step_id=step.pk, move=StepMove(state="done", note="已到场"))
        room_chat(actor=hrss, incident_id=incident.pk, text="人社局正在核对工资名册")
        if n == 1:
            move(change=IncidentChange(action="contain"))
            move(change=IncidentChange(action="close", reason="工资已现场发放，人员已散去"))


def _repeat_reports(
    district: District, people: DemoPeople, rng: random.Random, now: datetime
) -> None:
    """The same arrears reported again through other channels: merged, not new cases."""
    open_cases = list(
        Case.objects.filter(district=district)
        .exclude(state__in=["closed", "merged", "rejected"])
        .select_related("employer", "town")[:20]
    )
    for case in rng.sample(open_cases, min(12, len(open_cases))):
        for channel in rng.sample(["police_110", "hotline_12345", "petition"], 2):
            case_register(
                actor=people.command,
                intake=Intake(
                    channel=channel,
                    received_at=min(now, case.received_at + timedelta(hours=rng.uniform(1, 30))),
                    complainant_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                    complainant_phone=f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
                    workers_count=case.workers_count,
                    amount_owed=case.amount_owed,
                    employer_name=case.employer.name,
                    employer_credit_code=case.employer.credit_code,
                    town=case.town.code,
                    description="工友再次反映",
                ),
                now=now,
            )


def _advance(
    case: Case, people: DemoPeople, rng: random.Random, start: datetime, now: datetime
) -> None:
    """Walk a fresh demo case along a plausible path, stopping before `now`."""
    age_days = (now - start).days
    at = start

    def act(actor: Actor | None, action: Action, hours: float, **kw: Any) -> bool:
        nonlocal at
        at = at + timedelta(hours=hours)
        if actor is None or at >= now:
            return False
        try:
            case_transition(
                actor=actor,
                case_number=case.number,
                change=TransitionInput(action=action, **kw),
                now=at,
            )
        except ServiceError:
            return False
        return True

    case.refresh_from_db()
    if case.state == "registered":
        if age_days < 7 and rng.random() < 0.6:
            return  # left in the triage queue
        if not act(people.command, Action.DISPATCH, 3, unit=case.town.code, reason="属地"):
            return
    case.refresh_from_db()
    liaison = people.liaison_for(case.responsible_unit.code) if case.responsible_unit else None
    unit_actor = liaison or people.command
    if not act(unit_actor, Action.ACCEPT, rng.uniform(1, 20)):
        return
    roll = rng.random()
    if roll < 0.80:
        if act(unit_actor, Action.RESOLVE, rng.uniform(24, 24 * 9), amount=case.amount_owed):
            act(people.command, Action.CLOSE, rng.uniform(2, 48))
        return
    if roll < 0.84:
        act(people.inspector, Action.REFER_POLICE, 48, reason="转移财产逃避支付")
        return
    if not act(unit_actor, Action.ESCALATE_INSPECTION, 24 * 5, reason="责任主体无法化解"):
        return
    if rng.random() < 0.5:
        if act(people.inspector, Action.RESOLVE, 24 * 6, amount=case.amount_owed):
            act(people.command, Action.CLOSE, 24)
        return
    if rng.random() < 0.4 and not act(
        people.inspector, Action.REFER_SECTOR, 24 * 2, reason="涉嫌违法分包"
    ):
        return
    if not act(people.inspector, Action.CONVENE_JOINT_MEETING, 24 * 3):
        return
    if not act(people.command, Action.CONFIRM_FACTS, 24, amount=case.amount_owed):
        return
    if not act(
        people.command,
        Action.ADVANCE_PAYMENT,
        24 * 8,
        amount=case.amount_owed,
        reason="联席会议决定垫付",
    ):
        return
    half = (case.amount_owed / 2).quantize(Decimal("0.01"))
    if act(unit_actor, Action.RECORD_RECOVERY, 24 * 20, amount=half, reason="追偿第一笔") and act(
        unit_actor,
        Action.RECORD_RECOVERY,
        24 * 30,
        amount=case.amount_owed - half,
        reason="追偿完毕",
    ):
        act(people.command, Action.CLOSE, 24)
