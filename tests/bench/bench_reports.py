"""Benchmark of the monthly statistics and the unit ranking over a million cases (PostgreSQL),
beside a plain `SELECT count(*) FROM incidents_case` measured in the same run.

The data (`tests/bench/reports_data.py`): one district with 12 units, BENCH_CASES cases
(default 1,000,000) registered over five years (2021-12 .. 2026-11, Asia/Shanghai), each with
the events of its path (registration, dispatch, acceptance, then resolved and closed for
~90%, escalated for ~6%, advanced from the petition account for ~1%, merged or rejected for
~1%, still open for ~2%; ~10% re-dispatched, ~3% with an overdue clock), about 5.2 events a
case, written with `INSERT ... SELECT ... FROM generate_series`, then VACUUM ANALYZE.

Figures, each the best of 3 wall-clock runs after a warm-up:

1. the baseline, `SELECT count(*) FROM incidents_case` through `connection.cursor()`;
2. `monthly_report` for 2026-05, and for 2026-01..2026-05 (the range adds a monthly series);
3. `ranking_compute` for 2026-05.

Ratios are figure / count(*). Peak Python memory is of one more run under tracemalloc (its time
is not used). The SQL of one more run is captured (`CaptureQueriesContext`), each distinct
statement run again under `EXPLAIN (ANALYZE, BUFFERS)`; the top of each plan is printed, with
its execution time and any sequential scan of incidents_case or incidents_event flagged. The
figures are checked against the cases table (cases received, handled, concluded).

PostgreSQL only: the server is BENCH_POSTGRES_URL, else DATABASE_URL when it names a
PostgreSQL server, else postgres://postgres@127.0.0.1:5432/postgres. With no server answering
the benchmark prints a SKIPPED line and exits 0 (1 when CI=true). It makes its own database
(BENCH_DB_NAME, default hub_bench_reports: dropped first if it exists, migrated) and drops
it at the end unless KEEP_DB=1.

Run: `make bench`, or `BENCH_CASES=100000 .venv/bin/python tests/bench/bench_reports.py` for a
quick try. Generation progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="hub-bench-"))
os.environ["EMBEDDED_SWEEP"] = "false"

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = os.environ.get("BENCH_DB_NAME", "hub_bench_reports")
CASES = int(os.environ.get("BENCH_CASES", "1000000"))
KEEP_DB = os.environ.get("KEEP_DB", "") == "1"
REPEAT = 3
MONTH = date(2026, 5, 1)
RANGE = (date(2026, 1, 1), date(2026, 5, 1))
COUNT_SQL = "SELECT count(*) FROM incidents_case"
PLAN_TOP_LINES = 14
SEQ_SCAN = re.compile(r"Seq Scan on (incidents_event|incidents_case)\b")
INDEX_USED = re.compile(
    r"(?:Index Only Scan(?: Backward)? using|Index Scan(?: Backward)? using"
    r"|Bitmap Index Scan on) (\w+)"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the database ---------------------------------------------------------------------------


def server_url() -> str:
    explicit = os.environ.get("BENCH_POSTGRES_URL", "")
    if explicit:
        return explicit
    current = os.environ.get("DATABASE_URL", "")
    if current.startswith(("postgres://", "postgresql://")):
        return current
    return DEFAULT_SERVER


def url_of(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def shown(url: str) -> str:
    """The URL with its password, if any, hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def unavailable(server: str, why: str) -> NoReturn:
    if os.environ.get("CI", "") == "true":
        print(f"PostgreSQL is not reachable at {shown(server)} ({why}) and CI=true: failing.")
        sys.exit(1)
    print(
        f"SKIPPED: reports benchmark, no PostgreSQL at {shown(server)} ({why}); "
        "set BENCH_POSTGRES_URL to run it."
    )
    sys.exit(0)


def database_create(server: str) -> None:
    """Drop and create the benchmark's database; SKIPPED (or CI failure) with no server."""
    try:
        import psycopg
        from psycopg import sql

        with psycopg.connect(url_of(server, "postgres"), connect_timeout=3, autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME))
            )
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    except Exception as exc:
        unavailable(server, str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))


