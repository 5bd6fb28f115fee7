"""Importing indicator readings from a CSV file: streamed, checked row by row, all or nothing.

The file is read once, a batch of rows at a time, inside one transaction: memory holds a
batch, not the file. Every refused row is reported by its line. A file with refused rows is
rolled back whole, unless the caller asked to skip them, in which case the good rows are
kept and the refused ones listed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from alerts.domain.indicators import ParsedReading, ReadingError, reading_parse
from alerts.services.common import local_day
from alerts.services.risk import SubjectCache, readings_store, scoring_schedule
from command_center.csv_import import MAX_LISTED as MAX_LISTED
from command_center.csv_import import RowRefusals, csv_rows, row_cells

REQUIRED = ("source", "id", "credit_code", "project", "indicator", "period", "value")
OPTIONAL = ("reported_at",)
MAX_CELL = 1000  # characters: no cell of a reading is longer


class ImportRefused(Exception):
    """The file was not imported (nothing was stored); `report` says why."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.summary())
        self.report = report


@dataclass
class ImportReport(RowRefusals):
    accepted: int = 0
    duplicates: int = 0
    registered: int = 0
    subjects: int = 0

    def summary(self) -> str:
        if self.file_error:
            return self.file_error
        return (
            f"{self.rows} rows: {self.accepted} stored, {self.duplicates} already held, "
            f"{self.refused} refused"
        )


def _reported_at(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ReadingError("reported_at", "is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise ReadingError("reported_at", "needs a time zone (e.g. +08:00)")
    return value


def readings_import(
    *,
    district_id: int,
    lines: Iterable[str],
    skip_bad: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 2000,
) -> ImportReport:
    """Import readings from CSV text lines (a file opened with `newline=""`).

    Raises `ImportRefused` when the header is wrong, the file cannot be decoded, or any row is
    refused and `skip_bad` is off; nothing is stored then.
    """
    now = now or timezone.now()
    today = local_day(now)
    report = ImportReport()
    cache = SubjectCache(district_id)
    subjects: set[int] = set()
    with transaction.atomic():
        batch: list[tuple[int, ParsedReading]] = []
        try:
            for line, row in csv_rows(lines, report, required=REQUIRED, optional=OPTIONAL):
                report.rows += 1
                parsed = _parse(line, row, today, report)
                if parsed is not None:
                    batch.append((line, parsed))
                if len(batch) >= batch_size:
                    _store(district_id, batch, now, cache, report, subjects)
                    batch = []
                if progress is not None and report.rows % batch_size == 0:
                    progress(report.rows)
            _store(district_id, batch, now, cache, report, subjects)
        except (UnicodeDecodeError, csv.Error) as exc:
            report.file_failed(exc)
        if progress is not None:
            progress(report.rows)
        report.registered = cache.registered
        report.subjects = len(subjects)
        if report.file_error or (report.refused and not skip_bad):
            transaction.set_rollback(True)
            raise ImportRefused(report)
        scoring_schedule(district_id, subjects)
    return report


def _parse(
    line: int, row: dict[str, str | None], today: date, report: ImportReport
) -> ParsedReading | None:
    cells = row_cells(line, row, report, max_cell=MAX_CELL)
    if cells is None:
        return None
    try:
        return reading_parse(
            source=cells["source"],
            external_id=cells["id"],
            credit_code=cells["credit_code"],
            project=cells["project"],
            indicator=cells["indicator"],
            period=cells["period"],
            value=cells["value"],
            today=today,
            reported_at=_reported_at(cells.get("reported_at", "")),
        )
    except ReadingError as exc:
        report.refuse(line, exc.field, exc.message)
        return None


def _store(
    district_id: int,
    batch: list[tuple[int, ParsedReading]],
    now: datetime,
    cache: SubjectCache,
    report: ImportReport,
    subjects: set[int],
) -> None:
    if not batch:
        return
    result = readings_store(district_id=district_id, batch=batch, now=now, cache=cache)
    report.accepted += result.accepted
    report.duplicates += result.duplicates
    subjects |= result.subject_ids
    for line, name, message in result.errors:
        report.refuse(line, name, message)
