"""`manage.py backup` and `manage.py restore` on real databases: SQLite and PostgreSQL.

Each case runs the real commands in subprocesses against a database of its own (a fresh
PostgreSQL database it creates and drops, or a SQLite file), migrated and seeded with the
demo's reference data: it adds cases, events and a media file, backs up, changes and adds
things, and restores; the cases, the events and the media are then back as they were, and
the hub still works (the event stream replays, a new case registers). A damaged backup is
refused with nothing changed. Without PostgreSQL its case is skipped, except under CI=true.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest
from psycopg import sql

from tests.alerts.test_worker_crash import (
    PYTHON,
    DatabaseUnavailable,
    HubDatabase,
    database_create,
    run_python,
    with_database_name,
)
from tests.conftest import in_ci
from tests.e2e.conftest import BASE_DIR

pytestmark = pytest.mark.own_databases

EVIDENCE = "checklists/2025/03/evidence.txt"

MAKE_CASES = """
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import django

django.setup()

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from incidents.domain.lifecycle import Action
from incidents.policy import actor_for
from incidents.services.intake import Intake, case_register
from incidents.services.lifecycle import TransitionInput, case_transition

prefix = sys.argv[1]
clerk = actor_for(User.objects.get(username="clerk_lianshi"))
command = actor_for(User.objects.get(username="command"))
for n in range(int(sys.argv[2])):
    result = case_register(
        actor=clerk,
        intake=Intake(
            channel="window",
            complainant_name=f"工人{n}",
            complainant_phone=f"1390000{n:04d}",
            workers_count=n + 1,
            amount_owed=Decimal(1000 * (n + 1)),
            employer_name=f"{prefix}公司{n}",
            employer_credit_code=sys.argv[3 + n],
            town="lianshi",
        ),
    )
    if n % 2 == 0:
        case_transition(
            actor=command,
            case_number=result.case.number,
            change=TransitionInput(action=Action.ACCEPT),
        )
media = Path(settings.MEDIA_ROOT) / sys.argv[-1]
media.parent.mkdir(parents=True, exist_ok=True)
media.write_text(prefix + " 现场照片说明", encoding="utf-8")
"""

CHECK_APP = """
from decimal import Decimal

import django

django.setup()

from django.contrib.auth.models import User

from incidents.domain.streams import district_stream
from incidents.events import stream_events
from incidents.models import District, Event
from incidents.policy import actor_for
from incidents.services.intake import Intake, case_register

