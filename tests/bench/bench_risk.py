"""Benchmark of early-warning scoring: 10,000 enterprises with a year of readings, beside a
plain SQL aggregate of the same readings measured in the same run.

The data: the demo district's reference data, then 10,000 enterprises (spread over the demo
towns), each watched (a `RiskSubject`), each with 12 monthly readings (2025) of six
indicators: electricity, water, gas, registered workers, payroll and wage account inflow,
720,000 readings in all, within ±15% of the enterprise's own level. One in a hundred
declines in December: half in electricity, water, gas and payroll (a red warning, paged),
half in electricity only (yellow). Enterprises and subjects go in with `bulk_create`, the
readings with `executemany` in batches of 5,000 (SQLite) or COPY (PostgreSQL), then
ANALYZE.

1. Scoring: `risk_score(district_id, now)` over every subject, on 2026-01-06 (every month
   of 2025 fed, December's on January 5th). The first run scores all 10,000 and opens the
   warnings; the rescoring runs (a day later each: every subject is due again, by
   RESCORE_AFTER) score all 10,000 and open nothing; the best of those is reported, with
   where its time went (reading the readings and building the facts, the rules, storing
   the scores with `bulk_update`, the warnings).
2. The baseline: `SELECT subject_id, indicator, count(*), avg(number), max(period_start)
   FROM alerts_reading GROUP BY subject_id, indicator` through `connection.cursor()`, all
   rows fetched: the least a database must do to read every reading once. Best of a few.
3. Peak memory of one more rescoring run, under tracemalloc (its time is not used: tracing
   slows Python down).

Ratios are scoring / aggregate; readings per second are the 720,000 readings over the
scoring time.

Run: `make bench` (or `.venv/bin/python tests/bench/bench_risk.py`). Uses a fresh SQLite
file in a temporary folder unless DATABASE_URL is set (then that database is used for a
throwaway test database named by Django's test runner).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="hub-bench-"))
os.environ["EMBEDDED_SWEEP"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.db.models.query import QuerySet  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from alerts.domain import risk as domain  # noqa: E402
from alerts.domain.indicators import Indicator  # noqa: E402
from alerts.models import EarlyWarning, RiskSubject  # noqa: E402
from alerts.services import risk as service  # noqa: E402
from alerts.services.common import local_tz  # noqa: E402
from incidents import demo  # noqa: E402
from incidents.models import Enterprise, Unit  # noqa: E402
from tests.bench import table  # noqa: E402
from tests.factories import credit_code  # noqa: E402

SUBJECTS = 300 if os.environ.get("BENCH_QUICK") == "1" else 10_000
MONTHS = [date(2025, m, 1) for m in range(1, 13)]
# indicator: (source, per-worker level of a month)
INDICATORS: dict[Indicator, tuple[str, float]] = {
    Indicator.ELECTRICITY_KWH: ("grid", 900.0),
    Indicator.WATER_M3: ("water", 5.0),
    Indicator.GAS_M3: ("gas", 3.0),
    Indicator.REGISTERED_WORKERS: ("hrss", 1.0),
    Indicator.WAGE_ACCOUNT_PAYROLL: ("bank", 6500.0),
    Indicator.WAGE_ACCOUNT_INFLOW: ("bank-in", 7000.0),
}
READINGS = SUBJECTS * len(MONTHS) * len(INDICATORS)
RED_DECLINE = {
    Indicator.ELECTRICITY_KWH,
    Indicator.WATER_M3,
    Indicator.GAS_M3,
    Indicator.WAGE_ACCOUNT_PAYROLL,
}
RESCORE_REPEAT = 2
AGGREGATE_REPEAT = 3
BATCH = 5_000
AGGREGATE_SQL = (
    "SELECT subject_id, indicator, count(*), avg(number), max(period_start) "
    "FROM alerts_reading GROUP BY subject_id, indicator"
)

Row = tuple[str, str, str, str]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=local_tz())


def fed_at(month: date) -> datetime:
    """A month's readings arrive on the 5th of the next month."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 5)
    return at(following, 9, 30)


NOW = at(date(2026, 1, 6), 10)


