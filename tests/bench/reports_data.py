"""The data of the reports benchmark: one district, N cases over five years and their events.

Reference rows (the district, 12 units, 200 enterprises, 60 projects) go in with the ORM;
the cases and their events with set-based SQL (`INSERT ... SELECT ... FROM generate_series`),
so that a million cases take minutes, not hours. Every random draw is a hash of the case's
index (`hashint8extended`), so every run stores the same data.

What a case looks like (local time, Asia/Shanghai): registered at a working-hours moment
between 2021-12-01 and 2026-11-30, ~70% about a construction project, routed by the default
routing table (housing, transport, water, the state-owned builder, or the town), dispatched
5-120 minutes later, ~10% re-dispatched to another unit, accepted 1-72 hours later. Then:

- ~90% self-resolved: resolved 1-40 days after acceptance, closed 4-120 hours later;
- ~6% escalated: labour inspection (half of them then a joint meeting), resolved, closed;
- ~1% advanced from the petition account: inspection, joint meeting, facts confirmed,
  advance payment (with its `fund.advance`), a recovery (with its `fund.recovery`, state
  `recovering`); half of them closed once recovered, half still recovering;
- ~1% void: half merged into another case after dispatch, half rejected at registration;
- ~2% still open (dispatched, or accepted): ~37% of those registered in the last 90 days,
  0.2% of the older ones (the paths above share the rest);
- ~3% of the accepted cases have their 7-day commitment clock run out (`clock.overdue`).

The events carry what the services write (`case_number`, `state` and `unit_id` in every case
event's data; the registration's channel, town, workers, amount, construction and routing),
and their ids follow their time, as in a live log. `Case.created_at` is the registration's
`at`, `finished_at` the first finishing event's, `state` the last one's. Stream entries,
slips, clocks, reports and fund entries are not written: the reports read none of them.

The cases' and events' secondary indexes are dropped for the bulk insert and built again
from their own definitions afterwards (foreign-key triggers are off for the insert: the rows
are consistent by construction); then VACUUM ANALYZE, so that autovacuum does not start on the
fresh tables in the middle of the measurements.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import connection

from incidents.demo import BUREAUS, SOES, TOWNS
from incidents.domain import routing
from incidents.models import District, Enterprise, Project, Unit
from tests.factories import credit_code

FIRST_DAY = date(2021, 12, 1)
END_DAY = date(2026, 12, 1)  # exclusive: the cases are registered in 2021-12 .. 2026-11
TZ = "Asia/Shanghai"
PREFIX = "BR"
ENTERPRISES = 200
PROJECTS = 60
# Cases still open: a share of those registered in the last RECENT_DAYS, and a few older ones
# (~2% in all); the others' paths: ~90% self-resolved, ~6% escalated, ~1% advanced, ~1% void.
RECENT_DAYS = 90
OPEN_RECENT = 0.37
OPEN_OLDER = 0.002
BULK_TABLES = ("incidents_case", "incidents_event")
GOVERNMENT = routing.ProjectType.GOVERNMENT_INVESTMENT
HELPER_TABLES = ("bench_plan", "bench_unit", "bench_ent", "bench_proj")
# (channel, cumulative share)
CHANNELS = [
    ("window", 0.30),
    ("hotline_12345", 0.55),
    ("labour_complaint", 0.70),
    ("online", 0.82),
    ("petition", 0.90),
    ("police_110", 0.96),
    ("inspection_tip", 1.01),
]


@dataclass
class Filled:
    district_id: int
    cases: int
    events: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())


def u(salt: int) -> str:
    """SQL for a uniform draw in [0, 1) for case `g` (deterministic)."""
    return f"((hashint8extended(g, {salt}) & 2147483647)::float8 / 2147483648.0)"


def reference() -> District:
    """The district, its 12 units, enterprises and projects, with the ORM."""
    district = District.objects.create(
        code="bench_reports", case_prefix=PREFIX, name_zh="基准区", name_en="Bench District"
    )
    towns = [
        Unit.objects.create(
            district=district,
            code=code,
            kind=Unit.Kind.TERRITORIAL,
            name_zh=zh,
            name_en=en,
            lat=lat,
            lng=lng,
        )
        for code, zh, en, lat, lng in TOWNS[:8]
    ]
    for code, zh, en in BUREAUS:
        if code in {"housing", "transport", "water"}:
            Unit.objects.create(
                district=district, code=code, kind=Unit.Kind.BUREAU, name_zh=zh, name_en=en
            )
    soe = None
    for code, zh, en in SOES:
        soe = Unit.objects.create(
            district=district, code=code, kind=Unit.Kind.SOE, name_zh=zh, name_en=en
        )
    Enterprise.objects.bulk_create(
        Enterprise(
            district=district,
            credit_code=credit_code(3_000_000 + i),
            name=f"基准企业{i:03d}有限公司",
            town=towns[i % len(towns)],
        )
        for i in range(ENTERPRISES)
    )
    types = list(routing.ProjectType)
    Project.objects.bulk_create(
        Project(
            district=district,
            name=f"基准项目{i:02d}",
            type=types[i % len(types)].value,
            builder=soe if types[i % len(types)] is GOVERNMENT else None,
            town=towns[(i // len(types)) % len(towns)],
        )
        for i in range(PROJECTS)
    )
    return district


def _helper_tables(district: District) -> int:
    """Small numbered tables the generating SQL joins (units; enterprises and projects with
    the unit the default routing table gives a case about them). Returns the unit count."""
    units = list(Unit.objects.filter(district=district).order_by("code"))
    kinds = {x.code: str(x.kind) for x in units}
    by_code = {x.code: x for x in units}
    by_pk = {x.pk: x for x in units}

    def routed(kind: routing.ProjectType | None, town: Unit, builder: str | None) -> list[Any]:
        decision = routing.route(
            routing.DEFAULT_RULES,
            project_type=kind,
            town=town.code,
            builder=builder,
            unit_kinds=kinds,
        )
        if decision.responsible is None:
            raise SystemExit(f"error: the routing table leaves {kind} to a person")
        unit = by_code[decision.responsible]
        return [town.pk, town.code, unit.pk, unit.code, decision.reason]

    ent_rows = [
        [k, e.pk, *routed(None, by_pk[e.town_id or 0], None)]
        for k, e in enumerate(Enterprise.objects.filter(district=district).order_by("pk"), 1)
    ]
    proj_rows = [
        [
            k,
            p.pk,
            *routed(
                routing.ProjectType(p.type),
                by_pk[p.town_id or 0],
                by_pk[p.builder_id].code if p.builder_id else None,
            ),
        ]
        for k, p in enumerate(Project.objects.filter(district=district).order_by("pk"), 1)
    ]
    with connection.cursor() as cursor:
        cursor.execute("CREATE UNLOGGED TABLE bench_unit (k int PRIMARY KEY, id bigint, code text)")
        cursor.executemany(
            "INSERT INTO bench_unit VALUES (%s, %s, %s)",
            [(k, x.pk, x.code) for k, x in enumerate(units, 1)],
        )
        for table, rows in (("bench_ent", ent_rows), ("bench_proj", proj_rows)):
            cursor.execute(
                f"CREATE UNLOGGED TABLE {table} (k int PRIMARY KEY, id bigint, town_id bigint, "
                "town_code text, unit_id bigint, unit_code text, routing text)"
            )
            insert = f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s)"  # noqa: S608
            cursor.executemany(insert, rows)
    return len(units)


def _channel_sql() -> str:
    draw = u(3)
    whens = " ".join(f"WHEN {draw} < {share} THEN '{name}'" for name, share in CHANNELS)
    return f"CASE {whens} END"


def plan_sql(n: int, n_units: int) -> str:
    """One row per case with everything its row and its events need.

    Each step is fenced (`OFFSET 0`) so that its columns are computed once a row: flattened,
    the later steps would repeat the whole expression of every earlier time they use."""
    days = (END_DAY - FIRST_DAY).days
    recent = END_DAY - timedelta(days=RECENT_DAYS)

    def days_(expr: str) -> str:
        return f"({expr}) * INTERVAL '1 day'"

    def hours(expr: str) -> str:
        return f"({expr}) * INTERVAL '1 hour'"

    # Only this module's constants and integers go into the text.
    return f"""
