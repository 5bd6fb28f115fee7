"""A Twilio Messages API on 127.0.0.1, good enough for the real `twilio` SDK.

Point the SDK at it with `client.api.base_url = fake.base_url` (the hub does that from
`settings.TWILIO_BASE_URL`). It serves, under `/2010-04-01/Accounts/{AccountSid}/`:

- `POST Messages.json`: HTTP basic auth must be `account_sid:auth_token` (else 401, code
  20003); To, Body and From or MessagingServiceSid are required (400, codes 21604, 21602,
  21603); answers 201 with a Message resource, status "queued" ("accepted" with a
  MessagingServiceSid).
- `GET Messages.json`: newest first, filtered by To and From, paged by PageSize and Page
  with Twilio's paging fields.
- `GET Messages/{sid}.json`.

Scripting: `fail_next` (the next requests fail with an HTTP status and Twilio error code),
`reject_number` (sends to one number fail with a code, e.g. 21610 unsubscribed),
`set_delay`. Webhooks carry real `X-Twilio-Signature`s computed with the SDK's
`RequestValidator`: `post_status`, `post_inbound`, and `auto_callbacks` (after each send,
a thread posts the listed statuses to the message's StatusCallback).

The signed URL and the URL posted to may differ, as behind a proxy: Twilio signs the URL
it was given (PUBLIC_BASE_URL-based), while the fake must reach the test server's real
address. `callback_base_url` (or the `url=` argument) says where to post; the signature is
computed over the StatusCallback URL (or `sign_url=`).
"""

from __future__ import annotations

import base64
import hmac
import random
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from tests.fakes import LoopbackServer, Request, Response, post_form

API_VERSION = "2010-04-01"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# Twilio's texts for the codes tests script most.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the "
    "'To' number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid StatusCallback",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
}