def database_drop(server: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url_of(server, "postgres"), connect_timeout=3, autocommit=True) as c:
        c.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME))
        )


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Query:
    label: str
    sql: str
    calls: int = 0
    seconds: float = 0.0


@dataclass
class Figure:
    name: str
    run: Callable[[], Any]
    best_s: float = 0.0
    peak: int = 0
    queries: list[Query] = field(default_factory=list)
    statements: int = 0


def best(fn: Callable[[], Any], repeat: int = REPEAT) -> float:
    """The shortest wall time of `repeat` runs of `fn`, after one warm-up run."""
    fn()
    fastest = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest


def peak_memory(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def caller() -> str:
    """Where in command_center/reports.py the statement being run comes from."""
    target = os.path.join("command_center", "reports.py")
    for frame in reversed(traceback.extract_stack()):
        if frame.filename.endswith(target):
            return f"{frame.name} (reports.py:{frame.lineno})"
    return "(outside reports.py)"


@contextmanager
def labelled() -> Iterator[list[tuple[str, float]]]:
    """Each statement run inside: where it comes from, and its wall time (execute + fetch of
    the rows into the driver; Django's own capture rounds to the millisecond)."""
    from django.db import connection

    seen: list[tuple[str, float]] = []

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        label = caller()
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((label, time.perf_counter() - t0))

    with connection.execute_wrapper(wrapper):
        yield seen


def shape(sql: str) -> str:
    """The statement with its numbers and literals folded, to group repeated chunks."""
    folded = re.sub(r"'[^']*'", "'?'", sql)
    folded = re.sub(r"\b\d+(\.\d+)?\b", "N", folded)
    return re.sub(r"N(, N)+", "N...", folded)


def captured(fn: Callable[[], Any]) -> tuple[list[Query], int]:
    """The distinct statements of one run of `fn` (by where they come from and their shape),
    in the order first run, with how often and how long each ran; and the statement count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx, labelled() as seen:
        fn()
    if len(seen) != len(ctx.captured_queries):
        seen = [("?", float(q["time"])) for q in ctx.captured_queries]
    groups: dict[tuple[str, str], Query] = {}
    for (label, seconds), q in zip(seen, ctx.captured_queries, strict=True):
        key = (label, shape(q["sql"]))
        query = groups.setdefault(key, Query(label=label, sql=q["sql"]))
        query.calls += 1
        query.seconds += seconds
    return list(groups.values()), len(ctx.captured_queries)


@dataclass
class Plan:
    top: list[str]
    execution_ms: float | None
    planning_ms: float | None
    seq_scans: list[str]
    indexes: list[str]


def explain(sql: str) -> Plan:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
    text = "\n".join(lines)

    def ms(name: str) -> float | None:
        match = re.search(rf"{name}: ([\d.]+) ms", text)
        return float(match[1]) if match else None

    # The top node and its buffers, then every node below it (their details left out).
    nodes = [lines[0]]
    nodes += [line for line in lines[1:] if line.startswith("  Buffers:")][:1]
    nodes += [line for line in lines[1:] if "->" in line]
    return Plan(
        top=[line if len(line) <= 170 else line[:167] + "..." for line in nodes[:PLAN_TOP_LINES]],
        execution_ms=ms("Execution Time"),
        planning_ms=ms("Planning Time"),
        seq_scans=[line.strip() for line in lines if SEQ_SCAN.search(line)],
        indexes=sorted(set(INDEX_USED.findall(text))),
    )


# --- the run --------------------------------------------------------------------------------


def baseline() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL)
        row = cursor.fetchone()
    return int(row[0])


def expected(district_id: int, first: date, last: date) -> dict[str, int]:
    """The window's figures read from the cases table (what the log-derived report must say)."""
    from django.db import connection

    from command_center.reports import window_for

    window = window_for(first, last)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE created_at >= %(start)s),
                count(*) FILTER (WHERE finished_at IS NULL OR finished_at >= %(end)s
                                 OR state NOT IN ('merged', 'rejected')),
                count(*) FILTER (WHERE finished_at < %(end)s
                                 AND state NOT IN ('merged', 'rejected'))
            FROM incidents_case
            WHERE district_id = %(d)s AND created_at < %(end)s
              AND (finished_at IS NULL OR finished_at >= %(start)s)
            """,
            {"d": district_id, "start": window.start, "end": window.end},
        )
        received, handled, concluded = cursor.fetchone()
    return {"received": received, "handled": handled, "concluded": concluded}


def check(district_id: int) -> list[str]:
    """The report's figures against the cases table; a summary of both windows and the ranking."""
    from command_center.reports import monthly_report, ranking_compute, window_for

    notes = []
    for first, last in ((MONTH, MONTH), RANGE):
        report = monthly_report(district_id=district_id, window=window_for(first, last))
        c = report.closure
        got = {
            "received": report.receipts.cases_received,
            "handled": c.overall.handled,
            "concluded": c.overall.concluded,
        }
        want = expected(district_id, first, last)
        if got != want:
            raise SystemExit(
                f"error: {report.window.label}: the report says {got}, the cases {want}"
            )
        r = report.receipts
        notes.append(
            f"- {report.window.label}: {r.cases_received:,} received ({r.construction_cases:,} "
            f"construction, {r.workers:,} workers, {r.amount_owed:,} yuan owed; prior year "
            f"{report.prior.cases_received if report.prior else 0:,}); handled "
            f"{c.overall.handled:,}, concluded {c.overall.concluded:,} (closure rate "
            f"{c.overall.closure_rate}), open at the end {c.open_at_end:,} ({c.long_open:,} "
            f"long open); fund advanced {report.fund_advanced:,}, recovered "
            f"{report.fund_recovered:,}; {len(report.series)} monthly series points. "
            "Received, handled and concluded match the cases table."
        )
    rows = ranking_compute(district_id=district_id, month=MONTH)
    ranked = ", ".join(
        f"{r.rank}. {r.unit.code} {r.score} ({r.self_resolved}/{r.cases}, "
        f"{r.fund_advances} adv, {r.overdue} overdue)"
        for r in rows
    )
    notes.append(f"- ranking {MONTH:%Y-%m}: {ranked}")
    return notes


