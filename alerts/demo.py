"""Demo officers and duty rosters: someone on duty in every unit, every day of the current
and the next month, so that a demo incident pages real roster entries.

Phone numbers are made up (+86 139 0000 …); the demo's default SMS backend only prints.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth.models import User
from django.db import transaction

from alerts.models import DutyShift, Officer
from incidents.models import District, Membership, Unit

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["志强", "建华", "丽娟", "海涛", "晓燕", "国平", "文斌", "雪梅", "永康", "春燕"]
ROTATION = 3  # officers taking turns as primary and backup; a fourth leads


def _months(today: date) -> list[date]:
    first = today.replace(day=1)
    after_next = (first + timedelta(days=62)).replace(day=1)
    return [first + timedelta(days=n) for n in range((after_next - first).days)]


def load_duty(district: District, *, today: date) -> int:
    """Upsert the demo officers and fill the roster; returns the duty shifts added."""
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
                    phone=f"+86139{u_index:04d}{n + 1:04d}",
                    defaults={"unit": unit, "name": name},
                )
                crew.append(officer)
            officers[unit.pk] = crew
        for n, username in enumerate(["command"], start=1):
            user = User.objects.filter(username=username).first()
            Officer.objects.get_or_create(
                district=district,
                phone=f"+861399999{n:04d}",
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
                phone=f"+861398888{n:04d}",
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
