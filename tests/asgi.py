"""Requests through Django's real ASGI handler, without the test client's shortcuts."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler


def asgi_post(
    path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    """POST `chunks` (as separate http.request messages) and return status, headers, body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }

    async def run() -> tuple[int, dict[bytes, bytes], bytes]:
        comm = ApplicationCommunicator(ASGIHandler(), scope)
        for i, chunk in enumerate(chunks):
            await comm.send_input(
                {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            )
        start = await comm.receive_output(timeout=20)
        body = b""
        while True:
            message = await comm.receive_output(timeout=20)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await comm.wait(timeout=5)
        return start["status"], {k.lower(): v for k, v in start["headers"]}, body

    return async_to_sync(run)()
