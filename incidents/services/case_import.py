"""Importing historical cases from a CSV file: checked whole first, then written in batches.

Two passes over the file. The first checks every row (the rules of
`incidents.domain.case_import`, then the district's codes and the case numbers already held)
and stores nothing; a file with a refused row stops there unless the caller skips bad rows.
The second writes the rows a batch at a time, each batch in a transaction of its own, so a
long import never holds the case counter or a SQLite file's write lock for more than a batch:
live intake goes on between batches. A run that stops midway is finished by running the file
again, since rows already held are skipped (by case number, or by the row's fingerprint kept
in its registration event).

Each case gets what the live lifecycle would have written, at the historical times: its
report, its transfer slip, and the events `case.registered`, `case.dispatched` (the routing
table's choice) or `case.dispatch` (the unit the file names), `case.accept`, and as it ended
`case.escalate_inspection`, `case.resolve`, `case.close` or `case.reject`; `finished_at` and
`closed_at` are set. The monthly statistics therefore count each case in its own months. No
clock is started and nothing is sent: these cases are over. Their events are in the log (the
case's timeline, the reports) but in no live stream, so no dashboard is flooded with
history and a reconnecting client has nothing of it to replay.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Field, Max, Model
from django.db.models.fields.json import KT
from django.db.models.functions import Greatest
from django.utils import timezone

from command_center.csv_import import RowRefusals, csv_rows, open_csv, row_cells
from incidents.domain import routing
from incidents.domain.case_import import (
    MAX_CELL,
    OPTIONAL,
    REQUIRED,
    CaseRowError,
    FinalState,
    ParsedCase,
    RowRules,
    case_row_parse,
    number_sequence,
)
from incidents.domain.lifecycle import CaseState
from incidents.events import chain_advance, chain_seal, events_relay, lock_log
from incidents.models import (
    Case,
    CaseCounter,
    DispatchSlip,
    District,
    Enterprise,
    Event,
    Project,
    Report,
    Unit,
)
from incidents.services.common import local_tz
from incidents.services.intake import routing_rules_of, unit_kinds_of

HISTORICAL_REASON = "Imported from a historical record."
Progress = Callable[[str, int], None]


@dataclass
class CaseImportReport(RowRefusals):
    stored: int = 0
    held: int = 0
    checked_only: bool = False  # the rows counted in `stored` are to be stored, not stored

    def summary(self) -> str:
        if self.file_error:
            return self.file_error
        verb = "to store" if self.checked_only else "stored"
        return (
            f"{self.rows} rows: {self.stored} {verb}, {self.held} already held, "
            f"{self.refused} refused"
        )


class CaseImportRefused(Exception):
    """The file was not imported (nothing was stored); `report` says why."""

    def __init__(self, report: CaseImportReport) -> None:
        super().__init__(report.summary())
        self.report = report


@dataclass(frozen=True)
class _Reference:
    """The district's codes, read once per pass."""

    district: District
    towns: dict[str, int]
    units: dict[str, int]
    unit_kinds: dict[str, str]
    projects: dict[str, tuple[int, str, str]]  # code -> (id, type, builder code)
    rules: list[routing.Rule]
    held: dict[str, str]  # fingerprint -> case number, of cases imported before


@dataclass(frozen=True)
class _Row:
    line: int
    case: ParsedCase
    project_id: int | None
    town_id: int
    unit_id: int | None
    assisting: tuple[int, ...]
    routed: bool  # the routing table chose the unit (`case.dispatched`)
    routing_note: str


def _reference(district: District) -> _Reference:
    units = Unit.objects.filter(district=district, active=True)
    builders = dict(Unit.objects.filter(district=district).values_list("pk", "code"))
    held = dict(
        Event.objects.filter(
            district=district, kind="case.registered", data__has_key="import_key"
        ).values_list(KT("data__import_key"), "case__number")
    )
    return _Reference(
        district=district,
        towns={u.code: u.pk for u in units if u.kind == Unit.Kind.TERRITORIAL},
        units={u.code: u.pk for u in units},
        unit_kinds=unit_kinds_of(district.pk),
        projects={
            p.code: (p.pk, p.type, builders.get(p.builder_id, "") if p.builder_id else "")
            for p in Project.objects.filter(district=district).exclude(code="")
        },
        rules=routing_rules_of(district.pk),
        held={str(k): str(n) for k, n in held.items()},
    )


