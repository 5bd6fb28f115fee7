"""Alibaba Cloud SMS (dysmsapi 2017-05-25) on 127.0.0.1, as the installed SDK calls it.

The SDK (alibabacloud_tea_openapi 0.4, `Client.do_request`) sends RPC-style calls as
`POST /?<parameters>` with an empty body, the action and version in `x-acs-action` and
`x-acs-version`, and signs them with ACS3-HMAC-SHA256 in the `Authorization` header:

    canonical request = METHOD \\n path \\n sorted query (RFC 3986 encoded) \\n
                        "name:value\\n" for each signed header \\n signed header names \\n
                        hex SHA-256 of the body (also sent as x-acs-content-sha256)
    string to sign    = "ACS3-HMAC-SHA256\\n" + hex SHA-256 of the canonical request
    Authorization     = "ACS3-HMAC-SHA256 Credential=<key id>,SignedHeaders=<a;b;c>,
                         Signature=<hex HMAC-SHA256 of the string to sign with the secret>"

The fake recomputes that from the request as received, with the secret it was started
with, and refuses like the real gateway: 404 InvalidAccessKeyId.NotFound for an unknown key
id, 400 SignatureDoesNotMatch for a wrong signature, 400 IncompleteSignature when host or an
x-acs-* header is left unsigned, InvalidTimeStamp.Expired beyond 15 minutes of clock skew,
SignatureNonceUsed for a replayed nonce.

Actions: SendSms (business errors answer HTTP 200 with a Code other than "OK", as the real
API does) and QuerySendDetails. Pass `templates` (code → text with ${name} variables) to
have template codes and parameters checked and message content rendered.
Scripting: `fail_next(code, http_status=200 or 5xx)`, `reject_number(phone, code)`,
`set_delay(seconds)`, `set_send_status(biz_id, status)`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import string
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from tests.fakes import LoopbackServer, Request, Response

API_VERSION = "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"
CHINA = ZoneInfo("Asia/Shanghai")
MAX_CLOCK_SKEW_SECONDS = 15 * 60
PARAM_MAX_CHARS = 35
_AUTHORIZATION = re.compile(
    r"^(?P<algorithm>\S+) Credential=(?P<key>[^,]+),SignedHeaders=(?P<headers>[^,]+),"
    r"Signature=(?P<signature>[0-9a-f]+)$"
)
_TEMPLATE_VARIABLE = re.compile(r"\$\{(\w+)\}")
_MAINLAND = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^(?!86)[1-9]\d{7,14}$")


@dataclass
class ReceivedSms:
    """One SendSms request the fake accepted."""

    biz_id: str
    phone_numbers: str  # as posted: comma-separated, no "+"
    sign_name: str
    template_code: str
    template_param: dict[str, Any] | None  # parsed TemplateParam
    out_id: str | None
    content: str
    sent_at: datetime  # aware, UTC
    received_at: float  # time.monotonic() on arrival
    params: dict[str, str]
    send_status: int = 3  # 1 waiting for a receipt, 2 failed, 3 delivered
    err_code: str = "DELIVERED"


@dataclass
class _Failure:
    code: str
    http_status: int
    message: str
    remaining: int
    action: str | None


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _biz_id() -> str:
    # The real ones look like "900619746936498440^0".
    return f"{random.randrange(10**17, 10**18)}^0"


def _random_key(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choice(alphabet) for _ in range(length))


def canonical_query(pairs: Mapping[str, str]) -> str:
    """The query part of the canonical request, as the SDK builds it."""
    return "&".join(f"{key}={quote(pairs[key], safe='~')}" for key in sorted(pairs))


class FakeAliyunSmsServer(LoopbackServer):
    """Alibaba Cloud SMS; see the module docstring. `endpoint` is what the SDK's Config
    wants ("127.0.0.1:<port>", with protocol "http")."""

    def __init__(
        self,
        *,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        sign_name: str | None = None,
        templates: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.access_key_id = access_key_id or "LTAI" + _random_key(20)
        self.access_key_secret = access_key_secret or _random_key(30)
        self.sign_name = sign_name  # None accepts any
        self.templates = dict(templates) if templates is not None else None  # None: any
        self._messages: list[ReceivedSms] = []
        self._failures: list[_Failure] = []
        self._rejections: dict[str, str] = {}
        self._nonces: set[str] = set()
        self.signature_failures = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- scripting -------------------------------------------------------------------

    def fail_next(
        self,
        code: str,
        http_status: int = 200,
        times: int = 1,
        message: str | None = None,
        *,
        action: str | None = None,
    ) -> None:
        """The next `times` calls (of `action` only, if given) fail with `code`: HTTP 200 and
        that Code, like the API's business errors, or an error answer with `http_status`."""
        with self._lock:
            self._failures.append(
                _Failure(code, http_status, message or f"scripted {code}", times, action)
            )

    def reject_number(self, phone: str, code: str = "isv.MOBILE_NUMBER_ILLEGAL") -> None:
        """SendSms to `phone` (as posted: no "+", no 86 for mainland) answers `code`."""
        with self._lock:
            self._rejections[phone] = code

    def set_send_status(self, biz_id: str, status: int, err_code: str = "") -> None:
        """What QuerySendDetails reports for a message: 1 waiting, 2 failed, 3 delivered."""
        with self._lock:
            for record in self._messages:
                if record.biz_id == biz_id:
                    record.send_status = status
                    record.err_code = err_code or ("DELIVERED" if status == 3 else "")

    # --- what was received -------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedSms]:
        """Copies of the accepted SendSms requests, in arrival order."""
        with self._lock:
            return [replace(m, params=dict(m.params)) for m in self._messages]

    def sent_to(self, phone: str) -> list[ReceivedSms]:
        return [m for m in self.messages if phone in m.phone_numbers.split(",")]

    def count_by_out_id(self, out_id: str) -> int:
        return sum(1 for m in self.messages if m.out_id == out_id)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self._rejections.clear()

    # --- the API -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path != "/":
            return _error(404, "InvalidAction.NotFound", "Specified api is not found.")
        refused = self._verify(request)
        if refused is not None:
            return refused
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        if request.body and "form-urlencoded" in request.headers.get("content-type", ""):
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        action = request.headers.get("x-acs-action") or params.get("Action", "")
        version = request.headers.get("x-acs-version") or params.get("Version", "")
        if version != API_VERSION:
            return _error(400, "InvalidVersion", f"Specified version {version!r} is not valid.")
        failure = self._take_failure(action)
        if failure is not None:
            if failure.http_status == 200:
                return _business(failure.code, failure.message)
            return _error(failure.http_status, failure.code, failure.message)
        if action == "SendSms":
            return self._send_sms(params)
        if action == "QuerySendDetails":
            return self._query_send_details(params)
        return _error(404, "InvalidAction.NotFound", f"Specified api {action!r} is not found.")

    def _take_failure(self, action: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.action in (None, action):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _verify(self, request: Request) -> Response | None:
        """None when the request is signed by our key; otherwise the gateway's refusal."""
        headers = {name.lower(): request.headers.get_all(name) or [] for name in request.headers}
        authorization = request.headers.get("authorization", "")
        parsed = _AUTHORIZATION.match(authorization)
        if parsed is None:
            return _error(400, "IncompleteSignature", "The request signature is missing.")
        if parsed["algorithm"] != ALGORITHM:
            return _error(400, "IncompleteSignature", "Unsupported signature algorithm.")
        if parsed["key"] != self.access_key_id:
            return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed = parsed["headers"].split(";")
        required = {"host"} | {name for name in headers if name.startswith("x-acs-")}
        if signed != sorted(signed) or not required <= set(signed):
            return _error(400, "IncompleteSignature", "host and x-acs-* headers must be signed.")
        if any(name not in headers for name in signed):
            return _error(400, "IncompleteSignature", "A signed header is missing.")
        payload_hash = hashlib.sha256(request.body).hexdigest()
        if request.headers.get("x-acs-content-sha256", "") != payload_hash:
            return self._signature_mismatch("x-acs-content-sha256 does not match the body.")
        pairs = dict(parse_qsl(request.query, keep_blank_values=True))
        canonical_headers = "".join(
            f"{name}:{','.join(sorted(v.strip() for v in headers[name]))}\n" for name in signed
        )
        canonical_request = "\n".join(
            [
                request.method,
                request.path or "/",
                canonical_query(pairs),
                canonical_headers,
                ";".join(signed),
                payload_hash,
            ]
        )
        string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        expected = hmac.new(
            self.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, parsed["signature"]):
            return self._signature_mismatch(
                f"Specified signature does not match our calculation. "
                f"server string to sign is:{string_to_sign}"
            )
        stamp = request.headers.get("x-acs-date", "")
        try:
            signed_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return _error(400, "InvalidTimeStamp.Format", f"Specified time stamp {stamp!r}.")
        if abs((datetime.now(UTC) - signed_at).total_seconds()) > MAX_CLOCK_SKEW_SECONDS:
            return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        nonce = request.headers.get("x-acs-signature-nonce", "")
        with self._lock:
            if not nonce or nonce in self._nonces:
                return _error(400, "SignatureNonceUsed", "Specified signature nonce was used.")
            self._nonces.add(nonce)
        return None

    def _signature_mismatch(self, message: str) -> Response:
        with self._lock:
            self.signature_failures += 1
        return _error(400, "SignatureDoesNotMatch", message)

    def _send_sms(self, params: dict[str, str]) -> Response:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return _error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        phones = params["PhoneNumbers"].split(",")
        if not all(_MAINLAND.match(p) or _INTERNATIONAL.match(p) for p in phones):
            return _business("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if self.sign_name is not None and params["SignName"] != self.sign_name:
            return _business("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template_code = params["TemplateCode"]
        text = self.templates.get(template_code) if self.templates is not None else None
        if self.templates is not None and text is None:
            return _business("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        template_param: dict[str, Any] | None = None
        if params.get("TemplateParam"):
            try:
                loaded = json.loads(params["TemplateParam"])
            except ValueError:
                loaded = None
            if not isinstance(loaded, dict):
                return _business("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
            template_param = loaded
        values = {k: str(v) for k, v in (template_param or {}).items()}
        if any(len(v) > PARAM_MAX_CHARS for v in values.values()):
            return _business("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        if text is not None:
            missing = set(_TEMPLATE_VARIABLE.findall(text)) - set(values)
            if missing:
                return _business("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
            body = _TEMPLATE_VARIABLE.sub(lambda m: values[m[1]], text)
        else:
            body = json.dumps(values, ensure_ascii=False)
        with self._lock:
            for phone in phones:
                if phone in self._rejections:
                    return _business(self._rejections[phone], "scripted rejection")
            record = ReceivedSms(
                biz_id=_biz_id(),
                phone_numbers=params["PhoneNumbers"],
                sign_name=params["SignName"],
                template_code=template_code,
                template_param=template_param,
                out_id=params.get("OutId") or None,
                content=f"【{params['SignName']}】{body}",
                sent_at=datetime.now(UTC),
                received_at=time.monotonic(),
                params=params,
            )
            self._messages.append(record)
        return Response.json(
            200,
            {"Code": "OK", "Message": "OK", "BizId": record.biz_id, "RequestId": _request_id()},
        )

    def _query_send_details(self, params: dict[str, str]) -> Response:
        phone = params.get("PhoneNumber", "")
        send_date = params.get("SendDate", "")
        if not phone:
            return _error(400, "MissingPhoneNumber", "PhoneNumber is mandatory for this action.")
        if not re.fullmatch(r"\d{8}", send_date):
            return _error(400, "MissingSendDate", "SendDate is mandatory (yyyyMMdd).")
        try:
            page_size = int(params.get("PageSize", "10"))
            page = int(params.get("CurrentPage", "1"))
        except ValueError:
            return _business("isv.INVALID_PARAMETERS", "参数异常")
        if not (1 <= page_size <= 50 and page >= 1):
            return _business("isv.INVALID_PARAMETERS", "参数异常")
        biz_id = params.get("BizId")
        with self._lock:
            found = [
                m
                for m in reversed(self._messages)
                if phone in m.phone_numbers.split(",")
                and m.sent_at.astimezone(CHINA).strftime("%Y%m%d") == send_date
                and (not biz_id or m.biz_id == biz_id)
            ]
            chunk = found[(page - 1) * page_size : page * page_size]
            details = [_detail(m, phone) for m in chunk]
        return Response.json(
            200,
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": _request_id(),
                "TotalCount": len(found),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
            },
        )


def _detail(m: ReceivedSms, phone: str) -> dict[str, Any]:
    sent = m.sent_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "PhoneNum": phone,
        "SendStatus": m.send_status,
        "ErrCode": m.err_code,
        "TemplateCode": m.template_code,
        "Content": m.content,
        "SendDate": sent,
        "ReceiveDate": sent if m.send_status == 3 else "",
        "OutId": m.out_id or "",
    }


def _business(code: str, message: str) -> Response:
    """A business error: HTTP 200, like the real SendSms."""
    return Response.json(200, {"Code": code, "Message": message, "RequestId": _request_id()})


def _error(http_status: int, code: str, message: str) -> Response:
    """The gateway's error body."""
    return Response.json(
        http_status,
        {
            "RequestId": _request_id(),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi",
        },
    )
