"""The SMS outbox at its configured rate: N messages to the fake Twilio through worker
processes, beside a baseline measured in the same run.

What runs (defaults: 1,000 messages, 50 a second, 2 workers):

- a fresh database: a new PostgreSQL database when the server answers (TEST_POSTGRES_URL's,
  else 127.0.0.1:5432), else a SQLite file in a temporary folder (`--database` chooses),
  migrated and seeded with `seed_demo --cases 0`;
- the baseline: the same messages sent straight through `TwilioBackend.send` in this
  process, one after another, paced by a `LocalRateLimiter(rate)`: no outbox, no database,
  no other process;
- the outbox, shared limiter: the messages queued by `sms_queue`, then `--workers`
  `manage.py sms_worker` processes with SMS_RATE_PER_SECOND=rate and REDIS_URL set, so
  they share one GCRA limiter in Redis (its key, `hub:sms:rate`, is deleted first);
- the outbox, per-process limiters: the same without REDIS_URL. Each worker then keeps the
  rate on its own, so together they send about `workers` times too fast: the reason the
  limiter is shared.

The databases, the fake and the worker processes are those of the crash test
(`tests/alerts/test_worker_crash.py`); the fake answers at once here.

Every figure comes from the fake's arrival times (`time.monotonic()` as it accepted each
message). Achieved rate: the intervals between the first and last arrival over their span,
(n - 1) / (last - first), so that messages spaced exactly 1/rate apart read as the rate.
"Max in 1 s": the most arrivals in any 1-second window, which a shared limiter keeps at the
rate (one more for the jitter of a send's start). Duplicates: references the fake accepted
more than once. Losses: messages the fake never accepted, or whose row is not `sent`.
Wall time runs from the first send to the last answer (the baseline), or from the workers'
start (their start-up included) to the last message recorded as sent (the outbox).

Run: `make bench`, or `.venv/bin/python tests/bench/bench_sms_outbox.py` (`--help` for the
options). Needs Redis (`--redis-url`). Exits non-zero when a message is lost or sent twice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
# This process only sends the baseline; its settings must not point at a real database.
SCRATCH = Path(tempfile.mkdtemp(prefix="hub-bench-sms-"))
os.environ["DATA_DIR"] = str(SCRATCH)
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from alerts.backends.base import OutgoingSms  # noqa: E402
from alerts.backends.twilio import TwilioBackend  # noqa: E402
from alerts.domain.messages import render  # noqa: E402
from alerts.ratelimit import LocalRateLimiter  # noqa: E402
from tests.alerts.test_worker_crash import (  # noqa: E402
    PARAMS,
    TEMPLATE,
    AnswerLateTwilio,
    DatabaseUnavailable,
    HubDatabase,
    Worker,
    database_create,
    messages_queue,
    outputs,
    reference_of,
    rows_read,
    wait_until_sent,
    worker_env,
    workers_stop,
)
from tests.bench import table as bench_table  # noqa: E402
from tests.fakes.twilio_server import ReceivedMessage  # noqa: E402

RATE_KEY = "hub:sms:rate"  # alerts.ratelimit.RedisRateLimiter's key
REDIS_FALLBACK_LOG = "Redis unavailable"  # what a worker logs when it limits on its own
WINDOW_S = 1.0


@dataclass
class Run:
    """What one way of sending measured."""

    label: str
    expected: list[str]  # the references that should each arrive once
    arrivals: list[ReceivedMessage]
    wall_s: float
    unsent: list[str] = field(default_factory=list)  # rows not `sent` at the end
    notes: list[str] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return sorted(m.received_at for m in self.arrivals)

    @property
    def achieved_rate(self) -> float:
        times = self.times
        if len(times) < 2 or times[-1] == times[0]:
            return float("nan")
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def max_in_window(self) -> int:
        """The most arrivals in any WINDOW_S-long window (t - WINDOW_S, t]."""
        times, first, most = self.times, 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= WINDOW_S:
                first += 1
            most = max(most, last - first + 1)
        return most

    @property
    def by_reference(self) -> Counter[str]:
        return Counter(reference_of(m) for m in self.arrivals)

    @property
    def duplicates(self) -> dict[str, int]:
        return {ref: n for ref, n in self.by_reference.items() if n > 1}

    @property
    def strangers(self) -> list[str]:
        """Accepted references that are none of the expected ones."""
        return sorted(set(self.by_reference) - set(self.expected))

    @property
    def losses(self) -> list[str]:
        never = set(self.expected) - set(self.by_reference)
        return sorted(never | set(self.unsent))

    @property
    def failed(self) -> bool:
        return bool(self.duplicates or self.losses or self.strangers)

    @property
    def problems(self) -> list[str]:
        found = list(self.notes)
        if self.duplicates:
            found.append(f"sent more than once: {self.duplicates}")
        if self.losses:
            found.append(f"lost: {self.losses[:20]}")
        if self.strangers:
            found.append(f"not ours: {self.strangers[:20]}")
        return found


# --- the three ways of sending --------------------------------------------------------------


def baseline_run(count: int, rate: float) -> Run:
    """The messages straight through the backend, paced in this process alone."""
    with AnswerLateTwilio() as fake:
        overrides = {
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "TWILIO_FROM": fake.phone_number,
            "TWILIO_MESSAGING_SERVICE_SID": "",
            "TWILIO_BASE_URL": fake.base_url,
        }
        references = [f"M{n}" for n in range(1, count + 1)]
        outgoing = [
            OutgoingSms(
                id=n,
                to=f"+86139000{n:05d}",
                body=render(TEMPLATE, {**PARAMS, "ref": ref}),
                template=TEMPLATE,
                params={**PARAMS, "ref": ref},
                reference=ref,
                validity_seconds=3600,
            )
            for n, ref in enumerate(references, start=1)
        ]
        with override_settings(**overrides):
            backend = TwilioBackend()
            limiter = LocalRateLimiter(rate)
            started = time.monotonic()
            for message in outgoing:
                limiter.acquire()
                backend.send(message)
            wall = time.monotonic() - started
        return Run("baseline: TwilioBackend.send, one process", references, fake.messages, wall)


def outbox_run(
    db: HubDatabase,
    *,
    label: str,
    count: int,
    rate: float,
    workers: int,
    redis_url: str | None,
    log_dir: Path,
) -> Run:
    """Queue `count` messages, then send them with `workers` sms_worker processes."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    ids = messages_queue(db, prefix=prefix, count=count, first_number=0)
    references = [f"M{pk}" for pk in ids]
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
        try:
            client.delete(RATE_KEY)
        finally:
            client.close()
    notes: list[str] = []
    with AnswerLateTwilio() as fake:
        env = worker_env(db, fake, rate=f"{rate:g}", lease=None, redis_url=redis_url)
        started = time.monotonic()
        processes: list[Worker] = []
        try:
            for n in range(1, workers + 1):
                processes.append(Worker.start(env, log_dir, f"{prefix}{n}"))
            wait_until_sent(db, prefix, count, processes, timeout=60 + 3 * count / rate)
        except RuntimeError as exc:
            notes.append(f"{exc}\n{outputs(processes)}")
        finally:
            wall = time.monotonic() - started
            workers_stop(processes)
        arrivals = fake.messages
    fallbacks = sum(w.output().count(REDIS_FALLBACK_LOG) for w in processes)
    if redis_url and fallbacks:
        notes.append(f"{fallbacks} sends limited without Redis (it did not answer)")
    unsent = [r.reference for r in rows_read(db, prefix) if r.status != "sent"]
    return Run(label, references, arrivals, wall, unsent=unsent, notes=notes)


