"""Prints each message instead of sending it: the development default."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from alerts.backends.base import OutgoingSms, SendResult, SmsBackend

# One lock for every instance: blocks from concurrent workers must not interleave.
_write_lock = threading.Lock()


class ConsoleBackend(SmsBackend):
    """Writes one readable block per message to `stream` (standard output by default)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, message: OutgoingSms) -> SendResult:
        # Looked up per call, not at import, so pytest's capsys and redirections see it.
        stream = self.stream or sys.stdout
        block = (
            f"--- SMS {message.reference or message.id} ---\n"
            f"To: {message.to}\n"
            f"Reference: {message.reference or '-'}\n"
            f"Template: {message.template}\n"
            f"{message.body}\n"
            f"{'-' * 40}\n"
        )
        with _write_lock:
            stream.write(block)
            stream.flush()
        return SendResult(
            provider=self.name,
            provider_id=f"console-{message.reference or message.id}",
            status="sent",
        )