def _resolve(line: int, case: ParsedCase, ref: _Reference) -> _Row:
    """The row's codes as the district's rows; `CaseRowError` for an unknown one."""
    town_id = ref.towns.get(case.town)
    if town_id is None:
        raise CaseRowError("town", f"no town has the code {case.town}")
    project = ref.projects.get(case.project_code) if case.project_code else None
    if case.project_code and project is None:
        raise CaseRowError("project_code", f"no project has the code {case.project_code}")
    if case.unit:
        unit_id = ref.units.get(case.unit)
        if unit_id is None:
            raise CaseRowError("unit", f"no active unit has the code {case.unit}")
        return _Row(line, case, project and project[0], town_id, unit_id, (), False, "")
    if case.state == FinalState.REJECTED:
        # Rejected at registration: it never reached a unit.
        return _Row(line, case, project and project[0], town_id, None, (), False, "")
    decision = routing.route(
        ref.rules,
        project_type=routing.ProjectType(project[1]) if project else None,
        town=case.town,
        builder=(project[2] or None) if project else None,
        unit_kinds=ref.unit_kinds,
    )
    if decision.responsible is None:
        raise CaseRowError("unit", f"the routing table names no unit ({decision.reason}); give it")
    return _Row(
        line,
        case,
        project and project[0],
        town_id,
        ref.units[decision.responsible],
        tuple(ref.units[c] for c in decision.assisting),
        True,
        decision.reason,
    )