CREATE UNLOGGED TABLE bench_plan AS
WITH raw AS (
    SELECT g,
        ((DATE '{FIRST_DAY.isoformat()}' + floor({u(1)} * {days})::int) + TIME '08:00'
            + {u(2)} * INTERVAL '10 hours') AT TIME ZONE '{TZ}' AS created_at,
        {_channel_sql()} AS channel,
        {u(4)} < 0.70 AS construction,
        1 + floor({u(5)} * {ENTERPRISES})::int AS ent_k,
        1 + floor({u(6)} * {PROJECTS})::int AS proj_k,
        1 + floor(60 * {u(7)} * {u(7)})::int AS workers,
        round(((1 + floor(60 * {u(7)} * {u(7)})) * (2500 + {u(8)} * 6500)
            * (1 + floor({u(9)} * 6)))::numeric, 2) AS amount
    FROM generate_series(1, {n}::bigint) AS g
    OFFSET 0
), numbered AS (
    SELECT raw.*,
        row_number() OVER (ORDER BY created_at, g) AS id,
        CASE WHEN (created_at >= TIMESTAMP '{recent.isoformat()}' AT TIME ZONE '{TZ}'
                   AND {u(29)} < {OPEN_RECENT}) OR {u(29)} < {OPEN_OLDER} THEN 'open'
            WHEN {u(10)} < 0.9184 THEN 'self' WHEN {u(10)} < 0.9796 THEN 'escalated'
            WHEN {u(10)} < 0.9898 THEN 'advanced' ELSE 'void' END AS path,
        '{PREFIX}-' || extract(year FROM created_at AT TIME ZONE '{TZ}')::int || '-' || lpad((
            row_number() OVER (PARTITION BY extract(year FROM created_at AT TIME ZONE '{TZ}')
                               ORDER BY created_at, g))::text, 6, '0') AS number
    FROM raw
    OFFSET 0
), routed AS (
    SELECT n.*,
        e.id AS employer_id,
        p.id AS project_id,
        coalesce(p.town_id, e.town_id) AS town_id,
        coalesce(p.town_code, e.town_code) AS town_code,
        coalesce(p.unit_id, e.unit_id) AS unit1,
        coalesce(p.unit_code, e.unit_code) AS unit1_code,
        coalesce(p.routing, e.routing) AS routing,
        path <> 'void' OR {u(14)} < 0.5 AS dispatched,
        path <> 'void' AND {u(11)} < 0.10 AS redispatched,
        path IN ('self', 'escalated', 'advanced') OR (path = 'open' AND {u(15)} < 0.5)
            AS accepted,
        path = 'void' AND {u(14)} < 0.5 AS merged,
        path = 'advanced' AND {u(16)} < 0.5 AS recovered,
        lag(n.id) OVER (ORDER BY n.id) AS prev_id,
        lag(n.number) OVER (ORDER BY n.id) AS prev_number
    FROM numbered n
    JOIN bench_ent e ON e.k = n.ent_k
    LEFT JOIN bench_proj p ON n.construction AND p.k = n.proj_k
    OFFSET 0
), units AS (
    SELECT r.*, u2.id AS unit2, u2.code AS unit2_code,
        r.accepted AND {u(12)} < 0.03 AS overdue
    FROM routed r
    JOIN bench_unit u1 ON u1.id = r.unit1
    JOIN bench_unit u2
        ON u2.k = 1 + mod(u1.k + floor({u(17)} * {n_units - 1})::int, {n_units})
    OFFSET 0
), t1 AS (
    SELECT x.*,
        CASE WHEN dispatched THEN created_at + ({u(18)} * 115 + 5) * INTERVAL '1 minute'
            END AS t_disp,
        CASE WHEN overdue THEN 8 ELSE 1 END AS lead_days
    FROM units x
    OFFSET 0
), t2 AS (
    SELECT t1.*, CASE WHEN redispatched THEN t_disp + {hours(f"1 + {u(19)} * 47")} END AS t_redisp
    FROM t1
    OFFSET 0
), t3 AS (
    SELECT t2.*,
        CASE WHEN accepted THEN coalesce(t_redisp, t_disp) + {hours(f"1 + {u(20)} * 71")}
            END AS t_acc
    FROM t2
    OFFSET 0
), t4 AS (
    SELECT t3.*,
        CASE WHEN path IN ('escalated', 'advanced')
            THEN t_acc + {days_(f"lead_days + {u(21)} * 9")} END AS t_esc
    FROM t3
    OFFSET 0
), t5 AS (
    SELECT t4.*,
        CASE WHEN path = 'advanced' OR (path = 'escalated' AND {u(13)} < 0.5)
            THEN t_esc + {days_(f"3 + {u(22)} * 17")} END AS t_jm
    FROM t4
    OFFSET 0
), t6 AS (
    SELECT t5.*,
        CASE WHEN path = 'advanced' THEN t_jm + {days_(f"2 + {u(23)} * 8")} END AS t_conf
    FROM t5
    OFFSET 0
), t7 AS (
    SELECT t6.*, t_conf + {days_(f"5 + {u(24)} * 5")} AS t_adv FROM t6 OFFSET 0
), t8 AS (
    SELECT t7.*, t_adv + {days_(f"10 + {u(25)} * 50")} AS t_rec,
        CASE WHEN path = 'self' THEN t_acc + {days_(f"lead_days + {u(21)} * (40 - lead_days)")}
            WHEN path = 'escalated' THEN coalesce(t_jm, t_esc) + {days_(f"3 + {u(23)} * 27")}
            END AS t_res,
        CASE WHEN merged THEN t_disp + {hours(f"1 + {u(19)} * 71")}
            WHEN path = 'void' THEN created_at + {hours(f"1 + {u(19)} * 47")} END AS t_void,
        CASE WHEN overdue THEN t_acc + INTERVAL '7 days' END AS t_due
    FROM t7
    OFFSET 0
), t9 AS (
    SELECT t8.*,
        CASE WHEN path IN ('self', 'escalated') THEN t_res + {hours(f"4 + {u(26)} * 116")}
            WHEN recovered THEN t_rec + {days_(f"5 + {u(26)} * 25")} END AS t_close,
        t_due + INTERVAL '5 minutes' AS t_over,
        CASE WHEN path = 'advanced' THEN round(amount * (0.5 + {u(27)} * 0.5)::numeric, 2)
            END AS adv_amount
    FROM t8
    OFFSET 0
)
SELECT id, number, created_at AS t_reg, channel, construction, employer_id, project_id,
    town_id, town_code, workers, amount, routing, path, merged, recovered,
    unit1, unit1_code, unit2, unit2_code, redispatched, overdue,
    CASE WHEN NOT dispatched THEN NULL WHEN redispatched THEN unit2 ELSE unit1 END AS unit_final,
    t_disp, t_redisp, t_acc, t_due, t_over, t_esc, t_jm, t_conf, t_adv, t_rec, t_res, t_close,
    t_void, prev_id, prev_number, adv_amount,
    CASE WHEN recovered THEN adv_amount
        ELSE round(adv_amount * (0.2 + {u(28)} * 0.5)::numeric, 2) END AS rec_amount,
    CASE path WHEN 'self' THEN 'closed' WHEN 'escalated' THEN 'closed'
        WHEN 'advanced' THEN CASE WHEN recovered THEN 'closed' ELSE 'recovering' END
        WHEN 'void' THEN CASE WHEN merged THEN 'merged' ELSE 'rejected' END
        ELSE CASE WHEN t_acc IS NULL THEN 'dispatched' ELSE 'accepted' END END AS state,
    CASE path WHEN 'self' THEN t_res WHEN 'escalated' THEN t_res WHEN 'advanced' THEN t_close
        WHEN 'void' THEN t_void END AS finished_at
