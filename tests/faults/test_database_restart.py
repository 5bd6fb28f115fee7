"""The database drops every connection under load; no accepted case is lost or doubled.

The fault: while several clients register cases through the API of a real uvicorn process
of the hub (on PostgreSQL), every backend connected to the hub's database is terminated
(`pg_terminate_backend`), twice: what a PostgreSQL restart or failover does to the
connections of a running application. The shared server itself is never restarted.

The clients behave as a real integration does: each request carries an `Idempotency-Key`,
and a connection error or a 5xx answer is retried with the same key and body.

The proof:
- every request ends with a 2xx answer, and every answer names a different case;
- the database holds exactly one case per request (retries made no duplicate), with
  exactly one `case.registered` event each, and one idempotency record per key;
- the same server process, never restarted, serves the first request after all its
  connections were cut again while idle (with and without a connection pool: a pool
  checks a connection before lending it, so none of its dead ones reaches a request), and
  its background loops (clock sweep, outbox, event relay) run again: `/readyz` is 200.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.factories import credit_code, intake_payload
from tests.faults.conftest import FaultHub, Server, http_json, terminate_backends

pytestmark = pytest.mark.own_databases

CLIENTS = 5
CASES_PER_CLIENT = 4
KILLS = 2
RETRY_FOR_S = 30.0
POOL_SIZE = 4
# Requests made one at a time after the idle connections were cut: more than a pool holds.
FIRST_TRIES = POOL_SIZE + 2
# A loop is stale after three missed beats (3 s here): it must be fresh again by then.
READY_TIMEOUT_S = 10.0


@dataclass
class Outcome:
    key: str
    credit_code: str
    status: int = 0
    body: Any = None
    tries: int = 0
    errors: list[str] = field(default_factory=list)


def register_with_retries(server: Server, token: str, outcome: Outcome) -> None:
    """POST one case as a real client would: the same key and body until a 2xx answer."""
    name = f"湖州{outcome.credit_code[-6:]}劳务有限公司"
    payload = intake_payload(employer={"name": name, "credit_code": outcome.credit_code})
    deadline = time.monotonic() + RETRY_FOR_S
    while time.monotonic() < deadline:
        outcome.tries += 1
        try:
            status, body = http_json(
                "POST",
                f"{server.url}/api/v1/cases",
                token=token,
                body=payload,
                headers={"Idempotency-Key": outcome.key},
            )
        except OSError as exc:
            outcome.errors.append(type(exc).__name__)
        else:
            if status < 500:
                outcome.status, outcome.body = status, body
                return
            outcome.errors.append(str(status))
        time.sleep(0.1)


def wait_ready(server: Server, timeout: float) -> tuple[int, Any]:
    """Poll /readyz until 200 or `timeout`; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = http_json("GET", f"{server.url}/readyz")
        if answer[0] == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


@pytest.mark.parametrize("pool_size", ["0", str(POOL_SIZE)])
def test_cases_registered_while_the_database_drops_connections_are_each_stored_once(
    fault_db: FaultHub, tmp_path: Path, pool_size: str
) -> None:
    env = {
        **fault_db.env,
        "DATABASE_POOL_SIZE": pool_size,
        # The process's own background loops (clock sweep, outbox, relay) run every second,
        # so that /readyz shows within seconds whether they work again.
        "EMBEDDED_SWEEP": "true",
        "CLOCK_SWEEP_SECONDS": "1",
        "SMS_SWEEP_SECONDS": "1",
        "RELAY_SWEEP_SECONDS": "1",
    }
    clerk = fault_db.tokens["clerk_lianshi"]
    run = uuid.uuid4().hex[:8]
    outcomes = [
        Outcome(key=f"db-restart-{run}-{n}", credit_code=credit_code())
        for n in range(CLIENTS * CASES_PER_CLIENT)
    ]
    server = Server.start(env, tmp_path, f"db-restart-pool{pool_size}")
    killed: list[int] = []
    try:

        def client(mine: list[Outcome]) -> None:
            for outcome in mine:
                register_with_retries(server, clerk, outcome)

        threads = [
            threading.Thread(target=client, args=(outcomes[n::CLIENTS],), daemon=True)
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        total = len(outcomes)
        for kill in range(1, KILLS + 1):
            # Strike in the thick of it: after a share of the requests were answered.
            while sum(1 for o in outcomes if o.status) < total * kill // (KILLS + 1):
                if not any(t.is_alive() for t in threads):
                    break
                time.sleep(0.02)
            killed.append(terminate_backends(fault_db.db))
        for thread in threads:
            thread.join(RETRY_FOR_S + 10)
        # Idle now: cut every connection again, then requests one at a time, none retried,
        # enough to go through every connection a pool holds.
        time.sleep(0.5)
        killed.append(terminate_backends(fault_db.db))
        first_tries = []
        for n in range(FIRST_TRIES):
            payload = intake_payload(
                employer={"name": f"湖州恢复{n}建筑劳务有限公司", "credit_code": credit_code()}
            )
            status, _body = http_json(
                "POST",
                f"{server.url}/api/v1/cases",
                token=clerk,
                body=payload,
                headers={"Idempotency-Key": f"db-restart-{run}-after-{n}"},
            )
            first_tries.append(status)
        # Its background loops work again too (each beats /readyz only after a good round).
        ready = wait_ready(server, timeout=READY_TIMEOUT_S)
        alive = server.process.poll() is None
    except BaseException:
        print(server.output())
        raise
    finally:
        server.stop()

    retried = {o.key: o.errors for o in outcomes if o.errors}
    print(
        f"pool {pool_size}: backends terminated per strike {killed}; "
        f"requests retried {len(retried)}: {retried}"
    )
    assert all(n >= 1 for n in killed[:KILLS]), killed
    # Every request was answered 2xx, each with a case of its own.
    unanswered = [(o.key, o.status, o.errors) for o in outcomes if o.status not in (200, 201)]
    assert not unanswered, unanswered
    assert all(o.status == 201 and o.body["merged"] is False for o in outcomes)
    numbers = [str(o.body["case_number"]) for o in outcomes]
    assert len(set(numbers)) == len(numbers)
    # Exactly one case per request in the database, with one registration event each.
    codes = [o.credit_code for o in outcomes]
    stored = fault_db.query(
        "SELECT c.number FROM incidents_case c JOIN incidents_enterprise e"
        " ON e.id = c.employer_id WHERE e.credit_code = ANY(%s)",
        (codes,),
    )
    assert sorted(n for (n,) in stored) == sorted(numbers)
    registered = Counter(
        n
        for (n,) in fault_db.query(
            "SELECT data->>'case_number' FROM incidents_event"
            " WHERE kind = 'case.registered' AND data->>'case_number' = ANY(%s)",
            (numbers,),
        )
    )
    assert registered == Counter(numbers)
    keys = fault_db.query(
        "SELECT key FROM incidents_idempotencyrecord WHERE key = ANY(%s)",
        ([o.key for o in outcomes],),
    )
    assert sorted(k for (k,) in keys) == sorted(o.key for o in outcomes)
    # The same process served the first request after its connections were cut again.
    assert alive
    assert first_tries == [201] * FIRST_TRIES, first_tries
    assert ready[0] == 200, ready
