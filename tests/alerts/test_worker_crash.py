"""The SMS outbox under real faults: worker processes killed mid-batch, and two at once.

Real `manage.py sms_worker` processes send through the real Twilio SDK to the loopback
fake, on a database this test shares with them: a fresh PostgreSQL database per module (on
the server of TEST_POSTGRES_URL, else DATABASE_URL, else 127.0.0.1:5432), and a SQLite
file. The messages are queued by `sms_queue` itself, in a subprocess on that database (the
test process's own pytest-django database is another one); the test reads the outcome with
plain SQL.

The crash: the fake accepts each message (so a later `find_sent` sees it) and only then
waits before answering, and the worker is sent SIGKILL the moment the fake has accepted
the Nth message, so it dies inside a provider call with its attempt started and unrecorded.
That happens twice, then two fresh workers finish the job; every message must reach the
fake exactly once.

Without PostgreSQL the PostgreSQL cases are skipped, except under CI=true, where they fail.
The machinery here is also used by `tests/bench/bench_sms_outbox.py`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.conftest import in_ci
from tests.e2e.conftest import BASE_DIR, VENV_BIN, _hub_env, _manage
from tests.fakes import Request, Response
from tests.fakes.twilio_server import FakeTwilioServer, ReceivedMessage

pytestmark = pytest.mark.own_databases

COUNT = 200
TEMPLATE = "clock_overdue"
PARAMS = {
    "code": "NX-2026-000001",
    "clock": "7日承诺办结",
    "link": "https://hub.example/c/NX-2026-000001",
}
# How long the fake takes to answer a send it has accepted: a worker manages ~25 a second.
ANSWER_DELAY_S = 0.03
# `outbox_send` claims rate × lease / 4 messages at a time (25 here), which the workers send
# in about half the lease at the fake's pace. A batch that outlasts its lease has its tail
# claimed by another worker while its own worker is still sending it: a different fault
# from the one under test, so it is kept out of this test's way.
RATE_PER_SECOND = "50"
# Short, so that rows a killed worker had claimed are claimed again within seconds.
LEASE_SECONDS = "2"
FIRST_KILL_AT = 60  # messages accepted by the fake when the first worker is killed
SECOND_KILL_AT = 130  # ... and when the second one is
SEND_TIMEOUT_S = 30.0
PYTHON = VENV_BIN / "python"
POSTGRES_DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hub"
_REFERENCE = re.compile(r"(?<![0-9A-Za-z])M[0-9]+(?![0-9A-Za-z])")


# --- the provider -------------------------------------------------------------------------


class AnswerLateTwilio(FakeTwilioServer):
    """The fake Twilio, answering each send `answer_delay` seconds after accepting it.

    The base fake's `set_delay` sleeps before handling a request, so a client that dies in
    that delay leaves nothing at the provider. Here the message is accepted first: a worker
    killed while it waits for the answer leaves a message Twilio has and the outbox has not
    recorded, the case `find_sent` exists for. The answers to the sends numbered in
    `held` (1 for the first accepted) wait `HELD_S` instead, so that a kill at such a send
    lands inside the call however slowly the killer wakes; `wait_for_accepted` wakes on the
    acceptance itself.
    """

    HELD_S = 5.0

    def __init__(
        self, *, answer_delay: float = 0.0, held: Sequence[int] = (), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.answer_delay = answer_delay
        self.held = frozenset(held)
        self.accepted = 0
        self._accepted_changed = threading.Condition()

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.method == "POST" and response.status == 201:
            with self._accepted_changed:
                self.accepted += 1
                number = self.accepted
                self._accepted_changed.notify_all()
            delay = self.HELD_S if number in self.held else self.answer_delay
            if delay > 0:
                time.sleep(delay)
        return response

    def wait_for_accepted(self, count: int, timeout: float) -> bool:
        """Block until `count` messages were accepted; False after `timeout` seconds."""
        with self._accepted_changed:
            return self._accepted_changed.wait_for(lambda: self.accepted >= count, timeout)


def reference_of(message: ReceivedMessage) -> str:
    """The outbox reference ("M<id>") a message's body ends with ("" if none)."""
    found = _REFERENCE.findall(message.body)
    return found[-1] if found else ""