FROM t9
"""  # noqa: S608


CASES_SQL = """
INSERT INTO incidents_case (id, district_id, number, state, channel, received_at, employer_id,
    project_id, town_id, lat, lng, workers_count, amount_owed, amount_paid, confirmed_amount,
    description, responsible_unit_id, routing_note, dispatched_at, accepted_at,
    commitment_letter_number, facts_confirmed_at, closed_at, finished_at, merged_into_id,
    registered_by_id, revision, created_at)
SELECT id, {district}, number, state, channel, t_reg, employer_id, project_id, town_id,
    NULL, NULL, workers, amount,
    CASE WHEN t_res IS NOT NULL THEN amount ELSE 0 END,
    CASE WHEN t_conf IS NOT NULL THEN amount END,
    '', unit_final, routing, coalesce(t_redisp, t_disp), t_acc,
    CASE WHEN t_acc IS NOT NULL THEN 'CN-' || number ELSE '' END,
    t_conf, t_close, finished_at,
    CASE WHEN merged THEN prev_id END,
    NULL,
    (t_disp IS NOT NULL)::int + (t_redisp IS NOT NULL)::int + (t_acc IS NOT NULL)::int
        + (t_esc IS NOT NULL)::int + (t_jm IS NOT NULL)::int + (t_conf IS NOT NULL)::int
        + 2 * (t_adv IS NOT NULL)::int + (t_res IS NOT NULL)::int
        + (t_close IS NOT NULL)::int + (t_void IS NOT NULL)::int,
    t_reg
