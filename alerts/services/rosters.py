"""Duty rosters: reading who is on duty, and importing rosters from CSV files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction

from alerts.domain.duty import DUTY_RUNGS
from alerts.domain.messages import MessageError, to_e164
from alerts.models import DutyShift, Officer
from command_center.csv_import import bounded_lines
from incidents.models import Unit

ROSTER_COLUMNS = ("day", "unit", "duty", "name", "phone")
MAX_ROWS = 20_000


@dataclass
class RosterImport:
    """The outcome of an import: counts, or the rows that were wrong (nothing imported)."""

    shifts: int = 0
    officers_created: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RosterRow:
    line: int
    day: date
    unit: Unit
    rung: str
    name: str
    phone: str


def roster_parse(district_id: int, text: str) -> tuple[list[RosterRow], list[str]]:
    """Read and check a roster CSV; returns the rows and every error (by line number)."""
    reader = csv.DictReader(bounded_lines(io.StringIO(text.lstrip("\ufeff"))))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        return [], [
            f"line 1: missing columns: {', '.join(missing)} (need {', '.join(ROSTER_COLUMNS)})"
        ]
    units = {u.code: u for u in Unit.objects.filter(district_id=district_id, active=True)}
    rows: list[RosterRow] = []
    errors: list[str] = []
    seen: dict[tuple[date, str, str], int] = {}
    for count, raw in enumerate(reader, start=1):
        number = reader.line_num  # the file's own line (blank lines are skipped)
        if count > MAX_ROWS:
            errors.append(f"line {number}: more than {MAX_ROWS} rows; split the file")
            break
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        problems = []
        try:
            day = date.fromisoformat(row["day"])
        except ValueError:
            problems.append(f"day {row['day']!r} is not a date like 2026-12-01")
            day = date.min
        unit = units.get(row["unit"])
        if unit is None:
            problems.append(f"unknown unit {row['unit']!r}")
        if row["duty"] not in {r.value for r in DUTY_RUNGS}:
            problems.append(f"duty {row['duty']!r} is not one of primary, backup, leader")
        if not row["name"] or len(row["name"]) > 100:
            problems.append("give a name of at most 100 characters")
        try:
            phone = to_e164(row["phone"])
        except MessageError:
            problems.append(f"phone {row['phone']!r} is not a mobile number")
            phone = ""
        if unit is not None and not problems:
            slot = (day, unit.code, row["duty"])
            if slot in seen:
                problems.append(
                    f"{unit.code} already has a {row['duty']} on {day} (line {seen[slot]})"
                )
            seen[slot] = number
        if problems:
            errors.append(f"line {number}: " + "; ".join(problems))
        elif unit is not None:
            rows.append(RosterRow(number, day, unit, row["duty"], row["name"], phone))
    return rows, errors


def roster_import(*, district_id: int, text: str) -> RosterImport:
    """Import a roster CSV (columns day, unit, duty, name, phone) all or nothing.

    Each row sets who holds that duty in that unit on that day, replacing whoever held it.
    Officers are found by phone number and made when new; a known number under another
    name or unit is an error (a mistyped number must not page the wrong person).
    """
    result = RosterImport()
    try:
        rows, result.errors = roster_parse(district_id, text)
    except csv.Error as exc:  # a huge cell, say
        result.errors = [f"The file is not valid CSV: {exc}"]
        return result
    if result.errors:
        return result
    officers = {o.phone: o for o in Officer.objects.filter(district_id=district_id)}
    # One number, one person: the same as stored, and the same throughout the file.
    holders = {phone: (o.name, o.unit_id, "") for phone, o in officers.items()}
    for row in rows:
        holder = holders.setdefault(row.phone, (row.name, row.unit.pk, f" (line {row.line})"))
        if holder[:2] != (row.name, row.unit.pk):
            result.errors.append(
                f"line {row.line}: phone {row.phone} already belongs to {holder[0]}{holder[2]}"
                " of another unit or under another name"
            )
    if result.errors:
        return result
    with transaction.atomic():
        for row in rows:
            officer = officers.get(row.phone)
            if officer is None:
                officer = Officer.objects.create(
                    district_id=district_id, unit=row.unit, name=row.name, phone=row.phone
                )
                officers[row.phone] = officer
                result.officers_created += 1
            DutyShift.objects.update_or_create(
                unit=row.unit, day=row.day, rung=row.rung, defaults={"officer": officer}
            )
            result.shifts += 1
    return result


@dataclass(frozen=True)
class DutyRow:
    unit: Unit
    primary: Officer | None
    backup: Officer | None
    leader: Officer | None


def roster_for_day(district_id: int, day: date, units: Iterable[Unit]) -> list[DutyRow]:
    """Who is on duty in each unit on `day`."""
    shifts = DutyShift.objects.filter(unit__district_id=district_id, day=day).select_related(
        "officer"
    )
    by_unit: dict[int, dict[str, Officer]] = {}
    for shift in shifts:
        by_unit.setdefault(shift.unit_id, {})[shift.rung] = shift.officer
    return [
        DutyRow(
            unit=u,
            primary=by_unit.get(u.pk, {}).get("primary"),
            backup=by_unit.get(u.pk, {}).get("backup"),
            leader=by_unit.get(u.pk, {}).get("leader"),
        )
        for u in units
    ]