def sizes() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_size_pretty(pg_table_size(oid)), "
            "pg_size_pretty(pg_indexes_size(oid)) FROM pg_class "
            "WHERE relname IN ('incidents_case', 'incidents_event') ORDER BY relname"
        )
        return "; ".join(f"{t}: {h} table + {i} indexes" for t, h, i in cursor.fetchall())


def server_settings() -> str:
    from django.db import connection

    names = ["server_version", "shared_buffers", "work_mem", "effective_cache_size", "jit"]
    with connection.cursor() as cursor:
        values = []
        for name in names:
            cursor.execute(f"SHOW {name}")
            values.append(f"{name}={cursor.fetchone()[0]}")
    return ", ".join(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.2f} s"


def bench(district_id: int) -> list[Figure]:
    from command_center.reports import monthly_report, ranking_compute, window_for

    month = window_for(MONTH)
    months = window_for(*RANGE)
    figures = [
        Figure(f"`{COUNT_SQL}` (baseline)", baseline),
        Figure(
            f"`monthly_report` {month.label}",
            lambda: monthly_report(district_id=district_id, window=month),
        ),
        Figure(
            f"`monthly_report` {months.label} (5 months)",
            lambda: monthly_report(district_id=district_id, window=months),
        ),
        Figure(
            f"`ranking_compute` {MONTH:%Y-%m}",
            lambda: ranking_compute(district_id=district_id, month=MONTH),
        ),
    ]
    for figure in figures:
        log(f"measuring {figure.name} (load average {os.getloadavg()[0]:.1f})")
        figure.best_s = best(figure.run)
        figure.peak = peak_memory(figure.run)
        figure.queries, figure.statements = captured(figure.run)
    return figures