district = User.objects.get(username="clerk_lianshi").membership.district
replayed = [e.pk for e in stream_events(district_stream(district.pk), after=0, limit=100000)]
assert replayed == sorted(replayed) and replayed, replayed
result = case_register(
    actor=actor_for(User.objects.get(username="clerk_lianshi")),
    intake=Intake(
        channel="window",
        complainant_name="新来的",
        complainant_phone="13900009999",
        workers_count=1,
        amount_owed=Decimal("1"),
        employer_name="还原后公司",
        employer_credit_code="91330503MA00000990",
        town="lianshi",
    ),
)
newest = Event.objects.order_by("-id").first()
assert newest.pk > replayed[-1]
print(district_stream(district.pk), len(replayed), result.case.number)
"""


def credit_codes(first: int, count: int) -> list[str]:
    from incidents.domain.identifiers import credit_code_check_char

    bodies = [f"91330503MA{n:07d}" for n in range(first, first + count)]
    return [b + credit_code_check_char(b) for b in bodies]


def manage(db: HubDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed command, no shell)
        [str(PYTHON), "manage.py", *args],
        cwd=BASE_DIR,
        env=db.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def execute(db: HubDatabase, statement: LiteralString, *params: Any) -> None:
    """Run one statement that returns no rows, committed."""
    if db.vendor == "sqlite":
        with sqlite3.connect(db.sqlite_path, timeout=20) as conn:
            conn.execute(statement.replace("%s", "?"), params)
        conn.close()
        return
    with psycopg.connect(db.url, autocommit=True) as pg:
        pg.execute(statement, params)


def snapshot(db: HubDatabase) -> dict[str, Any]:
    """What must come back: the cases, the events, the reports, the media files."""
    media = db.data_dir / "media"
    return {
        "cases": db.query(
            "SELECT id, number, state, amount_owed, revision FROM incidents_case ORDER BY id"
        ),
        "events": db.query(
            "SELECT id, kind, case_id, before, after FROM incidents_event ORDER BY id"
        ),
        "entries": db.query("SELECT stream, event_id, prev FROM incidents_streamentry ORDER BY id"),
        "reports": db.query("SELECT id, complainant_phone FROM incidents_report ORDER BY id"),
        "media": sorted(
            (str(p.relative_to(media)), p.read_bytes()) for p in media.rglob("*") if p.is_file()
        ),
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest) -> Iterator[HubDatabase]:
    try:
        db = database_create(request.param, label="backup")
    except DatabaseUnavailable as exc:
        message = f"{exc}; set TEST_POSTGRES_URL or start PostgreSQL"
        if in_ci():
            pytest.fail(f"CI=true, so the PostgreSQL case may not be skipped: {message}")
        pytest.skip(message)
    try:
        yield db
    finally:
        db.drop()


def test_a_backup_restores_cases_events_and_media_here_and_on_a_new_server(
    hub_db: HubDatabase,
) -> None:
    db = hub_db
    run_python(db.env, MAKE_CASES, "before", "3", *credit_codes(1, 3), EVIDENCE)
    before = snapshot(db)
    assert len(before["cases"]) >= 3
    assert before["media"] == [(EVIDENCE, "before 现场照片说明".encode())]

    done = manage(db, "backup", "--output", str(db.data_dir / "backups"))
    assert done.returncode == 0, done.stderr
    folder = next((db.data_dir / "backups").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == db.vendor
    assert manifest["counts"]["cases"] == len(before["cases"])
    assert manifest["counts"]["events"] == len(before["events"])
    assert manifest["migrations"]["incidents"].startswith("00")
    assert set(manifest["files"]) == {
        "media.tar",
        "database.dump" if db.vendor == "postgresql" else "database.sqlite3",
    }

    # Life goes on: more cases, a changed one, the evidence replaced by another file.
    run_python(db.env, MAKE_CASES, "after", "2", *credit_codes(10, 2), "other/new.txt")
    execute(db, "UPDATE incidents_case SET state = 'rejected' WHERE id = %s", before["cases"][0][0])
    (db.data_dir / "media" / EVIDENCE).unlink()
    changed = snapshot(db)
    assert changed != before
    assert changed["cases"][0][2] == "rejected"

    # A database that holds data is not replaced without --yes.
    refused = manage(db, "restore", str(folder))
    assert refused.returncode != 0
    assert "not empty" in refused.stderr
    assert snapshot(db) == changed

    # A damaged backup is refused whole, before anything is touched.
    damaged = db.data_dir / "damaged"
    shutil.copytree(folder, damaged)
    dump = next(p for p in damaged.iterdir() if p.name.startswith("database."))
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    refused = manage(db, "restore", str(damaged), "--yes")
    assert refused.returncode != 0
    assert "does not match its checksum" in refused.stderr
    assert snapshot(db) == changed

    restored = manage(db, "restore", str(folder / "manifest.json"), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "counts match" in restored.stdout
    assert snapshot(db) == before

    # The hub works on the restored data: the stream replays, a new case takes a new number
    # and a new event id (sequences were restored too).
    stream, replayed, number = run_python(db.env, CHECK_APP).split()
    assert int(replayed) == sum(1 for e in before["entries"] if e[0] == stream) > 0
    assert number not in {n for _id, n, *_rest in before["cases"]}

    # A new server: an empty database (no tables at all) and no media yet.
    fresh_dir = Path(tempfile.mkdtemp(prefix="hub-fresh-"))
    fresh = HubDatabase(
        vendor=db.vendor,
        env={**db.env, "DATA_DIR": str(fresh_dir)},
        data_dir=fresh_dir,
    )
    if db.vendor == "postgresql":
        fresh.admin_url = db.admin_url
        fresh.name = db.name + "_new"
        with psycopg.connect(db.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(fresh.name)))
        fresh.env["DATABASE_URL"] = with_database_name(db.url, fresh.name)
    try:
        done = manage(fresh, "restore", str(folder))
        assert done.returncode == 0, done.stderr
        assert snapshot(fresh) == before
        stream, replayed, _number = run_python(fresh.env, CHECK_APP).split()
        assert int(replayed) == sum(1 for e in before["entries"] if e[0] == stream)
    finally:
        fresh.drop()