def _checked_batches(
    path: Path,
    rules: RowRules,
    ref: _Reference,
    report: CaseImportReport,
    *,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[list[_Row]]:
    """The rows of the file that are to be stored, a batch at a time; refused rows and rows
    already held are counted in `report`. Decoding and CSV faults set `report.file_error`."""
    seen: set[str] = set()
    numbers: dict[str, int] = {}  # given number -> line
    batch: list[_Row] = []

    def numbers_free(rows: list[_Row]) -> list[_Row]:
        given = [r.case.number for r in rows if r.case.number]
        taken = (
            set(Case.objects.filter(number__in=given).values_list("number", flat=True))
            if given
            else set()
        )
        kept = []
        for r in rows:
            if r.case.number in taken:
                report.refuse(r.line, "number", "is already used by another case")
            else:
                kept.append(r)
        return kept

    try:
        with open_csv(path) as lines:
            for line, raw in csv_rows(lines, report, required=REQUIRED, optional=OPTIONAL):
                report.rows += 1
                if progress is not None and report.rows % batch_size == 0:
                    progress(report.rows)
                cells = row_cells(line, raw, report, max_cell=MAX_CELL)
                if cells is None:
                    continue
                try:
                    case = case_row_parse(cells, rules)
                    if case.key in ref.held or case.key in seen:
                        report.held += 1
                        continue
                    if case.number in numbers:
                        raise CaseRowError(
                            "number", f"is given to another row too (line {numbers[case.number]})"
                        )
                    row = _resolve(line, case, ref)
                except CaseRowError as exc:
                    report.refuse(line, exc.field, exc.message)
                    continue
                seen.add(case.key)
                if case.number:
                    numbers[case.number] = line
                batch.append(row)
                if len(batch) >= batch_size:
                    yield numbers_free(batch)
                    batch = []
            yield numbers_free(batch)
    except (UnicodeDecodeError, csv.Error) as exc:
        report.file_failed(exc)
    if progress is not None:
        progress(report.rows)


def cases_import(
    *,
    district_id: int,
    path: Path,
    skip_bad: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
    batch_size: int = 1000,
) -> CaseImportReport:
    """Import the historical cases of a UTF-8 CSV file into the district.

    `progress(phase, rows)` is called as the rows are checked ("checking") and written
    ("importing"). Raises `CaseImportRefused`, having stored nothing, when the header is wrong,
    the file cannot be decoded or parsed, or a row is refused and `skip_bad` is off. Raises
    `OSError` when the file cannot be read.
    """
    now = now or timezone.now()
    district = District.objects.get(pk=district_id)
    rules = RowRules(
        case_prefix=district.case_prefix,
        channels=frozenset(Case.Channel.values),
        tz=local_tz(),
        now=now,
    )
    check = CaseImportReport(checked_only=True)
    top: dict[int, int] = defaultdict(int)  # year -> highest number the file gives
    on_check = partial(progress, "checking") if progress else None
    for batch in _checked_batches(
        path, rules, _reference(district), check, batch_size=batch_size, progress=on_check
    ):
        check.stored += len(batch)
        for row in batch:
            if row.case.number:
                sequence = number_sequence(
                    row.case.number, case_prefix=district.case_prefix, year=row.case.year
                )
                top[row.case.year] = max(top[row.case.year], sequence)
    if check.file_error or (check.refused and not skip_bad):
        raise CaseImportRefused(check)
    if dry_run:
        return check

    # The hub's own numbers must not take one that a later row of the file gives.
    for year, highest in top.items():
        _counter_raise(district, year, highest)
    done = CaseImportReport()
    on_write = partial(progress, "importing") if progress else None
    for batch in _checked_batches(
        path, rules, _reference(district), done, batch_size=batch_size, progress=on_write
    ):
        if batch:
            with transaction.atomic():
                _store(district, batch, now)
                transaction.on_commit(partial(events_relay, district.pk))
        done.stored += len(batch)
    if done.file_error:
        # The file changed under the import: what was written stays and is skipped next time.
        raise CaseImportRefused(done)
    return done


def _counter_raise(district: District, year: int, at_least: int) -> None:
    with transaction.atomic():
        counter, _created = CaseCounter.objects.get_or_create(district=district, year=year)
        CaseCounter.objects.filter(pk=counter.pk).update(last=Greatest(F("last"), at_least))


def _numbers_give(district: District, rows: list[_Row]) -> dict[int, str]:
    """Numbers from the district's counter for the rows that bring none (by line)."""
    by_year: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        if not row.case.number:
            by_year[row.case.year].append(row)
    given: dict[int, str] = {}
    for year, wanting in by_year.items():
        counter, _created = CaseCounter.objects.get_or_create(district=district, year=year)
        CaseCounter.objects.filter(pk=counter.pk).update(last=F("last") + len(wanting))
        counter.refresh_from_db(fields=["last"])
        first = counter.last - len(wanting) + 1
        for offset, row in enumerate(wanting):
            given[row.line] = f"{district.case_prefix}-{year}-{first + offset:06d}"
    return given


def _employers(district: District, rows: list[_Row]) -> dict[str, int]:
    """The batch's employers by credit code, registering those the hub does not know and
    filling in a name or town it lacks (as intake does)."""
    codes = {r.case.employer_credit_code: r for r in rows}
    known = {
        e.credit_code: e
        for e in Enterprise.objects.filter(district=district, credit_code__in=codes)
    }
    for code, row in codes.items():
        found = known.get(code)
        if found is not None and (not found.name or found.town_id is None):
            found.name = found.name or row.case.employer_name
            found.town_id = found.town_id or row.town_id
            found.save(update_fields=["name", "town"])
    Enterprise.objects.bulk_create(
        [
            Enterprise(
                district=district,
                credit_code=code,
                name=row.case.employer_name,
                town_id=row.town_id,
            )
            for code, row in codes.items()
            if code not in known
        ]
    )
    return dict(
        Enterprise.objects.filter(district=district, credit_code__in=codes).values_list(
            "credit_code", "pk"
        )
    )


def _store(district: District, rows: list[_Row], now: datetime) -> None:
    given = _numbers_give(district, rows)
    employers = _employers(district, rows)
    unit_codes = dict(Unit.objects.filter(district=district).values_list("pk", "code"))
    cases = Case.objects.bulk_create([_case(district, r, given, employers) for r in rows])
    _insert(
        Report,
        {
            "case": lambda x: x[0].pk,
            "channel": lambda x: x[1].case.channel,
            "received_at": lambda x: x[1].case.registered_at,
            "complainant_name": lambda x: x[1].case.complainant_name,
            "complainant_phone": lambda x: x[1].case.complainant_phone,
            "complainant_id_number": lambda x: x[1].case.complainant_id_number,
            "workers_count": lambda x: x[1].case.workers_count,
            "amount_owed": lambda x: x[1].case.amount_owed,
            "description": lambda x: x[1].case.summary,
            "created_at": lambda _x: now,
        },
        list(zip(cases, rows, strict=True)),
    )
    _insert(
        DispatchSlip,
        {
            "case": lambda x: x[0].pk,
            "number": lambda x: f"ZB-{x[0].number}-1",
            "unit": lambda x: x[1].unit_id,
            "assisting": lambda x: ",".join(unit_codes[u] for u in x[1].assisting),
            "issued_at": lambda x: x[1].case.registered_at,
        },
        [(case, r) for case, r in zip(cases, rows, strict=True) if r.unit_id is not None],
    )
    assisting = Case.assisting_units.through
    assisting.objects.bulk_create(
        [
            assisting(case_id=case.pk, unit_id=u)
            for case, r in zip(cases, rows, strict=True)
            for u in r.assisting
        ]
    )
    events = [
        event
        for case, r in zip(cases, rows, strict=True)
        for event in _events(district, case, r, unit_codes)
    ]
    # Onto the district's hash chain, under its log lock, in the order they are inserted.
    head = lock_log(district.pk)
    chain_seal(head, events)
    _insert(
        Event,
        {
            "district": lambda _e: district.pk,
            "case": lambda e: e.case_id,
            "kind": lambda e: e.kind,
            "at": lambda e: e.at,
            "actor": lambda _e: None,
            "reason": lambda e: e.reason,
            "before": lambda e: e.before,
            "after": lambda e: e.after,
            "data": lambda e: e.data,
            "prev_hash": lambda e: e.prev_hash,
            "hash": lambda e: e.hash,
        },
        events,
    )
    if events:
        last = events[-1]
        last.pk = Event.objects.filter(district=district).aggregate(m=Max("id"))["m"]
        chain_advance(head, last)


def _insert(model: type[Model], values: dict[str, Callable[[Any], Any]], items: list[Any]) -> None:
    """Insert one row per item, with `executemany`: the rows need no id back, and building
    them through the ORM's compiler costs more than the database's work (a large import
    writes several rows per case)."""
    if not items:
        return
    fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in values]
    getters = list(values.values())
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (model names)
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                tuple(
                    f.get_db_prep_save(get(item), connection)
                    for f, get in zip(fields, getters, strict=True)
                )
                for item in items
            ],
        )