def print_table(figures: list[Figure], cases: int, events: int) -> None:
    from tests.bench import table

    base = figures[0].best_s
    print(f"\n### Reports over {cases:,} cases and {events:,} events (PostgreSQL)\n")
    print(
        f"| figure | time (best of {REPEAT}, after a warm-up) | ratio to count(*) "
        "| SQL statements | peak Python memory (tracemalloc) |"
    )
    print("|---|---|---|---|---|")
    for f in figures:
        print(
            f"| {f.name} | {ms(f.best_s)} | {f.best_s / base:,.1f}x | {f.statements} "
            f"| {f.peak / 2**20:,.1f} MiB |"
        )
    for f in figures[1:]:
        table.record(
            "reports",
            f"{f.name} over {cases:,} cases (best of {REPEAT}; {f.statements} statements)",
            ms(f.best_s),
            f"{ms(base)} (`{COUNT_SQL}`)",
            f"{f.best_s / base:,.1f}x",
        )


def print_explains(figures: list[Figure]) -> list[str]:
    """EXPLAIN every distinct statement of each report; returns the sequential scans seen."""
    flagged: list[str] = []
    for f in figures[1:]:
        print(f"\n#### EXPLAIN (ANALYZE, BUFFERS): {f.name}\n")
        print(
            "| # | statement (where in reports.py) | runs | time in the captured run "
            "| EXPLAIN execution (first run) | indexes used | Seq Scan on case/event |"
        )
        print("|---|---|---|---|---|---|---|")
        plans = []
        for n, q in enumerate(f.queries, 1):
            plan = explain(q.sql)
            plans.append((n, q, plan))
            seq = "**yes**: " + "; ".join(plan.seq_scans) if plan.seq_scans else "no"
            if plan.seq_scans:
                flagged.append(f"{f.name} #{n} {q.label}: {'; '.join(plan.seq_scans)}")
            execution = f"{plan.execution_ms:,.1f} ms" if plan.execution_ms is not None else "?"
            print(
                f"| {n} | {q.label} | {q.calls} | {ms(q.seconds)} | {execution} "
                f"| {', '.join(plan.indexes) or '-'} | {seq} |"
            )
        for n, q, plan in plans:
            print(f"\n{n}. {q.label}: `{q.sql[:150]}{'...' if len(q.sql) > 150 else ''}`\n")
            print("```")
            for line in plan.top:
                print(line)
            print(f"Planning Time: {plan.planning_ms} ms; Execution Time: {plan.execution_ms} ms")
            print("```")
    return flagged


def main() -> None:
    server = server_url()
    database_create(server)
    os.environ["DATABASE_URL"] = url_of(server, DB_NAME)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        log(f"migrating {DB_NAME}")
        call_command("migrate", verbosity=0, interactive=False)
        from tests.bench.reports_data import fill

        log(f"generating {CASES:,} cases")
        data = fill(CASES, log=log)
        load_before = os.getloadavg()[0]
        figures = bench(data.district_id)
        load_after = os.getloadavg()[0]
        notes = check(data.district_id)
        print_table(figures, data.cases, data.events)
        print()
        print(
            f"- data: {data.cases:,} cases, {data.events:,} events "
            f"({data.events / data.cases:.2f} a case), generated in {data.total_s:,.1f} s: "
            + "; ".join(f"{k} {v:.1f} s" for k, v in data.seconds.items())
        )
        print(f"- sizes: {sizes()}")
        print(
            f"- server: {server_settings()}; {os.cpu_count()} CPUs, load average (1 min) "
            f"{load_before:.1f} before the measurements, {load_after:.1f} after"
        )
        for note in notes:
            print(note)
        flagged = print_explains(figures)
        print()
        if flagged:
            print("Sequential scans of incidents_case or incidents_event:")
            for line in flagged:
                print(f"- {line}")
        else:
            print("No sequential scan of incidents_case or incidents_event in the reports' plans.")
        connections.close_all()
    finally:
        if KEEP_DB:
            log(f"kept the database: {shown(url_of(server, DB_NAME))}")
        else:
            try:
                from django.db import connections

                connections.close_all()
            except Exception as exc:
                log(f"closing connections: {exc}")
            database_drop(server)


if __name__ == "__main__":
    main()
