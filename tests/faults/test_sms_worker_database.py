"""The SMS worker loses its database connection mid-batch, twice, and goes on sending.

The fault: a real `manage.py sms_worker` process sends a queue through the real Twilio SDK
to the loopback fake, on a PostgreSQL database of its own, and every backend connected to
that database is terminated (`pg_terminate_backend`, what a restart or failover does to a
running worker's connection) while it sends: once when the fake has accepted 30 messages,
again at 80. The second cut lands while the worker is still retrying or just back.

The proof:
- the same worker process, never restarted, sends the whole queue: a dropped connection is
  a pause with a logged warning, not an exit (before, the worker died on the first cut and
  waited for its supervisor);
- every message reached the provider exactly once with one `sms.sent` event: the one whose
  outcome the cut kept from being recorded is found at the provider by its reference when
  its lease runs out, not sent again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.test_worker_crash import (
    AnswerLateTwilio,
    HubDatabase,
    Worker,
    assert_each_sent_once,
    messages_queue,
    outputs,
    wait_until_sent,
    worker_env,
    workers_stop,
)
from tests.faults.conftest import postgres_database, terminate_backends

pytestmark = pytest.mark.own_databases

COUNT = 120
CUT_AT = (30, 80)  # messages the provider accepted when the connections are cut
ANSWER_DELAY_S = 0.03
SEND_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def sms_db() -> Iterator[HubDatabase]:
    """A database of this module's own: nothing else queued in it."""
    with postgres_database("smsdb") as db:
        yield db


def wait_accepted(fake: AnswerLateTwilio, count: int, worker: Worker) -> None:
    """Until the fake accepted `count` messages; fails at once when the worker exits."""
    deadline = time.monotonic() + SEND_TIMEOUT_S
    while not fake.wait_for_accepted(count, timeout=0.5):
        assert worker.process.poll() is None, f"the worker exited:\n{outputs([worker])}"
        assert time.monotonic() < deadline, f"{fake.accepted} accepted:\n{outputs([worker])}"


def test_the_sms_worker_sends_through_dropped_connections_each_message_once(
    sms_db: HubDatabase, tmp_path: Path
) -> None:
    prefix = f"dbcut-{uuid.uuid4().hex[:8]}-"
    ids = messages_queue(sms_db, prefix=prefix, count=COUNT, first_number=0)
    worker: Worker | None = None
    with AnswerLateTwilio(answer_delay=ANSWER_DELAY_S) as fake:
        env = worker_env(sms_db, fake)
        try:
            worker = Worker.start(env, tmp_path, "dbcut")
            cut = []
            for at in CUT_AT:
                wait_accepted(fake, at, worker)
                cut.append(terminate_backends(sms_db))
            wait_until_sent(sms_db, prefix, COUNT, [worker], timeout=SEND_TIMEOUT_S)
            alive = worker.process.poll() is None
        except BaseException:
            print(outputs([worker] if worker else []))
            raise
        finally:
            workers_stop([worker] if worker else [])
        assert_each_sent_once(sms_db, prefix, ids, fake)
    output = worker.output()
    print(f"connections cut: {cut}; worker output:\n{output[-2000:]}")
    assert cut[0] >= 1, "the first cut found no connection of the worker"
    assert alive, f"the worker exited:\n{output[-3000:]}"
    assert "database unavailable" in output
