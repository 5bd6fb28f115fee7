"""Keeps messages in memory for tests, like `django.core.mail.backends.locmem`.

`outbox` holds every message taken, in order. To make the provider fail, put errors in
`failures`: each `send` pops the first one and raises it instead of sending, so a test
scripts "throttled, then unsubscribed" as `failures.extend([SmsError(...), SmsError(...)])`.
Call `reset()` between tests (both lists are module-level, shared by every instance).
"""

from __future__ import annotations

import threading
import uuid

from alerts.backends.base import OutgoingSms, SendResult, SmsBackend, SmsError

outbox: list[OutgoingSms] = []
failures: list[SmsError] = []

# The result handed out for each message taken, matched to `outbox` entries by identity so
# that a test that rebinds or clears `outbox` never sees a stale result.
_results: list[tuple[OutgoingSms, SendResult]] = []
_lock = threading.Lock()


def reset() -> None:
    """Empty the outbox and the scripted failures."""
    with _lock:
        outbox.clear()
        failures.clear()
        _results.clear()


class LocmemBackend(SmsBackend):
    name = "locmem"

    def send(self, message: OutgoingSms) -> SendResult:
        with _lock:
            if failures:
                raise failures.pop(0)
            # A uuid rather than a counter: ids stay unique across reset(), as a provider's do.
            result = SendResult(
                provider=self.name, provider_id=f"LM{uuid.uuid4().hex}", status="queued"
            )
            outbox.append(message)
            _results.append((message, result))
            return result

    def find_sent(self, message: OutgoingSms, *, since_epoch: float) -> SendResult | None:
        """The result of the latest message in `outbox` with the same reference.

        `since_epoch` is not applied: the outbox only ever holds the current test's messages,
        and tests that fake the clock would otherwise see their messages vanish.
        """
        if not message.reference:
            return None
        with _lock:
            for sent in reversed(outbox):
                if sent.reference != message.reference:
                    continue
                for taken, result in _results:
                    if taken is sent:
                        return result
        return None
