"""EXPLAIN proof of the indexes on 1,000,000 cases: the SQL the hub really runs for the
dashboard, the case list and its filters, the clock sweep, the ranking and the monthly report,
each statement run again under `EXPLAIN (ANALYZE, BUFFERS)`.

The data: the reports benchmark's (`tests/bench/reports_data.py`: one district, BENCH_CASES
cases, default 1,000,000, and ~5.2 events a case) in its database (BENCH_DB_NAME, default
hub_bench_reports), reused when it already holds them (`make bench` keeps it), else made.
Added here once, with set-based SQL, what the reports do not need: the clocks (a met dispatch
clock per dispatched case; a commitment clock per accepted case, running while the case is
accepted, overdue where the log says so, met otherwise), the stream entries (every event in
its district's stream and its unit's), and two people (command staff; the housing bureau's
liaison).

What runs, each captured with `CaptureQueriesContext` through the real code paths:
- the dashboard page and its panels endpoint (through Django's test client), as command
  staff and as the liaison;
- `GET /api/v1/cases` with each filter (state, unit, town, channel, overdue and not, a date
  range, several at once), its first page and a deep one; as the liaison too; and the case
  list page;
- `clocks_sweep` (in a transaction rolled back afterwards): its due-clock query;
- `ranking_compute` and `monthly_report` for 2026-05.

Each distinct SELECT that reads a big table (cases, events, stream entries, clocks) is
explained; its plan goes to `var/explain/<scenario>.txt` (BENCH_EXPLAIN_DIR to put them
elsewhere). A sequential scan of a big table fails the benchmark unless the scenario is
listed in MUST_READ_ALL with the reason it must read every row. Each scenario's time (best of
3 after the captured run) is recorded beside an index-only `count(*)` of the cases table
measured in the same run.

PostgreSQL only: the server is BENCH_POSTGRES_URL, else DATABASE_URL when it names a
PostgreSQL server, else postgres://postgres@127.0.0.1:5432/postgres. With no server the
benchmark prints a SKIPPED line and exits 0 (1 when CI=true).

Run: `make bench BENCH_ARGS="--only explain"`, or `.venv/bin/python tests/bench/bench_explain.py`.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="hub-bench-"))
os.environ["EMBEDDED_SWEEP"] = "false"

from tests.bench.bench_reports import server_url, shown, url_of  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB_NAME", "hub_bench_reports")
CASES = int(os.environ.get("BENCH_CASES", "1000000"))
OUT_DIR = Path(os.environ.get("BENCH_EXPLAIN_DIR") or ROOT / "var" / "explain")
DISTRICT_CODE = "bench_reports"  # reports_data's district
MONTH = date(2026, 5, 1)
BASELINE_SQL = "SELECT count(*) FROM incidents_case"
REPEAT = 3
SWEEP_DUE = 3  # clocks the sweep finds due in a run
BIG_TABLES = ("incidents_case", "incidents_event", "incidents_streamentry", "incidents_clock")
SEQ_SCAN = re.compile(r"Seq Scan on (" + "|".join(BIG_TABLES) + r")\b")
INDEX_USED = re.compile(
    r"(?:Index Only Scan(?: Backward)? using|Index Scan(?: Backward)? using"
    r"|Bitmap Index Scan on) (\w+)"
)
COMMAND = "bench_command"
LIAISON = "bench_liaison"
LIAISON_UNIT = "housing"
# Scenarios that must read every row of a big table, and why (their Seq Scans are allowed).
MUST_READ_ALL: dict[str, str] = {
    "cases_not_overdue": "its count is of every case without a late clock: NOT EXISTS visits "
    "every case of the district, and a scan of the table is the cheapest way to",
}
# Scenarios whose total count alone may read the table (the page itself must use indexes):
# the housing bureau's liaison sees a fifth of the data set's cases.
COUNT_MAY_READ_ALL: dict[str, str] = {
    name: "only its total count, of the 21% of all cases the housing bureau leads or "
    "assists: reading a fifth of the table is cheapest as a scan; the page uses indexes"
    for name in ("cases_liaison", "cases_liaison_deep")
}


def is_count(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT COUNT(*)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def unavailable(server: str, why: str) -> NoReturn:
    if os.environ.get("CI", "") == "true":
        print(f"PostgreSQL is not reachable at {shown(server)} ({why}) and CI=true: failing.")
        sys.exit(1)
    print(
        f"SKIPPED: EXPLAIN benchmark, no PostgreSQL at {shown(server)} ({why}); "
        "it needs PostgreSQL: set BENCH_POSTGRES_URL to run it."
    )
    sys.exit(0)


# --- the data -------------------------------------------------------------------------------


def existing_cases(server: str) -> int:
    """How many cases the benchmark district holds in DB_NAME (0 when there is none)."""
    import psycopg

    try:
        with psycopg.connect(url_of(server, "postgres"), connect_timeout=3) as c:
            found = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
    except Exception as exc:
        unavailable(server, str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    if not found:
        return 0
    with psycopg.connect(url_of(server, DB_NAME), connect_timeout=3) as c:
        if c.execute("SELECT to_regclass('incidents_case')").fetchone() == (None,):
            return 0
        row = c.execute(
            "SELECT count(*) FROM incidents_case WHERE district_id = "
            "(SELECT id FROM incidents_district WHERE code = %s)",
            [DISTRICT_CODE],
        ).fetchone()
    return int(row[0]) if row else 0


def database_create(server: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url_of(server, "postgres"), connect_timeout=3, autocommit=True) as c:
        c.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME))
        )
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


CLOCKS_SQL = """
INSERT INTO incidents_clock (case_id, kind, status, started_at, due_at, stopped_at, overdue_at)
SELECT c.id, 'dispatch', 'met', c.received_at, c.received_at + INTERVAL '8 hours',
    c.dispatched_at, NULL
