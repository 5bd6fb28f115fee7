"""Benchmarks of the one window, each figure beside a baseline measured in the same run.

1. Clock sweep: the cost of marking K due clocks overdue among N cases whose clocks are not
   due. Baseline: the same K among a small N. The ratio should stay near 1 as N grows (the
   sweep reads a partial index of running clocks only).
2. Intake: `case_register` (validation of codes, merge lookup, routing, slip, clock, events)
   against the baseline of inserting the same Case + Report + Event rows with the bare ORM.

Run: `make bench` (or `.venv/bin/python tests/bench/bench_intake_sweep.py`). Uses a fresh
SQLite file in a temporary folder unless DATABASE_URL is set (then that database is used
for a throwaway test database named by Django's test runner).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="hub-bench-"))
os.environ["EMBEDDED_SWEEP"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents import demo  # noqa: E402
from incidents.models import Case, Clock, Enterprise, Event, Report, Unit  # noqa: E402
from incidents.policy import actor_for  # noqa: E402
from incidents.services import Intake, ProjectInput, case_register, clocks_sweep  # noqa: E402
from tests.bench import table  # noqa: E402
from tests.factories import credit_code  # noqa: E402


def fill_cases(district_id: int, town: Unit, n: int, *, due: int, start: int) -> None:
    """N cases with met clocks, and `due` more with a running clock already passed."""
    now = timezone.now()
    enterprise = Enterprise.objects.create(
        district_id=district_id, credit_code=credit_code(900_000 + start), name="bench"
    )
    cases = [
        Case(
            district_id=district_id,
            number=f"BENCH-{start + i:08d}",
            state="dispatched",
            channel="window",
            received_at=now,
            employer=enterprise,
            town=town,
            workers_count=1,
            amount_owed=Decimal("1000"),
        )
        for i in range(n + due)
    ]
    Case.objects.bulk_create(cases, batch_size=2000)
    ids = list(
        Case.objects.filter(number__startswith="BENCH-", employer=enterprise).values_list(
            "pk", flat=True
        )
    )
    clocks = [
        Clock(
            case_id=pk,
            kind="dispatch",
            status="running" if i < due else "met",
            started_at=now - timedelta(days=2),
            due_at=now - timedelta(days=1) if i < due else now + timedelta(days=1),
        )
        for i, pk in enumerate(ids)
    ]
    Clock.objects.bulk_create(clocks, batch_size=2000)


def timed(fn: object, *args: object, **kwargs: object) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - t0


def bench_sweep(district_id: int, town: Unit, rows: list[tuple[str, str, str, str]]) -> None:
    due = 100
    fill_cases(district_id, town, 1_000, due=due, start=0)
    base = timed(clocks_sweep)
    many = 2_000 if os.environ.get("BENCH_QUICK") == "1" else 50_000
    fill_cases(district_id, town, many, due=due, start=100_000)
    big = timed(clocks_sweep)
    rows.append(
        (
            f"clock sweep, {due} due clocks among {many:,} cases",
            f"{big * 1000:.1f} ms",
            f"{base * 1000:.1f} ms (same {due} among 1,000)",
            f"{big / base:.2f}x",
        )
    )


def bench_intake(district_id: int, rows: list[tuple[str, str, str, str]]) -> None:
    from django.contrib.auth.models import User

    actor = actor_for(User.objects.get(username="command"))
    count = 200
    town = Unit.objects.get(district_id=district_id, code="lianshi")

    def bare() -> None:
        for i in range(count):
            ent = Enterprise.objects.create(
                district_id=district_id, credit_code=credit_code(500_000 + i), name="x"
            )
            case = Case.objects.create(
                district_id=district_id,
                number=f"BARE-{i:06d}",
                channel="window",
                received_at=timezone.now(),
                employer=ent,
                town=town,
                workers_count=3,
                amount_owed=Decimal("9000"),
            )
            Report.objects.create(
                case=case,
                channel="window",
                received_at=timezone.now(),
                complainant_name="王",
                complainant_phone="13812345678",
                workers_count=3,
                amount_owed=Decimal("9000"),
            )
            Event.objects.create(district_id=district_id, case=case, kind="bare")

    def service() -> None:
        for i in range(count):
            case_register(
                actor=actor,
                intake=Intake(
                    channel="window",
                    window="lianshi",
                    complainant_name="王",
                    complainant_phone="13812345678",
                    workers_count=3,
                    amount_owed=Decimal("9000"),
                    employer_name="x",
                    employer_credit_code=credit_code(600_000 + i),
                    town="lianshi",
                    project=ProjectInput("练市新城", demo.routing.ProjectType.REAL_ESTATE),
                ),
            )

    base = timed(bare)
    full = timed(service)
    rows.append(
        (
            f"intake, {count} new cases through case_register",
            f"{full / count * 1000:.2f} ms/case",
            f"{base / count * 1000:.2f} ms/case (bare ORM rows)",
            f"{full / base:.2f}x",
        )
    )


def main() -> None:
    setup_test_environment()
    from django.test.utils import get_runner

    runner = get_runner(django.conf.settings)(verbosity=0, interactive=False)
    old = runner.setup_databases()
    try:
        district = demo.load_reference()
        town = Unit.objects.get(district=district, code="lianshi")
        rows: list[tuple[str, str, str, str]] = []
        bench_sweep(district.pk, town, rows)
        bench_intake(district.pk, rows)
        print(f"\n### One window ({connection.vendor})\n")
        print("| benchmark | figure | baseline (same run) | ratio |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
            table.record("intake_sweep", *row)
    finally:
        runner.teardown_databases(old)


if __name__ == "__main__":
    main()
