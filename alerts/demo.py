"""Demo officers and duty rosters: someone on duty in every unit, every day of the current
and the next month, so that a demo incident pages real roster entries.

Phone numbers are made up (+86 139 0000 …); the demo's default SMS backend only prints.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from alerts.models import DutyShift, Officer
from alerts.services.common import local_day
from incidents.models import District, Enterprise, Membership, Project, Unit

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["志强", "建华", "丽娟", "海涛", "晓燕", "国平", "文斌", "雪梅", "永康", "春燕"]
ROTATION = 3  # officers taking turns as primary and backup; a fourth leads


def _months(today: date) -> list[date]:
    first = today.replace(day=1)
    after_next = (first + timedelta(days=62)).replace(day=1)
    return [first + timedelta(days=n) for n in range((after_next - first).days)]


def load_duty(
    district: District, *, today: date, phone_block: str = "139", command: str = "command"
) -> int:
    """Upsert the demo officers and fill the roster; returns the duty shifts added.

    Officers' numbers start +86 `phone_block` (one block per demo district, so that a reply
    from a phone names one officer); `command` is the command user on duty at the centre."""
    with transaction.atomic():
        officers: dict[int, list[Officer]] = {}
        units = list(Unit.objects.filter(district=district, active=True).order_by("pk"))
        for u_index, unit in enumerate(units, start=1):
            crew = []
            for n in range(ROTATION + 1):
                name = (
                    SURNAMES[(u_index * 3 + n) % len(SURNAMES)] + GIVEN[(u_index + n) % len(GIVEN)]
                )
                officer, _ = Officer.objects.get_or_create(
                    district=district,
                    phone=f"+86{phone_block}{u_index:04d}{n + 1:04d}",
                    defaults={"unit": unit, "name": name},
                )
                crew.append(officer)
            officers[unit.pk] = crew
        for n, username in enumerate([command], start=1):
            user = User.objects.filter(username=username).first()
            Officer.objects.get_or_create(
                district=district,
                phone=f"+86{phone_block}9999{n:04d}",
                defaults={"unit": None, "name": "指挥中心值班长", "user": user},
            )
        liaisons = Membership.objects.filter(
            district=district, unit__isnull=False, user__groups__name="liaison"
        ).select_related("user", "unit")
        for n, membership in enumerate(liaisons, start=1):
            if membership.unit is None:
                continue
            Officer.objects.get_or_create(
                district=district,
                phone=f"+86{phone_block}8888{n:04d}",
                defaults={
                    "unit": membership.unit,
                    "name": membership.user.get_username(),
                    "user": membership.user,
                    "is_liaison": True,
                },
            )
        shifts = []
        for day in _months(today):
            turn = day.toordinal()
            for unit in units:
                crew = officers[unit.pk]
                shifts += [
                    DutyShift(unit=unit, day=day, rung="primary", officer=crew[turn % ROTATION]),
                    DutyShift(
                        unit=unit, day=day, rung="backup", officer=crew[(turn + 1) % ROTATION]
                    ),
                    DutyShift(unit=unit, day=day, rung="leader", officer=crew[ROTATION]),
                ]
        before = DutyShift.objects.filter(unit__district=district).count()
        DutyShift.objects.bulk_create(shifts, ignore_conflicts=True, batch_size=1000)
        return DutyShift.objects.filter(unit__district=district).count() - before


def load_risk_demo(district: District, *, now: datetime | None = None, seed: int = 2026) -> int:
    """A year of indicator readings for the demo's employers and projects, once, and a first
    scoring: a few employers in trouble show as warnings. Returns the readings stored."""
    from alerts.domain.indicators import SIX_SYSTEMS, Indicator, ParsedReading, month_of
    from alerts.domain.indicators import Subject as ReadingSubject
    from alerts.models import Reading
    from alerts.services.risk import readings_store, risk_score

    if Reading.objects.filter(district=district).exists():
        return 0
    now = now or timezone.now()
    rng = random.Random(seed)
    projects = list(Project.objects.filter(district=district).order_by("name"))
    for i, project in enumerate(projects, start=1):
        if not project.code:
            project.code = f"330503-{i:03d}"
            project.save(update_fields=["code"])
    employers = list(Enterprise.objects.filter(district=district).order_by("credit_code")[:60])
    this_month = month_of(local_day(now)).start
    months = [_months_before(this_month, k) for k in range(12, 0, -1)]
    batch: list[tuple[int, ParsedReading]] = []

    def add(
        source: str, subject: ReadingSubject, indicator: Indicator, start: date, value: Any
    ) -> None:
        number = None if indicator is Indicator.TAX_CREDIT_RATING else Decimal(str(value))
        ident = f"{subject.credit_code or subject.project}:{indicator.value}:{start:%Y-%m}"
        batch.append(
            (
                len(batch),
                ParsedReading(
                    source=source,
                    external_id=ident,
                    subject=subject,
                    indicator=indicator,
                    period=month_of(start),
                    number=number,
                    text=value if number is None else "",
                    reported_at=None,
                ),
            )
        )

    troubled = set(rng.sample(range(len(employers)), k=min(6, len(employers))))
    for n, employer in enumerate(employers):
        subject = ReadingSubject(credit_code=employer.credit_code)
        power, water = rng.uniform(20_000, 200_000), rng.uniform(500, 5_000)
        workers = rng.randint(20, 300)
        for k, start in enumerate(months):
            falling = n in troubled and k >= len(months) - (1 + n % 2)
            factor = rng.uniform(0.25, 0.4) if falling else rng.uniform(0.9, 1.1)
            add("grid", subject, Indicator.ELECTRICITY_KWH, start, round(power * factor))
            add("water", subject, Indicator.WATER_M3, start, round(water * factor))
            add("hrss", subject, Indicator.REGISTERED_WORKERS, start, workers)
            paid = 0 if falling else round(workers * rng.uniform(4_500, 6_500))
            add("bank", subject, Indicator.WAGE_ACCOUNT_PAYROLL, start, paid)
        rating = "D" if n in troubled and n % 3 == 0 else rng.choice("AABBM")
        add("tax", subject, Indicator.TAX_CREDIT_RATING, months[-1], rating)
    for n, project in enumerate(projects):
        subject = ReadingSubject(project=project.code)
        for system in SIX_SYSTEMS:
            in_place = not (n % 4 == 1 and system is Indicator.SYSTEM_GUARANTEE_DEPOSIT)
            add("housing", subject, system, months[-1], int(in_place))
        for k, start in enumerate(months):
            funds = rng.uniform(1e6, 5e6) * (0.2 if n % 4 == 1 and k == len(months) - 1 else 1)
            add("finance", subject, Indicator.FUND_DISBURSED, start, round(funds, 2))
    with transaction.atomic():
        stored = readings_store(district_id=district.pk, batch=batch, now=now).accepted
    risk_score(district_id=district.pk, now=now)
    return stored


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)