# --- the shared database ------------------------------------------------------------------


class DatabaseUnavailable(Exception):
    """The PostgreSQL server does not answer."""


def postgres_server_url() -> str:
    """The PostgreSQL server to create databases on (its database name is not used)."""
    url = os.environ.get("TEST_POSTGRES_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else POSTGRES_DEFAULT_URL


def with_database_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@dataclass
class HubDatabase:
    """A migrated, seeded hub database and the environment its processes run with."""

    vendor: str  # "sqlite" or "postgresql"
    env: dict[str, str]
    data_dir: Path
    name: str = ""  # the PostgreSQL database
    admin_url: str = ""  # the PostgreSQL server's maintenance database

    @property
    def url(self) -> str:
        return self.env.get("DATABASE_URL", "")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "hub.sqlite3"  # where settings put it without DATABASE_URL

    def query(self, statement: LiteralString, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (`%s` placeholders) on a connection of its own; its rows."""
        if self.vendor == "sqlite":
            connection = sqlite3.connect(self.sqlite_path, timeout=20)
            try:
                return connection.execute(statement.replace("%s", "?"), params).fetchall()
            finally:
                connection.close()
        with psycopg.connect(self.url, connect_timeout=5, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def drop(self) -> None:
        """Remove the database (PostgreSQL, forcing out any session left) and its folder."""
        try:
            if self.vendor == "postgresql":
                with psycopg.connect(self.admin_url, connect_timeout=5, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(self.name)
                        )
                    )
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)


# Run in the hub's environment after `seed_demo`: the workers also run `alerts_tick`, which
# in a sensitive period (National Day week, the Two Sessions...) pages units that have not
# filed their daily report; those messages would mix with the ones counted here.
QUIET_PERIODS_SCRIPT = """
import django

django.setup()

from alerts.models import AlertSettings, SensitivePeriod
from alerts.services import alert_settings
from incidents.models import District

for district_id in District.objects.values_list("pk", flat=True):
    alert_settings(district_id)
AlertSettings.objects.update(builtin_periods=False)
SensitivePeriod.objects.all().delete()
"""

QUEUE_SCRIPT = """
import json
import sys
from datetime import timedelta

import django

django.setup()

from django.db import transaction
from django.utils import timezone

from alerts.services.outbox import sms_queue
from incidents.models import District

prefix, count, first_number = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
template, params = sys.argv[4], json.loads(sys.argv[5])
district = District.objects.order_by("pk").first()
now = timezone.now()
ids = []
with transaction.atomic():
    for n in range(count):
        message = sms_queue(
            district_id=district.pk,
            key=f"{prefix}{n}",
            to=f"+86139000{first_number + n:05d}",
            template=template,
            params=params,
            reason="clock_overdue",
            validity=timedelta(hours=1),
            now=now,
        )
        ids.append(message.pk)
print(json.dumps(ids))
"""


def run_python(env: dict[str, str], script: str, *args: str) -> str:
    """Run `script` with the venv's Python in the hub's environment; its standard output."""
    done = subprocess.run(  # noqa: S603 (fixed command, no shell)
        [str(PYTHON), "-c", script, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"script failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def database_create(vendor: str, *, label: str) -> HubDatabase:
    """A fresh database (a new PostgreSQL database, or a SQLite file in a temporary folder),
    migrated and seeded with the demo's reference data. DatabaseUnavailable without a
    PostgreSQL server."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"hub-{label}-"))
    env = _hub_env(data_dir)
    env["EMBEDDED_SWEEP"] = "false"
    db = HubDatabase(vendor=vendor, env=env, data_dir=data_dir)
    if vendor == "postgresql":
        server = postgres_server_url()
        db.admin_url = with_database_name(server, "postgres")
        db.name = f"hub_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            with psycopg.connect(db.admin_url, connect_timeout=3, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        except psycopg.Error as exc:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise DatabaseUnavailable(f"PostgreSQL is not usable at {db.admin_url}: {exc}") from exc
        env["DATABASE_URL"] = with_database_name(server, db.name)
    try:
        _manage(env, "migrate", "--noinput", "-v0")
        _manage(env, "seed_demo", "--cases", "0")
        run_python(env, QUIET_PERIODS_SCRIPT)
    except BaseException:
        db.drop()
        raise
    return db


def messages_queue(db: HubDatabase, *, prefix: str, count: int, first_number: int) -> list[int]:
    """Queue `count` messages through `sms_queue` (keys `prefix<n>`, distinct numbers)."""
    output = run_python(
        db.env,
        QUEUE_SCRIPT,
        prefix,
        str(count),
        str(first_number),
        TEMPLATE,
        json.dumps(PARAMS, ensure_ascii=False),
    )
    ids: list[int] = json.loads(output.strip().splitlines()[-1])
    return ids


def status_counts(db: HubDatabase, prefix: str) -> dict[str, int]:
    rows = db.query(
        "SELECT status, COUNT(*) FROM alerts_smsmessage WHERE key LIKE %s GROUP BY status",
        (f"{prefix}%",),
    )
    return {str(status): int(n) for status, n in rows}


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    provider_id: str
    attempts: int
    attempt_started: bool

    @property
    def reference(self) -> str:
        return f"M{self.id}"


def rows_read(db: HubDatabase, prefix: str) -> list[Row]:
    found = db.query(
        "SELECT id, status, provider_id, attempts, attempt_started_at IS NOT NULL"
        " FROM alerts_smsmessage WHERE key LIKE %s ORDER BY id",
        (f"{prefix}%",),
    )
    return [Row(int(a), str(b), str(c), int(d), bool(e)) for a, b, c, d, e in found]


def sent_events(db: HubDatabase, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The data of the `sms.sent` events about these messages."""
    wanted = set(ids)
    events = []
    for (data,) in db.query("SELECT data FROM incidents_event WHERE kind = %s", ("sms.sent",)):
        payload = json.loads(data) if isinstance(data, str | bytes) else data
        if payload.get("message_id") in wanted:
            events.append(payload)
    return events


# --- worker processes ---------------------------------------------------------------------


def worker_env(
    db: HubDatabase,
    fake: FakeTwilioServer,
    *,
    rate: str = RATE_PER_SECOND,
    lease: str | None = LEASE_SECONDS,
    redis_url: str | None = None,
) -> dict[str, str]:
    """The hub's environment for `sms_worker`: Twilio at the fake, this rate and lease."""
    env = {
        **db.env,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM": fake.phone_number,
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "TWILIO_BASE_URL": fake.base_url,
        "SMS_RATE_PER_SECOND": rate,
        # Nothing listens there: the status callbacks are not needed here.
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
    }
    if lease is not None:
        env["SMS_LEASE_SECONDS"] = lease
        # A claim lasts at least three provider timeouts (`send_lease`): keep both short.
        env["TWILIO_TIMEOUT_SECONDS"] = "1"
    if redis_url:
        env["REDIS_URL"] = redis_url
        # Events the workers record are relayed on this Redis: keep them off any hub's.
        env["CHANNEL_PREFIX"] = f"smsworker{uuid.uuid4().hex[:8]}"
    return env


@dataclass
class Worker:
    """One `manage.py sms_worker` process, its output in `log_path`."""

    label: str
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @classmethod
    def start(cls, env: dict[str, str], log_dir: Path, label: str) -> Worker:
        log_path = log_dir / f"worker-{label}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 (fixed command, no shell)
                [str(PYTHON), "manage.py", "sms_worker", "--interval", "0.2"],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(label, log_path, process)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is recorded or rolled back by the worker."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its batch), then SIGKILL if it does not exit."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def sent(self) -> int:
        """What the worker reported sending ("sent N" after each batch)."""
        return sum(int(n) for n in re.findall(r"^sent (\d+)$", self.output(), re.MULTILINE))


def wait_until_sent(
    db: HubDatabase, prefix: str, count: int, workers: Sequence[Worker], timeout: float
) -> dict[str, int]:
    """Poll until the `count` messages of `prefix` are all `sent`; their status counts.

    RuntimeError when a message failed, every worker exited, or `timeout` passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        counts = status_counts(db, prefix)
        if counts.get("sent", 0) == count:
            return counts
        if counts.get("failed") or counts.get("undelivered"):
            raise RuntimeError(f"messages failed: {counts}")
        if all(worker.process.poll() is not None for worker in workers):
            raise RuntimeError(f"every worker exited before the end: {counts}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all sent within {timeout:.0f} s: {counts}")
        time.sleep(0.1)


def workers_stop(workers: Sequence[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in workers:
        worker.stop()


def outputs(workers: Sequence[Worker], chars: int = 3000) -> str:
    return "\n".join(f"--- {w.label} ---\n{w.output()[-chars:]}" for w in workers)


# --- the tests ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest) -> Iterator[HubDatabase]:
    """A database of the hub's own, shared by the workers of this module's tests."""
    try:
        db = database_create(request.param, label="crash")
    except DatabaseUnavailable as exc:
        message = f"{exc}; set TEST_POSTGRES_URL or start PostgreSQL"
        if in_ci():
            pytest.fail(f"CI=true, so the PostgreSQL cases may not be skipped: {message}")
        pytest.skip(message)
    try:
        yield db
    finally:
        db.drop()


@dataclass
class Doubt:
    """Rows a killed worker left `sending` with an attempt started and no outcome."""

    at_provider: list[str]  # the provider has the message: find_sent must find it
    not_at_provider: list[str]  # it never got there: it must be sent again


def doubt_after_kill(db: HubDatabase, prefix: str, fake: FakeTwilioServer) -> Doubt:
    received = {reference_of(m) for m in fake.messages}
    doubt = [
        r.reference for r in rows_read(db, prefix) if r.status == "sending" and r.attempt_started
    ]
    return Doubt(
        at_provider=[ref for ref in doubt if ref in received],
        not_at_provider=[ref for ref in doubt if ref not in received],
    )


def assert_each_sent_once(
    db: HubDatabase, prefix: str, ids: Sequence[int], fake: FakeTwilioServer
) -> list[Row]:
    """Every row is `sent`, its reference reached the fake once, with the fake's sid."""
    rows = rows_read(db, prefix)
    assert sorted(r.id for r in rows) == sorted(ids)
    received = fake.messages
    by_reference = Counter(reference_of(m) for m in received)
    twice = {ref: n for ref, n in by_reference.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    expected = {r.reference for r in rows}
    assert set(by_reference) == expected, (
        f"never received: {sorted(expected - set(by_reference))}; "
        f"not ours: {sorted(set(by_reference) - expected)}"
    )
    assert len(received) == len(ids)
    assert all(fake.count_by_body_reference(r.reference) == 1 for r in rows)
    sid_of = {reference_of(m): m.sid for m in received}
    unsent = [(r.reference, r.status) for r in rows if r.status != "sent"]
    assert not unsent, f"not sent: {unsent[:10]}"
    wrong = [(r.reference, r.provider_id) for r in rows if r.provider_id != sid_of[r.reference]]
    assert not wrong, f"provider_id is not the fake's sid: {wrong[:10]}"
    assert all(r.attempts >= 1 for r in rows)
    events = sent_events(db, ids)
    per_message = Counter(e["message_id"] for e in events)
    assert per_message == Counter(ids), "one sms.sent event per message"
    return rows


def test_a_worker_killed_mid_batch_and_restarted_sends_every_message_once(
    hub_db: HubDatabase, tmp_path: Path
) -> None:
    prefix = f"crash-{uuid.uuid4().hex[:8]}-"
    ids = messages_queue(hub_db, prefix=prefix, count=COUNT, first_number=0)
    workers: list[Worker] = []
    fake = AnswerLateTwilio(answer_delay=ANSWER_DELAY_S, held=(FIRST_KILL_AT, SECOND_KILL_AT))
    with fake:
        env = worker_env(hub_db, fake)
        try:
            doubts = []
            for label, kill_at in (("first", FIRST_KILL_AT), ("second", SECOND_KILL_AT)):
                worker = Worker.start(env, tmp_path, label)
                workers.append(worker)
                assert fake.wait_for_accepted(kill_at, timeout=SEND_TIMEOUT_S), (
                    f"{fake.accepted} accepted; the {label} worker:\n{outputs([worker])}"
                )
                worker.kill()  # while it waits for the (held) answer to send number `kill_at`
                doubt = doubt_after_kill(hub_db, prefix, fake)
                held = reference_of(fake.messages[kill_at - 1])
                assert held in doubt.at_provider, (held, doubt)
                doubts.append(doubt)
            # Two at once: each skips the rows the other is claiming.
            after = [Worker.start(env, tmp_path, f"after-{n}") for n in (1, 2)]
            workers += after
            wait_until_sent(hub_db, prefix, COUNT, after, timeout=SEND_TIMEOUT_S)
        except BaseException:
            print(outputs(workers))
            raise
        finally:
            workers_stop(workers)
        rows = assert_each_sent_once(hub_db, prefix, ids, fake)

    events = sent_events(hub_db, ids)
    recovered = sorted(f"M{e['message_id']}" for e in events if e.get("recovered"))
    reclaimed = [r.reference for r in rows if r.attempts >= 2]
    # A row still in doubt at the second kill would be listed twice.
    at_provider = sorted({ref for d in doubts for ref in d.at_provider})
    resent = sorted({ref for d in doubts for ref in d.not_at_provider})
    print(
        f"{hub_db.vendor}: killed at {FIRST_KILL_AT} and {SECOND_KILL_AT} accepted; "
        f"in doubt at the kills: {len(at_provider)} at the provider {at_provider}, "
        f"{len(resent)} not {resent}; recovered via find_sent: {len(recovered)} {recovered}; "
        f"reclaimed (attempts >= 2): {len(reclaimed)}; "
        f"attempts: {dict(sorted(Counter(r.attempts for r in rows).items()))}"
    )
    # Both kills came while the worker waited for an answer: the crash path was taken.
    assert len(at_provider) >= 2, doubts
    assert set(at_provider) <= set(recovered), "an in-doubt message was not found again"
    assert reclaimed, "no row was claimed again after the kills"


def test_two_workers_started_together_send_every_message_once(
    hub_db: HubDatabase, tmp_path: Path
) -> None:
    prefix = f"pair-{uuid.uuid4().hex[:8]}-"
    ids = messages_queue(hub_db, prefix=prefix, count=COUNT, first_number=COUNT)
    workers: list[Worker] = []
    with AnswerLateTwilio(answer_delay=ANSWER_DELAY_S) as fake:
        env = worker_env(hub_db, fake)
        try:
            workers = [Worker.start(env, tmp_path, f"pair-{n}") for n in (1, 2)]
            wait_until_sent(hub_db, prefix, COUNT, workers, timeout=SEND_TIMEOUT_S)
        except BaseException:
            print(outputs(workers))
            raise
        finally:
            workers_stop(workers)
        rows = assert_each_sent_once(hub_db, prefix, ids, fake)
    shares = {w.label: w.sent() for w in workers}
    print(
        f"{hub_db.vendor}: sent per worker {shares}; "
        f"attempts: {dict(sorted(Counter(r.attempts for r in rows).items()))}"
    )
    assert all(shares.values()), f"one worker sent nothing: {shares}"
