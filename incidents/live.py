"""The base of every live socket: who is connecting, which stream they read, and replay.

A `LiveConsumer` serves one event stream (see `incidents.events`) to one person.

- Who: a browser brings its session and must send an `Origin` of this site; a client
  without a session (an integration) brings a one-time `?ticket=` from
  `POST /api/v1/ws-ticket`. A foreign `Origin` is refused either way.
- What: a subclass's `authorize` names the stream the person may read, or refuses. It runs
  on connect, on every client action and at least every `WS_RECHECK_SECONDS`; logout or a
  role change closes the socket at once (`hub.revoke` to the person's group).
- Order: frames reach the client in rising `id` without duplicates. Each frame from the
  channel layer names the stream's previous event (`prev`); a frame whose predecessor the
  client has not been sent means the layer lost something, and the consumer replays the
  stream from the log. `{"type": "resume", "after": N}` replays what a reconnecting client
  missed, then live frames follow. Live frames are held from `hello` until the client's
  `resume` (or `RESUME_GRACE_SECONDS` without one), so that none overtakes the replay.
- The fan-out costs no query: a live frame is checked against `last_id` in memory.
- Catch-up: every `WS_CATCH_UP_SECONDS` a socket compares its stream's newest event in the
  log with what it sent and replays the difference. The sockets of one process share one
  reading per stream per half period (`StreamHeads`), so 500 screens on one stream cost a
  query every 15 s, not 17 a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.http.request import validate_host
from django.utils.translation import gettext as _

from command_center.ops.store import ws_closed, ws_opened
from incidents.domain.streams import user_group
from incidents.errors import Forbidden, ServiceError
from incidents.events import event_frame, stream_events, stream_head
from incidents.policy import Actor, actor_for
from incidents.services import ws_ticket_redeem

log = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's own).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_REVOKED = 4409
MAX_FRAME_BYTES = 16 * 1024
REPLAY_PAGE = 500
REPLAY_MAX_PAGES = 20
# A client may send this many frames per second on average (bursts of twice that).
FRAMES_PER_SECOND = 5.0
HEARTBEAT_SECONDS = 30.0
# How long live frames wait after `hello` for the client's `resume`.
RESUME_GRACE_SECONDS = 2.0
HOLD_MAX = 1000
# Channel-layer messages whose handlers need no database connection of their own.
FAST_PATH = frozenset({"hub.event", "hub.presence", "hub.revoke"})


class Refused(Exception):
    """Connection or action refused; `code` is the close code when the socket must end."""

    def __init__(self, detail: str, code: int = CLOSE_FORBIDDEN) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


def origin_allowed(scope: dict[str, Any]) -> bool | None:
    """True for an Origin of this site, False for a foreign one, None when there is none."""
    headers = dict(scope.get("headers") or [])
    raw = headers.get(b"origin")
    if raw is None:
        return None
    origin = raw.decode("latin1")
    parsed = urlparse(origin)
    if not parsed.scheme or not parsed.hostname:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = headers.get(b"host", b"").decode("latin1")
    return parsed.netloc == host and validate_host(parsed.hostname, settings.ALLOWED_HOSTS)


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class StreamHeads:
    """Each stream's newest event id, read from the log at most once per `ttl` seconds.

    Shared by the sockets of one event loop (`heads_of_loop`): concurrent askers of a stream
    wait for the one reading under way instead of each querying. A reading may be up to
    `ttl` old, which delays a catch-up by at most that much.
    """

    PRUNE_ABOVE = 10_000

    def __init__(self, ttl: float, read: Callable[[str], Awaitable[int]]) -> None:
        self.ttl = ttl
        self.read = read
        self.heads: dict[str, tuple[float, int]] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    async def head(self, stream: str) -> int:
        lock = self.locks.setdefault(stream, asyncio.Lock())
        async with lock:
            known = self.heads.get(stream)
            if known is not None and time.monotonic() - known[0] < self.ttl:
                return known[1]
            value = await self.read(stream)
            self.heads[stream] = (time.monotonic(), value)
        if len(self.heads) > self.PRUNE_ABOVE:
            self._prune()
        return value

    def _prune(self) -> None:
        """Forget the readings too old to be used (closed incidents' rooms, mostly), and the
        locks of streams whose reading failed."""
        now = time.monotonic()
        for stream, lock in list(self.locks.items()):
            known = self.heads.get(stream)
            if (known is None or now - known[0] >= self.ttl) and not lock.locked():
                self.heads.pop(stream, None)
                del self.locks[stream]


_heads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StreamHeads] = (
    weakref.WeakKeyDictionary()
)


def heads_of_loop() -> StreamHeads:
    """The running event loop's `StreamHeads` (asyncio locks belong to one loop)."""
    loop = asyncio.get_running_loop()
    heads = _heads.get(loop)
    if heads is None:
        heads = StreamHeads(settings.WS_CATCH_UP_SECONDS / 2, database_sync_to_async(stream_head))
        _heads[loop] = heads
    return heads


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """One person reading one stream. Subclasses implement `authorize` and their actions."""

    stream: str = ""
    actor: Actor | None = None
    last_id: int = 0
    session_key: str | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channel-layer messages skip Channels' per-message `aclose_old_connections()`:
        it is a hop to the one thread that runs every database call, and the fan-out of
        one event to a thousand sockets would queue behind it. Their handlers touch the
        database only through `database_sync_to_async`, which closes old connections."""
        if message.get("type") in FAST_PATH:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    @property
    def me(self) -> Actor:
        """The connected person (set once the connection is authorized)."""
        if self.actor is None:
            raise RuntimeError("socket not authorized")
        return self.actor

    # --- subclass hooks -------------------------------------------------------------
    def identify(self, user: Any) -> Actor:
        """The person behind an active account, or `Forbidden` (sync, in a thread)."""
        return actor_for(user)

    def authorize(self, actor: Actor) -> str:
        """The stream `actor` may read here, or raise `Refused`/`Forbidden` (sync, in a thread)."""
        raise NotImplementedError

    async def joined(self) -> None:
        """After the socket is accepted and in its groups."""

    async def leaving(self) -> None:
        """Before the socket leaves its groups."""

    async def on_action(self, kind: str, content: dict[str, Any]) -> None:
        raise Refused(_("Unknown frame type: %(type)s.") % {"type": kind[:40]}, code=0)

    # --- connection ----------------------------------------------------------------
    async def connect(self) -> None:
        self.bucket = TokenBucket(FRAMES_PER_SECOND, FRAMES_PER_SECOND * 2)
        self.heartbeat: asyncio.Task[None] | None = None
        self.release: asyncio.Task[None] | None = None
        self.catching_up: asyncio.Task[None] | None = None
        # Sending to the client is serialized: handlers run one at a time, but the grace
        # timer that releases held frames runs beside them.
        self.sending = asyncio.Lock()
        self.holding = True
        self.held: list[dict[str, Any]] = []
        self.overflowed = False
        self.groups_joined: list[str] = []
        try:
            self.actor, self.stream = await self._admit(self._credentials())
        except Refused as refusal:
            await self.accept()
            await self._error("forbidden", refusal.detail)
            await self.close(code=refusal.code)
            return
        self.groups_joined = [self.stream, user_group(self.actor.user_id)]
        # Join first, then read the head: whatever commits later arrives live.
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.last_id = await database_sync_to_async(stream_head)(self.stream)
        self.checked_at = time.monotonic()
        await self.accept()
        await self.send_json(
            {
                "type": "hello",
                "stream": self.stream,
                "head": self.last_id,
                "user": self.actor.username,
            }
        )
        ws_opened(self)  # the WebSocket clients gauge of /metrics
        await self.joined()
        self.heartbeat = asyncio.create_task(self._beat())
        self.release = asyncio.create_task(self._release_later())
        if settings.WS_CATCH_UP_SECONDS > 0:
            self.catching_up = asyncio.create_task(self._catch_up_forever())

    async def disconnect(self, code: int) -> None:
        ws_closed(self)
        for task in (self.heartbeat, self.release, self.catching_up):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.actor is not None and self.groups_joined:
            with contextlib.suppress(Exception):
                await self.leaving()
        for group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                # A stale member only costs the layer a message to a closed channel.
                log.warning("could not leave group %s", group, exc_info=True)

    def _credentials(self) -> int | str:
        """Who is connecting, without touching the database: the session's user id, or the
        ticket to spend. Raises `Refused` for a foreign Origin or no credentials."""
        origin = origin_allowed(self.scope)
        if origin is False:
            raise Refused(_("This origin may not connect."), CLOSE_FORBIDDEN)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        ticket: str = (query.get("ticket") or [""])[0]
        if ticket:
            return ticket
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise Refused(_("Authentication required."), CLOSE_UNAUTHENTICATED)
        if origin is None:
            # A session cookie is sent by the browser on its own; only an Origin of this
            # site proves the page asking is ours (no cross-site WebSocket hijacking).
            raise Refused(_("A browser session must come with this site's Origin."))
        session = self.scope.get("session")
        self.session_key = session.session_key if isinstance(session, SessionBase) else None
        return int(user.pk)

    async def _admit(self, who: int | str) -> tuple[Actor, str]:
        """Authenticate and authorize in one trip to the database (a thread hop and a
        connection each): a user id to check again, or a ticket to spend."""

        def check() -> tuple[Actor, str]:
            user_id = who
            if isinstance(who, str):
                user_id = ws_ticket_redeem(who) or 0
                if not user_id:
                    raise Refused(
                        _("The ticket is unknown, used or expired."), CLOSE_UNAUTHENTICATED
                    )
            if self.session_key is not None:
                store: SessionBase = self.scope["session"]
                if not store.exists(self.session_key):
                    raise Refused(_("The session has ended."), CLOSE_UNAUTHENTICATED)
            fresh = get_user_model().objects.filter(pk=user_id, is_active=True).first()
            if fresh is None:
                raise Refused(_("Authentication required."), CLOSE_UNAUTHENTICATED)
            try:
                actor = self.identify(fresh)
                return actor, self.authorize(actor)
            except Forbidden as exc:
                raise Refused(exc.detail) from None

        result: tuple[Actor, str] = await database_sync_to_async(check)()
        return result

    async def recheck(self) -> bool:
        """Authorize again; close the socket and return False when no longer allowed."""
        try:
            actor, stream = await self._admit(self.me.user_id)
            if stream != self.stream:
                raise Refused(_("Your access has changed."), CLOSE_REVOKED)
        except Refused as refusal:
            await self._error("forbidden", refusal.detail)
            await self.close(code=refusal.code)
            return False
        self.actor = actor
        self.checked_at = time.monotonic()
        return True

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                due = time.monotonic() - self.checked_at >= settings.WS_RECHECK_SECONDS
                if due and not await self.recheck():
                    return
                # Layers forget group members after a while (channels_redis: a day).
                for group in self.groups_joined:
                    await self.channel_layer.group_add(group, self.channel_name)
                await self.beat()
            except Exception:
                log.exception("heartbeat of %s failed", self.channel_name)

    async def beat(self) -> None:
        """Every heartbeat, for subclasses (presence)."""

    async def _catch_up_forever(self) -> None:
        """Replay what the layer lost with no later frame to reveal the gap: a Redis outage
        ends with the relay publishing the backlog, and a process whose subscription comes
        back a moment after that never gets it (pub/sub keeps nothing)."""
        while True:
            await asyncio.sleep(settings.WS_CATCH_UP_SECONDS)
            try:
                head = await heads_of_loop().head(self.stream)
                if head > self.last_id:
                    async with self.sending:
                        if not self.holding:
                            await self.replay()
            except OSError:
                # The client is gone (uvicorn's ClientDisconnected is an OSError); the
                # server's disconnect ends the consumer, and nothing is left to catch up.
                log.info("catch-up of %s stopped: the client is gone", self.channel_name)
                return
            except Exception:
                log.exception("catch-up of %s failed", self.channel_name)

    # --- client frames ---------------------------------------------------------------
    async def websocket_receive(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            await self._error("bad_frame", _("Send JSON text frames."))
            return
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
            await self._error("bad_frame", _("The frame is too large."))
            return
        try:
            content = json.loads(text)
        except (ValueError, RecursionError):  # `[[[[…]]]]` nested past the parser's depth
            await self._error("bad_frame", _("The frame is not valid JSON."))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self._error("bad_frame", _("A frame is a JSON object with a “type”."))
            return
        ref = content.get("ref")
        ref = ref if isinstance(ref, str | int) and len(str(ref)) <= 64 else None
        if not self.bucket.take():
            await self._error("slow_down", _("Too many frames; slow down."), ref=ref)
            return
        kind = content["type"]
        if kind == "ping":
            await self.send_json({"type": "pong", "ref": ref})
            return
        if not await self.recheck():
            return
        try:
            if kind == "resume":
                await self._resume(content.get("after"))
            else:
                await self.on_action(kind, content)
        except Refused as refusal:
            await self._error(
                "bad_frame" if refusal.code == 0 else "forbidden", refusal.detail, ref=ref
            )
        except ServiceError as exc:
            code = {403: "forbidden", 404: "not_found", 409: "conflict"}.get(exc.status, "invalid")
            await self._error(code, exc.detail, errors=exc.errors, ref=ref)

    async def _resume(self, after: Any) -> None:
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise Refused(_("“after” must be a non-negative integer."), code=0)
        async with self.sending:
            head = await database_sync_to_async(stream_head)(self.stream)
            self.last_id = min(after, head)
            await self.replay()
            await self._release_held()

    async def _release_later(self) -> None:
        await asyncio.sleep(RESUME_GRACE_SECONDS)
        async with self.sending:
            await self._release_held()

    async def _release_held(self) -> None:
        """Stop holding: send what arrived meanwhile (what the replay sent is dropped)."""
        if not self.holding:
            return
        self.holding = False
        held, self.held = self.held, []
        if self.overflowed:
            await self.replay()
        for message in held:
            await self._deliver(message)

    async def replay(self) -> None:
        """Send the stream's events after `last_id` from the log, in order."""
        for _page in range(REPLAY_MAX_PAGES):
            frames = await database_sync_to_async(self._page)(self.last_id)
            for frame in frames:
                await self.send_json(frame)
                self.last_id = frame["id"]
            if len(frames) < REPLAY_PAGE:
                return
        await self._error("too_far_behind", _("Too many events missed; reload the page."))
        await self.close(code=CLOSE_REVOKED)

    def _page(self, after: int) -> list[dict[str, Any]]:
        return [event_frame(e) for e in stream_events(self.stream, after=after, limit=REPLAY_PAGE)]

    async def _error(
        self,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        ref: Any = None,
    ) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": str(detail)}
        if errors:
            frame["errors"] = [{k: str(v) for k, v in e.items()} for e in errors]
        if ref is not None:
            frame["ref"] = ref
        await self.send_json(frame)

    # --- channel-layer messages ----------------------------------------------------
    async def hub_event(self, message: dict[str, Any]) -> None:
        if message.get("stream") != self.stream:
            return
        async with self.sending:
            if self.holding:
                if len(self.held) < HOLD_MAX:
                    self.held.append(message)
                else:
                    self.overflowed = True  # the log has them: replayed on release
                return
            await self._deliver(message)

    async def _deliver(self, message: dict[str, Any]) -> None:
        frame = message["event"]
        if frame["id"] <= self.last_id:
            return  # already sent (replayed, or relayed twice after a failed relay)
        if message.get("prev", 0) > self.last_id:
            # The layer lost the frame(s) before this one: the log has them.
            await self.replay()
            return
        await self.send_json(frame)
        self.last_id = frame["id"]

    async def hub_revoke(self, message: dict[str, Any]) -> None:
        await self._error("revoked", _("Your session or access has changed; sign in again."))
        await self.close(code=CLOSE_REVOKED)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, ensure_ascii=False)