FROM bench_plan
ORDER BY id
"""

# One row per event of a case, those whose time is NULL left out: (seq, kind, at, before,
# after, the state and unit_id its data carries, reason); its other data by `seq`, built only
# for the events kept.
EVENTS_SQL = """
INSERT INTO incidents_event (id, district_id, case_id, incident_id, kind, "at", actor_id,
    reason, "before", "after", data)
SELECT row_number() OVER (ORDER BY ev."at", p.id, ev.seq), {district}, p.id, NULL, ev.kind,
    ev."at", NULL, ev.reason, ev."before", ev."after",
    CASE ev.seq
    WHEN 1 THEN jsonb_build_object('channel', p.channel, 'town', p.town_code,
        'workers_count', p.workers, 'amount_owed', p.amount::text,
        'construction', p.construction, 'routing', p.routing)
    WHEN 2 THEN jsonb_build_object('unit', p.unit1_code, 'previous_unit', NULL,
        'assisting', '[]'::jsonb, 'slip', 'ZB-' || p.number || '-1')
    WHEN 3 THEN jsonb_build_object('unit', p.unit2_code, 'previous_unit', p.unit1_code,
        'assisting', '[]'::jsonb, 'slip', 'ZB-' || p.number || '-2')
    WHEN 4 THEN jsonb_build_object('commitment_letter', 'CN-' || p.number)
    WHEN 5 THEN jsonb_build_object('clock', 'commitment',
        'due_at', to_char(p.t_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
    WHEN 8 THEN jsonb_build_object('confirmed_amount', p.amount::text)
    WHEN 9 THEN jsonb_build_object('amount', p.adv_amount::text,
        'balance_after', '4000000.00', 'entry', p.id)
    WHEN 10 THEN jsonb_build_object('amount', p.adv_amount::text, 'override', false,
        'balance_after', '4000000.00', 'penalty_points', '2')
    WHEN 11 THEN jsonb_build_object('amount', p.rec_amount::text,
        'balance_after', '4000000.00', 'entry', p.id)
    WHEN 12 THEN jsonb_build_object('amount', p.rec_amount::text,
        'outstanding', (p.adv_amount - p.rec_amount)::text, 'balance_after', '4000000.00')
    WHEN 13 THEN jsonb_build_object('amount_paid', p.amount::text)
    WHEN 15 THEN jsonb_build_object('into', p.prev_number)
    ELSE '{{}}'::jsonb END
    || jsonb_build_object('case_number', p.number, 'state', ev.state, 'unit_id', ev.unit_id)
FROM bench_plan p
CROSS JOIN LATERAL (VALUES
    (1, 'case.registered', p.t_reg, '', 'registered', 'registered', NULL::bigint, ''),
    (2, 'case.dispatched', p.t_disp, 'registered', 'dispatched', 'dispatched', p.unit1, ''),
    (3, 'case.dispatch', p.t_redisp, 'dispatched', 'dispatched', 'dispatched', p.unit2,
        'reassigned to the unit in charge'),
    (4, 'case.accept', p.t_acc, 'dispatched', 'accepted', 'accepted', p.unit_final, ''),
    (5, 'clock.overdue', p.t_over, 'accepted', 'accepted', 'accepted', p.unit_final, ''),
    (6, 'case.escalate_inspection', p.t_esc, 'accepted', 'inspection', 'inspection',
        p.unit_final, 'the employer does not pay'),
    (7, 'case.convene_joint_meeting', p.t_jm, 'inspection', 'joint_meeting', 'joint_meeting',
        p.unit_final, ''),
    (8, 'case.confirm_facts', p.t_conf, 'joint_meeting', 'facts_confirmed', 'facts_confirmed',
        p.unit_final, ''),
    (9, 'fund.advance', p.t_adv, '', '', 'facts_confirmed', p.unit_final, ''),
    (10, 'case.advance_payment', p.t_adv, 'facts_confirmed', 'advanced', 'advanced',
        p.unit_final, ''),
    (11, 'fund.recovery', p.t_rec, '', '', 'advanced', p.unit_final, ''),
    (12, 'case.record_recovery', p.t_rec, 'advanced', 'recovering', 'recovering',
        p.unit_final, ''),
    (13, 'case.resolve', p.t_res,
        CASE WHEN p.path = 'self' THEN 'accepted' WHEN p.t_jm IS NOT NULL THEN 'joint_meeting'
            ELSE 'inspection' END,
        'resolved', 'resolved', p.unit_final, ''),
    (14, 'case.close', p.t_close, CASE WHEN p.path = 'advanced' THEN 'recovering'
        ELSE 'resolved' END, 'closed', 'closed', p.unit_final, ''),
    (15, 'case.merge', CASE WHEN p.merged THEN p.t_void END, 'dispatched', 'merged', 'merged',
        p.unit1, 'the same employer and project as an open case'),
    (16, 'case.reject', CASE WHEN NOT p.merged THEN p.t_void END, 'registered', 'rejected',
        'rejected', NULL::bigint, 'not a wage-arrears matter')
) AS ev (seq, kind, "at", "before", "after", state, unit_id, reason)
WHERE ev."at" IS NOT NULL
"""


def _run(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.rowcount)


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                              AND k.conrelid = i.indrelid)
            ORDER BY c.relname
            """,
            [table],
        )
        return [(name, sql) for name, sql in cursor.fetchall()]


def fill(n: int, log: Any = print) -> Filled:
    """Make the district and its `n` cases with their events; VACUUM ANALYZE."""
    spent: dict[str, float] = {}

    def step(name: str, t0: float) -> None:
        spent[name] = time.perf_counter() - t0
        log(f"  {name}: {spent[name]:.1f} s")

    t0 = time.perf_counter()
    district = reference()
    n_units = _helper_tables(district)
    step("reference rows (ORM) and helper tables", t0)
    with connection.cursor() as cursor:
        for setting in (
            "SET synchronous_commit = off",
            "SET work_mem = '512MB'",
            "SET maintenance_work_mem = '1GB'",
            "SET session_replication_role = replica",  # no FK triggers for the bulk insert
        ):
            cursor.execute(setting)
    dropped = {t: _secondary_indexes(t) for t in BULK_TABLES}
    with connection.cursor() as cursor:
        for indexes in dropped.values():
            for name, _sql in indexes:
                cursor.execute(f'DROP INDEX "{name}"')

    t0 = time.perf_counter()
    _run(plan_sql(n, n_units))
    step("plan (one row per case, generate_series)", t0)
    t0 = time.perf_counter()
    cases = _run(CASES_SQL.format(district=district.pk))
    step(f"INSERT ... SELECT {cases:,} cases", t0)
    t0 = time.perf_counter()
    events = _run(EVENTS_SQL.format(district=district.pk))
    step(f"INSERT ... SELECT {events:,} events (ids in time order)", t0)
    expected = _scalar(
        "SELECT sum(1 + (t_disp IS NOT NULL)::int + (t_redisp IS NOT NULL)::int"
        " + (t_acc IS NOT NULL)::int + (t_over IS NOT NULL)::int + (t_esc IS NOT NULL)::int"
        " + (t_jm IS NOT NULL)::int + (t_conf IS NOT NULL)::int + 2 * (t_adv IS NOT NULL)::int"
        " + 2 * (t_rec IS NOT NULL)::int + (t_res IS NOT NULL)::int"
        " + (t_close IS NOT NULL)::int + (t_void IS NOT NULL)::int) FROM bench_plan"
    )
    if cases != n or events != expected:
        raise SystemExit(f"error: {cases:,} cases and {events:,} events, not {n:,}/{expected:,}")

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("RESET session_replication_role")
        for table in BULK_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        for table in HELPER_TABLES:
            cursor.execute(f"DROP TABLE {table}")
        for indexes in dropped.values():
            for _name, sql in indexes:
                cursor.execute(sql)
    step(f"indexes built again ({sum(len(v) for v in dropped.values())})", t0)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for table in BULK_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("ANALYZE")
        for setting in ("synchronous_commit", "work_mem", "maintenance_work_mem"):
            cursor.execute(f"RESET {setting}")
    step("VACUUM ANALYZE", t0)
    return Filled(district_id=district.pk, cases=cases, events=events, seconds=spent)