@dataclass
class ReceivedMessage:
    """A message the fake accepted. `params` are the form fields as posted."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    messaging_service_sid: str | None
    status_callback: str | None
    validity_period: int | None
    status: str
    date_created: datetime
    received_at: float  # time.monotonic() on arrival
    params: dict[str, str]
    error_code: int | None = None
    date_updated: datetime | None = None


@dataclass(frozen=True)
class Callback:
    """A webhook the fake posted, and what the hub answered (status 0: not reached)."""

    url: str
    sign_url: str
    params: dict[str, str]
    signature: str | None
    status_code: int
    body: str


@dataclass
class _Failure:
    http_status: int
    code: int
    message: str
    remaining: int
    method: str | None


@dataclass
class _Rejection:
    code: int
    http_status: int
    message: str


def _segments(body: str) -> int:
    """Roughly Twilio's count: GSM-7 for plain ASCII (160/153), UCS-2 otherwise (70/67)."""
    if body.isascii():
        single, part, length = 160, 153, len(body)
    else:
        single, part, length = 70, 67, len(body.encode("utf-16-le")) // 2
    return 1 if length <= single else -(-length // part)


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


class FakeTwilioServer(LoopbackServer):
    """A Twilio Messages API; see the module docstring.

    `auto_callbacks`: statuses posted to each message's StatusCallback after it is
    created (e.g. ("sent", "delivered")), in a random order with `shuffle_callbacks`
    (seeded by `seed`), starting `callback_delay` seconds after the answer.
    """

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        phone_number: str = "+15005550006",
        auto_callbacks: Sequence[str] = (),
        shuffle_callbacks: bool = False,
        callback_delay: float = 0.0,
        callback_base_url: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or uuid.uuid4().hex
        self.phone_number = phone_number  # the hub's number: To of inbound messages
        self.auto_callbacks = tuple(auto_callbacks)
        self.shuffle_callbacks = shuffle_callbacks
        self.callback_delay = callback_delay
        self.callback_base_url = callback_base_url
        self._messages: list[ReceivedMessage] = []
        self._failures: list[_Failure] = []
        self._rejections: dict[str, _Rejection] = {}
        self._callbacks: list[Callback] = []
        self._callbacks_changed = threading.Condition(self._lock)
        self._random = random.Random(seed)

    # --- scripting -------------------------------------------------------------------

    def fail_next(
        self,
        http_status: int,
        code: int,
        times: int = 1,
        message: str | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """The next `times` API requests (of `method` only, if given) fail with this HTTP
        status and Twilio error code, e.g. (429, 20429) or (500, 20500)."""
        with self._lock:
            self._failures.append(
                _Failure(
                    http_status,
                    code,
                    message or ERROR_MESSAGES.get(code, f"Error {code}"),
                    times,
                    method.upper() if method else None,
                )
            )

    def reject_number(
        self, e164: str, code: int, *, http_status: int = 400, message: str | None = None
    ) -> None:
        """Every send to `e164` fails with this Twilio error code (21610, 21211, ...)."""
        with self._lock:
            self._rejections[e164] = _Rejection(
                code, http_status, message or ERROR_MESSAGES.get(code, f"Error {code}")
            )

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Change a message's status as later GETs report it, without a callback."""
        with self._lock:
            record = self._record(sid)
            record.status = status
            record.error_code = error_code
            record.date_updated = datetime.now(UTC)

    # --- what was received -------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Copies of the messages accepted so far, in arrival order."""
        with self._lock:
            return [replace(m, params=dict(m.params)) for m in self._messages]

    def message(self, sid: str) -> ReceivedMessage:
        with self._lock:
            record = self._record(sid)
            return replace(record, params=dict(record.params))

    def sent_to(self, e164: str) -> list[ReceivedMessage]:
        return [m for m in self.messages if m.to == e164]

    def count_by_body_reference(self, reference: str) -> int:
        """How many accepted messages carry `reference` as a word in their body."""
        pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(reference)}(?![0-9A-Za-z])")
        return sum(1 for m in self.messages if pattern.search(m.body))

    def clear(self) -> None:
        """Forget messages, callbacks, scripted failures and rejections."""
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self._rejections.clear()
            self._callbacks.clear()

    # --- webhooks ------------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for `params` posted to `url`."""
        return str(RequestValidator(self.auth_token).compute_signature(url, dict(params)))

    def status_params(
        self, sid: str, status: str, error_code: int | str | None = None
    ) -> dict[str, str]:
        """The form fields of a status callback for message `sid` (for Django's test client)."""
        with self._lock:
            record = self._messages_by_sid().get(sid)
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": record.to if record else "",
            "From": (record.from_ or self.phone_number) if record else self.phone_number,
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
        }
        if record is not None and record.messaging_service_sid:
            params["MessagingServiceSid"] = record.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def inbound_params(self, from_: str, body: str, to: str | None = None) -> dict[str, str]:
        """The form fields of an inbound SMS webhook (for Django's test client)."""
        sid = new_sid("SM")
        return {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to or self.phone_number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(_segments(body)),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }

    def post_status(
        self,
        sid: str,
        status: str,
        error_code: int | str | None = None,
        url: str | None = None,
        *,
        sign_url: str | None = None,
        signature: str | None = None,
        bad_signature: bool = False,
    ) -> tuple[int, str]:
        """POST a signed status callback for message `sid`; returns (status code, body).

        Posted to `url`, else to the message's StatusCallback (moved to
        `callback_base_url` when set). Signed over `sign_url`, else over `url` when given,
        else over the StatusCallback itself. `signature` replaces the computed one ("" sends
        none); `bad_signature` signs with a wrong token. The message's status changes too.
        """
        with self._lock:
            record = self._messages_by_sid().get(sid)
            if record is not None:
                record.status = status
                record.error_code = int(error_code) if error_code is not None else None
                record.date_updated = datetime.now(UTC)
        callback_url = record.status_callback if record else None
        if url is None and callback_url is None:
            raise ValueError(f"message {sid} has no StatusCallback: pass url=")
        target = url or self._callback_target(str(callback_url))
        signed = sign_url or url or str(callback_url)
        callback = self._post(
            target, signed, self.status_params(sid, status, error_code), signature, bad_signature
        )
        return callback.status_code, callback.body

    def post_inbound(
        self,
        url: str,
        from_: str,
        body: str,
        to: str | None = None,
        *,
        sign_url: str | None = None,
        signature: str | None = None,
        bad_signature: bool = False,
    ) -> tuple[int, str]:
        """POST a signed inbound SMS to `url` (signed over `sign_url` if given)."""
        callback = self._post(
            url, sign_url or url, self.inbound_params(from_, body, to), signature, bad_signature
        )
        return callback.status_code, callback.body

    @property
    def callbacks(self) -> list[Callback]:
        """The webhooks posted so far (by post_status, post_inbound and auto_callbacks)."""
        with self._lock:
            return list(self._callbacks)

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[Callback]:
        """Block until at least `count` webhooks were posted; TimeoutError otherwise."""
        with self._callbacks_changed:
            if not self._callbacks_changed.wait_for(
                lambda: len(self._callbacks) >= count, timeout=timeout
            ):
                raise TimeoutError(f"{len(self._callbacks)} of {count} callbacks after {timeout}s")
            return list(self._callbacks)

    def _callback_target(self, callback_url: str) -> str:
        if not self.callback_base_url:
            return callback_url
        parts = urlsplit(callback_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.callback_base_url.rstrip("/") + path

    def _post(
        self,
        url: str,
        sign_url: str,
        params: dict[str, str],
        signature: str | None,
        bad_signature: bool,
    ) -> Callback:
        if signature is None:
            token = "not-" + self.auth_token if bad_signature else self.auth_token
            signature = str(RequestValidator(token).compute_signature(sign_url, params))
        headers = {"User-Agent": "TwilioProxy/1.1", "I-Twilio-Idempotency-Token": uuid.uuid4().hex}
        if signature:
            headers["X-Twilio-Signature"] = signature
        try:
            status_code, text = post_form(url, params, headers)
        except OSError as exc:
            status_code, text = 0, repr(exc)
        callback = Callback(url, sign_url, params, signature or None, status_code, text)
        with self._callbacks_changed:
            self._callbacks.append(callback)
            self._callbacks_changed.notify_all()
        return callback

    def _auto_callbacks(self, sid: str) -> None:
        statuses = list(self.auto_callbacks)
        if self.shuffle_callbacks:
            self._random.shuffle(statuses)
        if self.callback_delay:
            time.sleep(self.callback_delay)
        for status in statuses:
            self.post_status(sid, status)

    # --- the API -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        many = _MESSAGES.match(request.path)
        one = _MESSAGE.match(request.path)
        match = many or one
        if match is None:
            return _error(404, 20404)
        if not self._authorized(request):
            return _error(401, 20003)
        if match["account"] != self.account_sid:
            return _error(404, 20404)
        failure = self._take_failure(request.method)
        if failure is not None:
            return _error(failure.http_status, failure.code, failure.message)
        if many and request.method == "POST":
            return self._create(request)
        if many and request.method == "GET":
            return self._list(request)
        if one and request.method == "GET":
            with self._lock:
                record = self._messages_by_sid().get(one["sid"])
                payload = self._resource(record) if record else None
            return Response.json(200, payload) if payload else _error(404, 20404)
        return _error(405, 20004, "Method not allowed")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True).decode()
        except ValueError:
            return False
        expected = f"{self.account_sid}:{self.auth_token}"
        return hmac.compare_digest(given.encode(), expected.encode())

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method in (None, method):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _create(self, request: Request) -> Response:
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        to, body = params.get("To", ""), params.get("Body", "")
        from_, service = params.get("From") or None, params.get("MessagingServiceSid") or None
        if not to:
            return _error(400, 21604)
        if not body:
            return _error(400, 21602)
        if not (from_ or service):
            return _error(400, 21603)
        if not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        callback = params.get("StatusCallback") or None
        if callback and urlsplit(callback).scheme not in ("http", "https"):
            return _error(400, 21609)
        validity: int | None = None
        if "ValidityPeriod" in params:
            try:
                validity = int(params["ValidityPeriod"])
            except ValueError:
                validity = 0
            if not 1 <= validity <= 36_000:
                # A stand-in code: the check matters here, not Twilio's exact number.
                return _error(400, 20001, "ValidityPeriod must be an integer from 1 to 36000")
        with self._lock:
            rejection = self._rejections.get(to)
            if rejection is not None:
                return _error(rejection.http_status, rejection.code, rejection.message)
            record = ReceivedMessage(
                sid=new_sid("SM"),
                account_sid=self.account_sid,
                to=to,
                from_=from_,
                body=body,
                messaging_service_sid=service,
                status_callback=callback,
                validity_period=validity,
                status="accepted" if service else "queued",
                date_created=datetime.now(UTC),
                received_at=time.monotonic(),
                params=params,
            )
            self._messages.append(record)
            payload = self._resource(record)
        after = None
        if self.auto_callbacks and callback:
            sid = record.sid

            def after() -> None:
                threading.Thread(target=self._auto_callbacks, args=(sid,), daemon=True).start()

        return Response.json(201, payload, after=after)

    def _list(self, request: Request) -> Response:
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        try:
            page_size = max(1, min(1000, int(query.get("PageSize", "50"))))
            page = max(0, int(query.get("Page", "0")))
        except ValueError:
            return _error(400, 20001, "Invalid paging parameters")
        filters = {k: v for k, v in query.items() if k in ("To", "From") and v}
        with self._lock:
            found = [
                self._resource(m)
                for m in reversed(self._messages)
                if filters.get("To", m.to) == m.to
                and filters.get("From", m.from_ or "") == (m.from_ or "")
            ]
        start = page * page_size
        chunk = found[start : start + page_size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def page_uri(number: int) -> str:
            return f"{base}?{urlencode({**filters, 'PageSize': page_size, 'Page': number})}"

        payload = {
            "messages": chunk,
            "page": page,
            "page_size": page_size,
            "start": start,
            "end": start + max(0, len(chunk) - 1),
            "uri": page_uri(page),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if start + page_size < len(found) else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        }
        return Response.json(200, payload)

    def _messages_by_sid(self) -> dict[str, ReceivedMessage]:
        return {m.sid: m for m in self._messages}

    def _record(self, sid: str) -> ReceivedMessage:
        record = self._messages_by_sid().get(sid)
        if record is None:
            raise KeyError(f"no message {sid} at the fake")
        return record

    def _resource(self, m: ReceivedMessage) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{m.account_sid}/Messages/{m.sid}.json"
        updated = m.date_updated or m.date_created
        sent = m.status in ("sent", "delivered", "undelivered", "read")
        return {
            "account_sid": m.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": format_datetime(m.date_created),
            "date_sent": format_datetime(updated) if sent else None,
            "date_updated": format_datetime(updated),
            "direction": "outbound-api",
            "error_code": m.error_code,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(_segments(m.body)),
            "price": None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": m.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": m.to,
            "uri": uri,
        }


def _error(http_status: int, code: int, message: str | None = None) -> Response:
    """Twilio's error body: code, message, more_info, status."""
    return Response.json(
        http_status,
        {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code, f"Error {code}"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": http_status,
        },
    )
