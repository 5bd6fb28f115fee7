"""A Celery worker is killed in the middle of a task; a restarted one finishes the job once.

The fault: a real Celery worker (solo pool, the hub's Redis broker under a prefix of its
own) runs `alerts.tasks.send_outbox`, sending queued SMS through the real Twilio SDK to the
loopback fake Twilio, and gets SIGKILL while it waits for the provider's answer to a message
the provider already accepted: mid-task, mid-send, nothing recorded.

The proof:
- the task's message is not lost: with `CELERY_TASK_ACKS_LATE` it is still unacknowledged in
  the broker after the kill. Redis gives it back once the broker's visibility timeout
  (an hour by default) has passed; the test runs kombu's own restore at once instead of
  waiting that long;
- a restarted worker receives the same task (same id) and runs it to the end;
- every message reached the provider exactly once, with one `sms.sent` event each: the one
  in doubt at the kill was found at the provider by its reference, not sent again.

The task holds no state of its own: it claims rows of the outbox with a lease, so running
it again (or beat's next `send-sms`, every SMS_SWEEP_SECONDS) is safe and needed no
broker redelivery at all; the redelivery shown here is a second line.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from tests.alerts.test_worker_crash import (
    AnswerLateTwilio,
    Worker,
    assert_each_sent_once,
    doubt_after_kill,
    messages_queue,
    reference_of,
    sent_events,
    status_counts,
    worker_env,
)
from tests.e2e.conftest import BASE_DIR, VENV_BIN
from tests.faults.conftest import FaultHub, wait_until

pytestmark = [pytest.mark.own_databases, pytest.mark.redis]

COUNT = 40
KILL_AT = 15  # messages the provider accepted when the worker is killed
ANSWER_DELAY_S = 0.03
# The lease of a claim: three of the provider timeouts `worker_env` sets (1 s).
LEASE_S = 3.0
SEND_TIMEOUT_S = 60.0
TASK = "alerts.tasks.send_outbox"


class CeleryWorker(Worker):
    """One `celery worker` process of the hub, its output in `log_path`.

    Killed and stopped as the outbox worker is (`Worker.kill`, `Worker.stop`).
    """

    @classmethod
    def start(cls, env: dict[str, str], log_dir: Path, label: str) -> CeleryWorker:
        log_path = log_dir / f"celery-{label}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 (fixed command, no shell)
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "command_center",
                    "worker",
                    "--pool",
                    "solo",
                    "--without-gossip",
                    "--without-mingle",
                    "--hostname",
                    f"faults-{label}-{uuid.uuid4().hex[:6]}@%h",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(label, log_path, process)

    def received(self) -> list[str]:
        """Ids of the send tasks this worker received."""
        return re.findall(rf"Task {re.escape(TASK)}\[([0-9a-f-]+)\] received", self.output())


def broker(url: str, prefix: str, **options: Any) -> Celery:
    """A Celery client of the hub's broker (the keys under `prefix`, as the hub sets)."""
    app = Celery("faults", broker=url, set_as_current=False)
    app.conf.broker_transport_options = {"global_keyprefix": f"{prefix}:", **options}
    return app


def unacked_task_ids(url: str, prefix: str) -> list[str]:
    """Ids of the tasks delivered to a worker and not acknowledged (kombu's unacked hash)."""
    client = redis.Redis.from_url(url)
    ids = []
    for raw in client.hvals(f"{prefix}:unacked"):
        message, _exchange, _routing_key = json.loads(raw)
        ids.append(str(message["headers"]["id"]))
    return ids


def test_a_celery_worker_killed_mid_task_leaves_the_task_to_a_restarted_worker(
    fault_db: FaultHub, redis_url: str, tmp_path: Path
) -> None:
    db = fault_db.db
    batch = f"celery-{uuid.uuid4().hex[:8]}-"
    ids = messages_queue(db, prefix=batch, count=COUNT, first_number=50_000)
    fake = AnswerLateTwilio(answer_delay=ANSWER_DELAY_S, held=(KILL_AT,))
    workers: list[CeleryWorker] = []
    with fake:
        env = worker_env(db, fake, rate="50", lease="2", redis_url=redis_url)
        prefix = env["CHANNEL_PREFIX"]
        app = broker(redis_url, prefix)
        try:
            first = CeleryWorker.start(env, tmp_path, "first")
            workers.append(first)
            task_id = app.send_task(TASK).id
            assert fake.wait_for_accepted(KILL_AT, timeout=SEND_TIMEOUT_S), first.output()
            first.kill()  # waiting for the (held) answer to message number KILL_AT
            doubt = doubt_after_kill(db, batch, fake)
            held = reference_of(fake.messages[KILL_AT - 1])
            assert held in doubt.at_provider, doubt
            assert first.received() == [task_id]
            # Not acknowledged: the broker still holds it for a worker to come.
            assert unacked_task_ids(redis_url, prefix) == [task_id]
            unsent = status_counts(db, batch)
            assert unsent.get("sent", 0) < COUNT, unsent

            time.sleep(LEASE_S + 0.5)  # the killed worker's claims run out
            # The visibility timeout, fast-forwarded: kombu puts the message back in the queue.
            with broker(redis_url, prefix, visibility_timeout=0).connection_for_write() as conn:
                conn.default_channel.qos.restore_visible(num=100)
            assert unacked_task_ids(redis_url, prefix) == []
            second = CeleryWorker.start(env, tmp_path, "second")
            workers.append(second)
            wait_until(
                "the restarted worker sends every message",
                lambda: status_counts(db, batch).get("sent", 0) == COUNT,
                timeout=SEND_TIMEOUT_S,
            )
            wait_until(
                "the restarted worker finishes the task",
                lambda: f"Task {TASK}[{task_id}] succeeded" in second.output(),
                timeout=10,
            )
        except BaseException:
            for worker in workers:
                print(worker.output()[-4000:])
            raise
        finally:
            for worker in workers:
                worker.stop()
            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)
        assert second.received() == [task_id]  # the same task, delivered again
        assert_each_sent_once(db, batch, ids, fake)
    events = sent_events(db, ids)
    recovered = sorted(f"M{e['message_id']}" for e in events if e.get("recovered"))
    assert held in recovered, (held, recovered)