FROM incidents_case c
WHERE c.district_id = %(d)s AND c.dispatched_at IS NOT NULL;

INSERT INTO incidents_clock (case_id, kind, status, started_at, due_at, stopped_at, overdue_at)
SELECT c.id, 'commitment',
    CASE WHEN c.state = 'accepted' AND o."at" IS NOT NULL THEN 'overdue'
        WHEN c.state = 'accepted' THEN 'running' ELSE 'met' END,
    c.accepted_at, c.accepted_at + INTERVAL '7 days',
    CASE WHEN c.state <> 'accepted'
        THEN coalesce(c.finished_at, c.accepted_at + INTERVAL '3 days') END,
    o."at"
FROM incidents_case c
LEFT JOIN (
    SELECT case_id, min("at") AS "at" FROM incidents_event
    WHERE district_id = %(d)s AND kind = 'clock.overdue' GROUP BY case_id
) o ON o.case_id = c.id
WHERE c.district_id = %(d)s AND c.accepted_at IS NOT NULL;
"""

STREAMS_SQL = """
INSERT INTO incidents_streamentry (stream, event_id, prev)
SELECT 'district.' || district_id, id, coalesce(lag(id) OVER (ORDER BY id), 0)
FROM incidents_event WHERE district_id = %(d)s;

INSERT INTO incidents_streamentry (stream, event_id, prev)
SELECT 'unit.' || (data ->> 'unit_id'), id,
    coalesce(lag(id) OVER (PARTITION BY data ->> 'unit_id' ORDER BY id), 0)