def fill(district_id: int) -> tuple[list[int], int, float]:
    """The enterprises, their subjects and their readings: (subject ids in the order of
    `readings`, readings stored, seconds to insert them)."""
    towns = list(
        Unit.objects.filter(district_id=district_id, kind=Unit.Kind.TERRITORIAL).values_list(
            "pk", flat=True
        )
    )
    Enterprise.objects.bulk_create(
        (
            Enterprise(
                district_id=district_id,
                credit_code=credit_code(2_000_000 + i),
                name=f"企业{i:05d}",
                town_id=towns[i % len(towns)],
            )
            for i in range(SUBJECTS)
        ),
        batch_size=BATCH,
    )
    enterprises = list(
        Enterprise.objects.filter(district_id=district_id, name__startswith="企业")
        .order_by("credit_code")
        .values_list("pk", flat=True)
    )
    first_seen = at(date(2025, 2, 5), 9, 30)
    RiskSubject.objects.bulk_create(
        (
            RiskSubject(district_id=district_id, enterprise_id=pk, first_seen_at=first_seen)
            for pk in enterprises
        ),
        batch_size=BATCH,
    )
    subjects = list(
        RiskSubject.objects.filter(district_id=district_id)
        .order_by("enterprise__credit_code")
        .values_list("pk", flat=True)
    )
    t0 = time.perf_counter()
    rows = readings(district_id, subjects)
    with transaction.atomic():
        count = copy_in(rows) if connection.vendor == "postgresql" else insert_many(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return subjects, count, time.perf_counter() - t0


COLUMNS = (
    "district_id",
    "source",
    "external_id",
    "subject_id",
    "indicator",
    "period_start",
    "period_end",
    "number",
    "text",
    "reported_at",
    "received_at",
)


INSERT_SQL = (
    "INSERT INTO alerts_reading (district_id, source, external_id, subject_id, indicator, "
    "period_start, period_end, number, text, reported_at, received_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
COPY_SQL = (
    "COPY alerts_reading (district_id, source, external_id, subject_id, indicator, "
    "period_start, period_end, number, text, reported_at, received_at) FROM STDIN"
)


def readings(district_id: int, subjects: list[int]) -> Iterator[tuple[Any, ...]]:
    """Every reading as a row of COLUMNS (seeded, so every run stores the same)."""
    rng = random.Random(20_250_106)
    ends = {
        m: (date(m.year + m.month // 12, m.month % 12 + 1, 1) - timedelta(days=1)) for m in MONTHS
    }
    for n, subject_id in enumerate(subjects):
        workers = rng.randint(8, 300)
        decline = (
            RED_DECLINE
            if n % 200 == 0
            else {Indicator.ELECTRICITY_KWH}
            if n % 200 == 100
            else set()
        )
        for indicator, (source, level) in INDICATORS.items():
            base = workers * level * rng.uniform(0.7, 1.3)
            for month in MONTHS:
                falls = indicator in decline and month == MONTHS[-1]
                if indicator is Indicator.REGISTERED_WORKERS:
                    number = Decimal(round(base * rng.uniform(0.96, 1.04)))
                elif falls and indicator is Indicator.WAGE_ACCOUNT_PAYROLL:
                    number = Decimal("0.00")
                else:
                    value = base * rng.uniform(0.85, 1.15) * (0.3 if falls else 1.0)
                    number = Decimal(f"{value:.2f}")
                when = fed_at(month)
                yield (
                    district_id,
                    source,
                    f"{subject_id}/{indicator.value}/{month:%Y-%m}",
                    subject_id,
                    indicator.value,
                    month,
                    ends[month],
                    number,
                    "",
                    when,
                    when,
                )


def copy_in(rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY the rows into alerts_reading (PostgreSQL)."""
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def insert_many(rows: Iterator[tuple[Any, ...]]) -> int:
    """INSERT the rows in batches with executemany (SQLite: `bulk_create` is held to 999
    parameters a statement, 90 rows, and builds a model object per row)."""
    count = 0
    sql = INSERT_SQL
    ops = connection.ops
    batch: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for row in rows:
            *head, start, end, number, text, reported, received = row
            batch.append(
                (
                    *head,
                    ops.adapt_datefield_value(start),
                    ops.adapt_datefield_value(end),
                    ops.adapt_decimalfield_value(number, 16, 2),
                    text,
                    ops.adapt_datetimefield_value(reported),
                    ops.adapt_datetimefield_value(received),
                )
            )
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        cursor.executemany(sql, batch)
        count += len(batch)
    return count


def aggregate() -> int:
    with connection.cursor() as cursor:
        cursor.execute(AGGREGATE_SQL)
        return len(cursor.fetchall())


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The shortest of `repeat` runs of `fn` (seconds), and that run's result."""
    fastest, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        if seconds < fastest:
            fastest, result = seconds, out
    return fastest, result


@contextmanager
def phases() -> Iterator[dict[str, float]]:
    """Time spent in the parts of a scoring run (wrapping them; the product is unchanged)."""
    spent: dict[str, float] = defaultdict(float)
    wrapped = [
        (service, "_assess_batch", "read and assess"),
        (domain, "assess", "rules"),
        (QuerySet, "bulk_update", "store scores (bulk_update)"),
        (service, "_warnings_follow", "warnings"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _key in wrapped]

    def timer(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t0

        return run

    for (owner, name, key), (_o, _n, original) in zip(wrapped, originals, strict=True):
        setattr(owner, name, timer(original, key))
    try:
        yield spent
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def score(district_id: int, now: datetime) -> service.ScoreRun:
    run = service.risk_score(district_id=district_id, now=now)
    if run.scored != SUBJECTS:
        raise SystemExit(f"error: {run.scored:,} subjects scored, not {SUBJECTS:,}")
    return run


def warned(subjects: list[int]) -> dict[int, str]:
    """The subjects that decline, and the level their scores reach."""
    return {
        pk: "red" if n % 200 == 0 else "yellow"
        for n, pk in enumerate(subjects)
        if n % 200 in (0, 100)
    }


def bench_risk(district_id: int, rows: list[Row]) -> list[str]:
    subjects, count, insert_s = fill(district_id)
    if count != READINGS:
        raise SystemExit(f"error: {count:,} readings stored, not {READINGS:,}")
    agg_s, groups = best(aggregate, AGGREGATE_REPEAT)
    if groups != SUBJECTS * len(INDICATORS):
        raise SystemExit(f"error: the aggregate has {groups:,} groups")
    baseline = f"{agg_s * 1000:,.0f} ms ({groups:,} groups, best of {AGGREGATE_REPEAT})"

    expected = warned(subjects)
    t0 = time.perf_counter()
    first = score(district_id, NOW)
    first_s = time.perf_counter() - t0
    if first.opened != len(expected):
        raise SystemExit(f"error: {first.opened} warnings opened, not {len(expected)}")
    rows.append(
        (
            f"first scoring: {SUBJECTS:,} subjects, {READINGS:,} readings, "
            f"{first.opened} warnings opened",
            f"{first_s:,.2f} s ({READINGS / first_s:,.0f} readings/s)",
            baseline,
            f"{first_s / agg_s:.1f}x",
        )
    )

    rescore: list[tuple[float, dict[str, float]]] = []
    for k in range(RESCORE_REPEAT):
        with phases() as spent:
            t0 = time.perf_counter()
            again = score(district_id, NOW + timedelta(days=k + 1))
            rescore.append((time.perf_counter() - t0, dict(spent)))
        if again.opened or again.raised:
            raise SystemExit("error: a rescoring opened or raised warnings")
    rescore_s, spent = min(rescore, key=lambda r: r[0])

    tracemalloc.start()
    tracemalloc.reset_peak()
    score(district_id, NOW + timedelta(days=RESCORE_REPEAT + 1))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    levels = dict(
        RiskSubject.objects.filter(district_id=district_id)
        .exclude(level="")
        .values("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    rules_s = spent.get("rules", 0.0)
    read_s = spent.get("read and assess", 0.0) - rules_s
    store_s = spent.get("store scores (bulk_update)", 0.0)
    warn_s = spent.get("warnings", 0.0)
    other_s = rescore_s - read_s - rules_s - store_s - warn_s
    rows += [
        (
            f"rescoring the same (best of {RESCORE_REPEAT}, nothing opened)",
            f"{rescore_s:,.2f} s ({READINGS / rescore_s:,.0f} readings/s, "
            f"{rescore_s / SUBJECTS * 1000:.2f} ms/subject)",
            baseline,
            f"{rescore_s / agg_s:.1f}x",
        ),
        (
            "- of it: reading readings + building facts / rules / bulk_update / warnings / rest",
            f"{read_s:.2f} / {rules_s:.2f} / {store_s:.2f} / {warn_s:.2f} / {other_s:.2f} s",
            "-",
            f"{store_s / rescore_s:.0%} in bulk_update",
        ),
        (
            "peak memory of a rescoring (tracemalloc)",
            f"{peak / 2**20:,.1f} MiB ({peak / SUBJECTS / 1024:.1f} KiB/subject)",
            "-",
            "-",
        ),
    ]
    got = dict(
        RiskSubject.objects.filter(district_id=district_id)
        .exclude(level="")
        .values_list("pk", "level")
    )
    if got != expected:
        raise SystemExit(f"error: {len(got)} subjects at a warning level, not {len(expected)}")
    return [
        f"setup: {READINGS:,} readings inserted in {insert_s:.1f} s "
        f"({'COPY' if connection.vendor == 'postgresql' else 'executemany'}, then ANALYZE)",
        f"levels after scoring: {levels}; warnings: "
        f"{EarlyWarning.objects.filter(district_id=district_id).count()}",
    ]


def main() -> None:
    setup_test_environment()
    from django.test.utils import get_runner

    runner = get_runner(django.conf.settings)(verbosity=0, interactive=False)
    old = runner.setup_databases()
    try:
        district = demo.load_reference()
        rows: list[Row] = []
        notes = bench_risk(district.pk, rows)
        print(f"\n### Early-warning scoring, {SUBJECTS:,} enterprises ({connection.vendor})\n")
        print("| benchmark | figure | baseline: SQL aggregate (same run) | ratio |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
            table.record("risk", *row)
        print()
        for note in notes:
            print(note)
    finally:
        runner.teardown_databases(old)


if __name__ == "__main__":
    main()