def _case(district: District, r: _Row, given: dict[int, str], employers: dict[str, int]) -> Case:
    c = r.case
    number = c.number or given[r.line]
    dispatched = r.unit_id is not None
    accepted = c.state != FinalState.REJECTED
    return Case(
        district=district,
        number=number,
        state=c.state.value,
        channel=c.channel,
        received_at=c.registered_at,
        employer_id=employers[c.employer_credit_code],
        project_id=r.project_id,
        town_id=r.town_id,
        workers_count=c.workers_count,
        amount_owed=c.amount_owed,
        amount_paid=c.amount_paid,
        description=c.summary,
        responsible_unit_id=r.unit_id,
        routing_note=r.routing_note,
        dispatched_at=c.registered_at if dispatched else None,
        accepted_at=c.registered_at if accepted else None,
        commitment_letter_number=f"CN-{number}" if accepted else "",
        finished_at=c.finished_at,
        closed_at=c.closed_at,
        revision=len(_steps(r)),
        created_at=c.registered_at,
    )


def _steps(r: _Row) -> list[tuple[str, CaseState, CaseState, datetime]]:
    """The lifecycle steps a finished case took: (event kind, before, after, at)."""
    c = r.case
    S = CaseState
    steps: list[tuple[str, CaseState, CaseState, datetime]] = []
    state = S.REGISTERED
    if r.unit_id is not None:
        kind = "case.dispatched" if r.routed else "case.dispatch"
        steps.append((kind, state, S.DISPATCHED, c.registered_at))
        state = S.DISPATCHED
    if c.state == FinalState.REJECTED:
        steps.append(("case.reject", state, S.REJECTED, c.finished_at))
        return steps
    steps.append(("case.accept", state, S.ACCEPTED, c.registered_at))
    state = S.ACCEPTED
    if c.escalated:
        steps.append(("case.escalate_inspection", state, S.INSPECTION, c.finished_at))
        state = S.INSPECTION
    steps.append(("case.resolve", state, S.RESOLVED, c.finished_at))
    if c.state == FinalState.CLOSED and c.closed_at is not None:
        steps.append(("case.close", S.RESOLVED, S.CLOSED, c.closed_at))
    return steps


def _events(district: District, case: Case, r: _Row, unit_codes: dict[int, str]) -> list[Event]:
    """The events the live lifecycle writes for the case, at their historical times."""
    c = r.case

    def event(
        kind: str,
        at: datetime,
        before: str,
        after: str,
        unit_id: int | None,
        data: dict[str, Any],
        reason: str = "",
    ) -> Event:
        # The same payload as `event_record` gives: the case, its state and unit then.
        payload = {**data, "case_number": case.number, "state": after, "unit_id": unit_id}
        return Event(
            district=district,
            case=case,
            kind=kind,
            at=at,
            reason=reason,
            before=before,
            after=after,
            data=payload,
        )

    registered = {
        "channel": c.channel,
        "town": c.town,
        "workers_count": c.workers_count,
        "amount_owed": str(c.amount_owed),
        "construction": r.project_id is not None,
        "routing": r.routing_note,
        "imported": True,
        "import_key": c.key,
    }
    events = [event("case.registered", c.registered_at, "", CaseState.REGISTERED, None, registered)]
    for kind, before, after, at in _steps(r):
        data: dict[str, Any] = {}
        reason = ""
        if kind in ("case.dispatched", "case.dispatch"):
            data = {
                "unit": unit_codes[r.unit_id] if r.unit_id else None,
                "previous_unit": None,
                "assisting": [unit_codes[u] for u in r.assisting],
                "slip": f"ZB-{case.number}-1",
            }
        elif kind == "case.accept":
            data = {"commitment_letter": f"CN-{case.number}"}
        elif kind == "case.resolve":
            data = {"amount_paid": str(c.amount_paid)}
        elif kind == "case.reject":
            reason = c.reason
        elif kind == "case.escalate_inspection":
            reason = HISTORICAL_REASON
        events.append(event(kind, at, before, after, r.unit_id, data, reason))
    return events