# --- the report -------------------------------------------------------------------------------


def table(runs: Sequence[Run], rate: float) -> list[str]:
    lines = [
        "| run | accepted | achieved rate | of configured | max in any 1 s "
        "| duplicates | losses | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.label} | {len(run.arrivals)}/{len(run.expected)} "
            f"| {run.achieved_rate:.2f}/s | {run.achieved_rate / rate:.2f}x "
            f"| {run.max_in_window} | {len(run.duplicates)} | {len(run.losses)} "
            f"| {run.wall_s:.1f} s |"
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per run")
    parser.add_argument("--rate", type=float, default=50.0, help="SMS_RATE_PER_SECOND")
    parser.add_argument("--workers", type=int, default=2, help="sms_worker processes")
    parser.add_argument(
        "--database",
        choices=["auto", "sqlite", "postgres"],
        default="auto",
        help="auto: PostgreSQL when it answers, else SQLite",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    if args.messages < 2 or args.rate <= 0 or args.workers < 1:
        parser.error("--messages must be at least 2, --rate positive, --workers at least 1")
    return args


def database_for(choice: str) -> HubDatabase:
    if choice == "sqlite":
        return database_create("sqlite", label="bench")
    try:
        return database_create("postgresql", label="bench")
    except DatabaseUnavailable as exc:
        if choice == "postgres":
            raise
        print(f"{exc}; using SQLite.", flush=True)
        return database_create("sqlite", label="bench")


def main(argv: Sequence[str] | None = None) -> int:
    db: HubDatabase | None = None
    try:
        args = parse_args(argv)
        client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=3)
        try:
            client.ping()
        except redis.RedisError as exc:
            print(f"error: Redis is not reachable at {args.redis_url}: {exc}", file=sys.stderr)
            return 1
        finally:
            client.close()
        try:
            db = database_for(args.database)
        except DatabaseUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(
            f"database: {db.vendor}; {args.messages} messages at {args.rate:g}/s; "
            f"{args.workers} workers; Redis: {args.redis_url}",
            flush=True,
        )
        runs = [baseline_run(args.messages, args.rate)]
        print(f"  {runs[-1].label}: done", flush=True)
        for label, redis_url in (
            (f"outbox, {args.workers} workers, shared Redis limiter", args.redis_url),
            (f"outbox, {args.workers} workers, each its own limiter", None),
        ):
            runs.append(
                outbox_run(
                    db,
                    label=label,
                    count=args.messages,
                    rate=args.rate,
                    workers=args.workers,
                    redis_url=redis_url,
                    log_dir=db.data_dir,
                )
            )
            print(f"  {label}: done", flush=True)
        print(f"\n### SMS outbox at {args.rate:g}/s ({db.vendor})\n")
        print("\n".join(table(runs, args.rate)))
        baseline, shared, alone = runs
        ratio = shared.achieved_rate / baseline.achieved_rate
        for run in (shared, alone):
            bench_table.record(
                "sms_outbox",
                f"{run.label}: achieved rate, {args.messages} messages at {args.rate:g}/s "
                f"(max in 1 s: {run.max_in_window}; lost {len(run.losses)}, "
                f"twice {len(run.duplicates)})",
                f"{run.achieved_rate:.2f}/s",
                f"{baseline.achieved_rate:.2f}/s ({baseline.label})",
                f"{run.achieved_rate / baseline.achieved_rate:.3f}x",
            )
        print(
            f"\nShared limiter against the baseline: {shared.achieved_rate:.2f}/s against "
            f"{baseline.achieved_rate:.2f}/s, ratio {ratio:.3f}."
            f"\nWithout Redis: {alone.achieved_rate:.2f}/s, "
            f"{alone.achieved_rate / args.rate:.2f} times the configured rate, up to "
            f"{alone.max_in_window} in one second"
            + (
                ": each worker keeps the rate for itself only."
                if alone.max_in_window > args.rate + 1
                else " (not above the rate: the workers' batches, up to 100, hardly overlapped)."
            )
        )
        problems = [f"{run.label}: {problem}" for run in runs for problem in run.problems]
        if problems:
            print("\nProblems:\n" + "\n".join(f"- {p}" for p in problems))
        if any(run.failed for run in runs):
            print("FAILED: messages lost or sent twice.", file=sys.stderr)
            return 1
        return 0
    finally:
        if db is not None:
            db.drop()
        shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