FROM incidents_event
WHERE district_id = %(d)s AND jsonb_typeof(data -> 'unit_id') = 'number';
"""


def extras(district_id: int) -> None:
    """Clocks, stream entries and two people, once (the reports' data has none)."""
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from incidents.domain.lifecycle import Role
    from incidents.models import Clock, Membership, StreamEntry, Unit

    with connection.cursor() as cursor:
        if not Clock.objects.filter(case__district_id=district_id).exists():
            t0 = time.perf_counter()
            cursor.execute(CLOCKS_SQL, {"d": district_id})
            log(f"  clocks: {time.perf_counter() - t0:.1f} s")
        if not StreamEntry.objects.filter(stream=f"district.{district_id}").exists():
            t0 = time.perf_counter()
            cursor.execute("SET work_mem = '256MB'")
            cursor.execute(STREAMS_SQL, {"d": district_id})
            cursor.execute("RESET work_mem")
            log(f"  stream entries: {time.perf_counter() - t0:.1f} s")
        for table in ("incidents_clock", "incidents_streamentry"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    for username, role, unit in (
        (COMMAND, Role.COMMAND, None),
        (LIAISON, Role.LIAISON, Unit.objects.get(district_id=district_id, code=LIAISON_UNIT)),
    ):
        user, _created = User.objects.get_or_create(username=username)
        user.groups.set([Group.objects.get_or_create(name=role.value)[0]])
        Membership.objects.update_or_create(
            user=user, defaults={"district_id": district_id, "unit": unit, "window": None}
        )


# --- capturing and explaining ---------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    calls: int = 1
    plan: list[str] = field(default_factory=list)
    execution_ms: float = 0.0
    seq_scans: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    title: str
    run: Callable[[], Any]
    best_s: float = 0.0
    statements: list[Statement] = field(default_factory=list)
    total_statements: int = 0

    @property
    def sql_ms(self) -> float:
        return sum(s.execution_ms for s in self.statements)

    @property
    def seq_scans(self) -> list[str]:
        return [scan for s in self.statements for scan in s.seq_scans]


def shape(sql: str) -> str:
    folded = re.sub(r"'[^']*'", "'?'", sql)
    folded = re.sub(r"\b\d+(\.\d+)?\b", "N", folded)
    return re.sub(r"N(, N)+", "N...", folded)


def reads_big_table(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT") and any(
        re.search(rf'"{t}"|\b{t}\b', sql) for t in BIG_TABLES
    )


def capture(scenario: Scenario) -> None:
    """One run of the scenario: its distinct SELECTs of the big tables, in order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        scenario.run()
    scenario.total_statements = len(ctx.captured_queries)
    seen: dict[str, Statement] = {}
    for q in ctx.captured_queries:
        if not reads_big_table(q["sql"]):
            continue
        key = shape(q["sql"])
        if key in seen:
            seen[key].calls += 1
        else:
            seen[key] = Statement(sql=q["sql"])
    scenario.statements = list(seen.values())


def explain(statement: Statement) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql)
        statement.plan = [row[0] for row in cursor.fetchall()]
    text = "\n".join(statement.plan)
    match = re.search(r"Execution Time: ([\d.]+) ms", text)
    statement.execution_ms = float(match[1]) if match else 0.0
    statement.seq_scans = [line.strip() for line in statement.plan if SEQ_SCAN.search(line)]
    statement.indexes = sorted(set(INDEX_USED.findall(text)))


def best(fn: Callable[[], Any]) -> float:
    fastest = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest


def count_baseline() -> float:
    from django.db import connection

    def count() -> None:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            cursor.fetchone()

    count()
    return best(count)


def write_plans(scenario: Scenario) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{scenario.name}.txt"
    lines = [
        f"# {scenario.title}",
        f"# {scenario.total_statements} statements in the request; best of {REPEAT}: "
        f"{scenario.best_s * 1000:,.1f} ms; {len(scenario.statements)} distinct SELECTs of "
        "the big tables below",
        "",
    ]
    for n, s in enumerate(scenario.statements, 1):
        lines += [f"-- {n}. run {s.calls}x; execution {s.execution_ms:,.3f} ms", s.sql, ""]
        lines += [*s.plan, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- the scenarios --------------------------------------------------------------------------


def get(client: Any, url: str) -> Callable[[], Any]:
    def run() -> Any:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"error: GET {url}: {response.status_code} {response.content[:300]!r}")
        return response

    return run


def sweep_rolled_back() -> None:
    """The sweep as it runs, its writes undone (so that every run finds the same clocks).

    Its `now` is just after the SWEEP_DUE-th earliest running clock's due time, so that a run
    marks that many (its other statements, one set a clock, are then few)."""
    from django.db import transaction

    from incidents.models import Clock
    from incidents.services import clocks_sweep

    due = (
        Clock.objects.filter(status=Clock.Status.RUNNING)
        .order_by("due_at")
        .values_list("due_at", flat=True)[SWEEP_DUE - 1 : SWEEP_DUE]
    )
    now = due[0] + timedelta(microseconds=1)

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            clocks_sweep(now=now, batch=500)
            raise Undo
    except Undo:
        pass


def scenarios(district_id: int) -> list[Scenario]:
    from django.contrib.auth.models import User
    from django.test import Client

    from command_center.reports import monthly_report, ranking_compute, window_for
    from incidents.models import Unit

    command, liaison = Client(), Client()
    command.force_login(User.objects.get(username=COMMAND))
    liaison.force_login(User.objects.get(username=LIAISON))
    town = Unit.objects.filter(district_id=district_id, kind=Unit.Kind.TERRITORIAL).order_by("code")
    town_code = town.values_list("code", flat=True).first()
    month = window_for(MONTH)
    api = "/api/v1/cases"
    deep = CASES // 2 // 50  # the middle of the list, 50 a page
    return [
        Scenario("dashboard_command", "dashboard page, command staff", get(command, "/")),
        Scenario(
            "dashboard_panels_command",
            "dashboard panels endpoint, command staff",
            get(command, "/dashboard/panels/"),
        ),
        Scenario("dashboard_liaison", "dashboard page, housing liaison", get(liaison, "/")),
        Scenario("cases_first_page", "GET /api/v1/cases (first page)", get(command, api)),
        Scenario(
            "cases_deep_page",
            f"GET /api/v1/cases?page={deep} (deep page)",
            get(command, f"{api}?page={deep}"),
        ),
        Scenario("cases_state", "cases: state=accepted", get(command, f"{api}?state=accepted")),
        Scenario("cases_state_closed", "cases: state=closed", get(command, f"{api}?state=closed")),
        Scenario("cases_unit", "cases: unit=housing", get(command, f"{api}?unit={LIAISON_UNIT}")),
        Scenario("cases_town", f"cases: town={town_code}", get(command, f"{api}?town={town_code}")),
        Scenario(
            "cases_channel", "cases: channel=petition", get(command, f"{api}?channel=petition")
        ),
        Scenario("cases_overdue", "cases: overdue=true", get(command, f"{api}?overdue=true")),
        Scenario("cases_not_overdue", "cases: overdue=false", get(command, f"{api}?overdue=false")),
        Scenario(
            "cases_date_range",
            "cases: received 2026-05-01..2026-05-31",
            get(command, f"{api}?received_from=2026-05-01&received_to=2026-05-31"),
        ),
        Scenario(
            "cases_combined",
            "cases: state=closed, unit=housing, received in 2025",
            get(
                command,
                f"{api}?state=closed&unit={LIAISON_UNIT}"
                "&received_from=2025-01-01&received_to=2025-12-31",
            ),
        ),
        Scenario("cases_liaison", "GET /api/v1/cases as the housing liaison", get(liaison, api)),
        Scenario(
            "cases_liaison_deep",
            "GET /api/v1/cases as the housing liaison, page 1000",
            get(liaison, f"{api}?page=1000"),
        ),
        Scenario("case_list_page", "the case list page /cases/", get(command, "/cases/")),
        Scenario(
            "case_list_page_filtered",
            "the case list page, state=accepted",
            get(command, "/cases/?state=accepted"),
        ),
        Scenario("clock_sweep", "clocks_sweep (rolled back)", sweep_rolled_back),
        Scenario(
            "ranking",
            f"ranking_compute {MONTH:%Y-%m}",
            lambda: ranking_compute(district_id=district_id, month=MONTH),
        ),
        Scenario(
            "monthly_report",
            f"monthly_report {month.label}",
            lambda: monthly_report(district_id=district_id, window=month),
        ),
    ]


# --- the run --------------------------------------------------------------------------------


# PostgreSQL's random_page_cost for the run (BENCH_RANDOM_PAGE_COST); EXPLAIN_ONLY=a,b runs
# only the scenarios named.
RANDOM_PAGE_COST = os.getenv("BENCH_RANDOM_PAGE_COST", "1.1")


def main() -> int:
    server = server_url()
    have = existing_cases(server)
    reuse = have >= CASES
    if not reuse:
        log(f"making {DB_NAME} ({have:,} benchmark cases there, {CASES:,} wanted)")
        database_create(server)
    os.environ["DATABASE_URL"] = url_of(server, DB_NAME)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from incidents.models import District
    from tests.bench import table

    setup_test_environment()
    log(f"migrating {DB_NAME}")
    call_command("migrate", verbosity=0, interactive=False)
    if reuse:
        log(f"reusing {DB_NAME}: {have:,} cases")
        district_id = District.objects.get(code=DISTRICT_CODE).pk
    else:
        from tests.bench.reports_data import fill

        log(f"generating {CASES:,} cases")
        district_id = fill(CASES, log=log).district_id
    extras(district_id)
    with connection.cursor() as cursor:
        # The planner's cost of a random page, as production should set it on SSD storage
        # (the README's PostgreSQL advice); PostgreSQL's default 4 is for spinning disks.
        # Set on the database: requests through the test client reconnect.
        cost = float(RANDOM_PAGE_COST)
        cursor.execute(f'ALTER DATABASE "{DB_NAME}" SET random_page_cost = {cost}')
        cursor.execute("ANALYZE")
    connection.close()
    base = count_baseline()
    print(f"\n### EXPLAIN (ANALYZE, BUFFERS) over {max(have, CASES):,} cases (PostgreSQL)\n")
    print(f"Baseline: `{BASELINE_SQL}`, best of {REPEAT}: {base * 1000:.1f} ms\n")
    print(
        "| scenario | statements (distinct big-table SELECTs) | time, best of 3 | ratio to "
        "count(*) | EXPLAIN execution, sum | slowest statement | indexes used | Seq Scan |"
    )
    print("|---|---|---|---|---|---|---|---|")
    unexpected: list[str] = []
    only = set(filter(None, os.getenv("EXPLAIN_ONLY", "").split(",")))
    for scenario in scenarios(district_id):
        if only and scenario.name not in only:
            continue
        log(f"{scenario.name}")
        scenario.run()  # warm-up
        capture(scenario)
        scenario.best_s = best(scenario.run)
        for statement in scenario.statements:
            explain(statement)
        write_plans(scenario)
        slowest = max(scenario.statements, key=lambda s: s.execution_ms, default=None)
        indexes = sorted({i for s in scenario.statements for i in s.indexes})
        scans = scenario.seq_scans
        allowed = MUST_READ_ALL.get(scenario.name)
        if (
            scans
            and scenario.name in COUNT_MAY_READ_ALL
            and all(is_count(s.sql) for s in scenario.statements if s.seq_scans)
        ):
            allowed = COUNT_MAY_READ_ALL[scenario.name]
        if scans and not allowed:
            unexpected.append(f"{scenario.name}: {'; '.join(scans)}")
        seq = "no" if not scans else ("allowed: " + allowed if allowed else "**yes**")
        print(
            f"| {scenario.title} | {scenario.total_statements} ({len(scenario.statements)}) "
            f"| {scenario.best_s * 1000:,.1f} ms | {scenario.best_s / base:,.1f}x "
            f"| {scenario.sql_ms:,.1f} ms "
            f"| {slowest.execution_ms if slowest else 0:,.1f} ms | {', '.join(indexes) or '-'} "
            f"| {seq} |"
        )
        table.record(
            "explain",
            f"{scenario.title} ({scenario.total_statements} statements; "
            f"Seq Scan on a big table: {seq})",
            f"{scenario.best_s * 1000:,.1f} ms (SQL {scenario.sql_ms:,.1f} ms)",
            f"{base * 1000:,.1f} ms (`count(*)` of incidents_case)",
            f"{scenario.best_s / base:,.2f}x",
        )
    where = OUT_DIR.relative_to(ROOT) if OUT_DIR.is_relative_to(ROOT) else OUT_DIR
    print(f"\nPlans written to {where}/.")
    if unexpected:
        print("\nFAILED: sequential scans of big tables:")
        for line in unexpected:
            print(f"- {line}")
        return 1
    print("\nNo unexpected sequential scan of cases, events, stream entries or clocks.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
