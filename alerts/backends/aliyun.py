"""Alibaba Cloud SMS (dysmsapi 2017-05-25). The only module that imports its SDK.

Alibaba Cloud sends pre-approved templates only: a message goes out as the template code
mapped from our template name (`ALIYUN_SMS_TEMPLATES`) with the same parameters as JSON,
under the approved sign name. The outbox reference travels as `OutId`, which is how
`find_sent` recognises an earlier attempt.

Business errors come back as HTTP 200 with a `Code` other than "OK"; request errors
(signature, credentials) as HTTP 4xx, which the SDK raises.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alibabacloud_dysmsapi20170525 import (
    models as dysms_models,
)
from alibabacloud_dysmsapi20170525.client import (
    Client as DysmsClient,
)
from alibabacloud_tea_openapi import (
    models as open_api_models,
)
from alibabacloud_tea_openapi.exceptions import (
    AlibabaCloudException,
    ThrottlingException,
)
from darabonba.exceptions import (
    RetryError,
)
from django.conf import settings
from Tea.exceptions import (
    TeaException,
    UnretryableException,
)

from alerts.backends.base import OutgoingSms, SendResult, SmsBackend, SmsError
from alerts.domain.delivery import is_permanent

logger = logging.getLogger(__name__)

# The SDK takes milliseconds. Generous enough for a slow gateway, short enough that a
# stuck call does not outlive the worker's claim on the message.
CONNECT_TIMEOUT_MS = 5_000
READ_TIMEOUT_MS = 10_000
# QuerySendDetails pages hold at most 50 records; a number gets few alerts a day.
QUERY_PAGE_SIZE = 50
QUERY_MAX_PAGES = 5
CLOCK_SLACK_SECONDS = 60.0
# Send dates are calendar days in China.
PROVIDER_TZ = ZoneInfo("Asia/Shanghai")
# The per-number limit that bites first is one message a minute.
BUSINESS_LIMIT_RETRY_SECONDS = 60.0

# What the SDK raises: API errors, and everything else wrapped in UnretryableException.
_SDK_ERRORS = (TeaException, OSError, ValueError)


def provider_number(e164: str) -> str:
    """An E.164 number as dysmsapi wants it: mainland numbers bare ("13800138000"),
    others with their country code and no "+" ("85291234567")."""
    if e164.startswith("+86"):
        return e164[3:]
    return e164.removeprefix("+")


def is_throttling(code: str) -> bool:
    """Whether an error code says "not now" (rate limits, provider trouble)."""
    return (
        code == "isv.BUSINESS_LIMIT_CONTROL"
        or code.startswith(("Throttling", "isp."))
        or code == "ServiceUnavailable"
    )


@functools.lru_cache(maxsize=4)
def _client(access_key_id: str, access_key_secret: str, endpoint: str, protocol: str) -> Any:
    """One SDK client per process and configuration (the SDK pools connections per host)."""
    config = open_api_models.Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        endpoint=endpoint,
        protocol=protocol,
        connect_timeout=CONNECT_TIMEOUT_MS,
        read_timeout=READ_TIMEOUT_MS,
    )
    return DysmsClient(config)


def _configured_client() -> Any:
    return _client(
        settings.ALIYUN_ACCESS_KEY_ID,
        settings.ALIYUN_ACCESS_KEY_SECRET,
        settings.ALIYUN_SMS_ENDPOINT,
        settings.ALIYUN_SMS_PROTOCOL,
    )


def configuration_problems(templates: Iterable[str]) -> list[str]:
    """What keeps the Alibaba Cloud backend from sending `templates` (our template names):
    missing settings and unmapped template codes, one sentence each; empty when ready."""
    problems = [
        f"{name} is not set"
        for name in (
            "ALIYUN_ACCESS_KEY_ID",
            "ALIYUN_ACCESS_KEY_SECRET",
            "ALIYUN_SMS_SIGN_NAME",
            "ALIYUN_SMS_ENDPOINT",
        )
        if not getattr(settings, name, "")
    ]
    protocol = getattr(settings, "ALIYUN_SMS_PROTOCOL", "")
    if protocol not in ("http", "https"):
        problems.append(f"ALIYUN_SMS_PROTOCOL is {protocol!r}, not 'https' or 'http'")
    mapping = getattr(settings, "ALIYUN_SMS_TEMPLATES", None)
    if not isinstance(mapping, dict):
        problems.append(
            "ALIYUN_SMS_TEMPLATES must be a JSON object of template name to template code"
        )
        return problems
    for name in templates:
        code = mapping.get(name)
        if not (isinstance(code, str) and code):
            problems.append(f"ALIYUN_SMS_TEMPLATES has no template code for {name!r}")
    return problems


class AliyunBackend(SmsBackend):
    """Sends through dysmsapi SendSms; errors become `SmsError`.

    Codes in `PERMANENT_ERROR_CODES` (illegal number, blacklisted, the number's daily cap)
    are permanent. Everything else is retried until the message expires: throttling and
    provider trouble (logged as warnings), and our own mistakes such as a bad signature,
    unknown sign name or template (logged as errors, so that fixing the configuration lets
    the queued alerts go out).
    """

    name = "aliyun"

    def send(self, message: OutgoingSms) -> SendResult:
        self._check_configuration(message)
        templates = settings.ALIYUN_SMS_TEMPLATES
        template_code = templates.get(message.template) if isinstance(templates, dict) else None
        if not template_code:
            logger.error(
                "ALIYUN_SMS_TEMPLATES has no template code for %r; SMS %s stays queued",
                message.template,
                message.reference or message.id,
            )
            raise SmsError(
                f"No Alibaba Cloud template code for {message.template!r}",
                code="template_unmapped",
            )
        request = dysms_models.SendSmsRequest(
            phone_numbers=provider_number(message.to),
            sign_name=settings.ALIYUN_SMS_SIGN_NAME,
            template_code=template_code,
            # Unescaped: the provider counts characters, and Chinese stays readable in logs.
            template_param=json.dumps(message.params, ensure_ascii=False)
            if message.params
            else None,
            out_id=message.reference or None,
        )
        try:
            response = _configured_client().send_sms(request)
        except _SDK_ERRORS as exc:
            raise _sms_error(exc, message, action="send") from exc
        body = response.body
        code = str(body.code or "")
        if code == "OK":
            return SendResult(provider=self.name, provider_id=str(body.biz_id or ""), status="sent")
        raise _code_error(code, str(body.message or ""), message)

    def find_sent(self, message: OutgoingSms, *, since_epoch: float) -> SendResult | None:
        """Alibaba Cloud's record of an earlier attempt: a message to the same number, sent on
        the day of `since_epoch` or later (China time), whose OutId is `message.reference`.

        The detail records carry no BizId, so the result's `provider_id` is "". Raises a
        transient SmsError when the provider cannot be asked.
        """
        if not message.reference:
            return None
        self._check_configuration(message)
        client = _configured_client()
        for send_date in _send_dates(since_epoch - CLOCK_SLACK_SECONDS, time.time()):
            for page in range(1, QUERY_MAX_PAGES + 1):
                request = dysms_models.QuerySendDetailsRequest(
                    phone_number=provider_number(message.to),
                    send_date=send_date,
                    page_size=QUERY_PAGE_SIZE,
                    current_page=page,
                )
                try:
                    body = client.query_send_details(request).body
                except _SDK_ERRORS as exc:
                    error = _sms_error(exc, message, action="look up")
                    error.permanent = False
                    raise error from exc
                if body.code != "OK":
                    text = f"Alibaba Cloud lookup of SMS {message.reference} failed: {body.code}"
                    logger.warning("%s %s", text, body.message)
                    raise SmsError(text, code=str(body.code or ""), permanent=False)
                dtos = body.sms_send_detail_dtos
                details = (dtos.sms_send_detail_dto if dtos is not None else None) or []
                for detail in details:
                    if detail.out_id == message.reference:
                        return SendResult(provider=self.name, provider_id="", status="sent")
                total = int(body.total_count or 0)
                if not details or page * QUERY_PAGE_SIZE >= total:
                    break
        return None

    @staticmethod
    def _check_configuration(message: OutgoingSms) -> None:
        missing = [
            name
            for name in ("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "ALIYUN_SMS_SIGN_NAME")
            if not getattr(settings, name)
        ]
        if missing:
            logger.error(
                "Alibaba Cloud SMS is not configured (missing %s); SMS %s stays queued",
                ", ".join(missing),
                message.reference or message.id,
            )
            raise SmsError(
                f"Alibaba Cloud settings missing: {', '.join(missing)}", code="not_configured"
            )


def _send_dates(since_epoch: float, now_epoch: float) -> list[str]:
    """The China calendar days (yyyyMMdd) from `since_epoch` to now, at most three."""
    day = datetime.fromtimestamp(since_epoch, tz=PROVIDER_TZ).date()
    last = datetime.fromtimestamp(max(since_epoch, now_epoch), tz=PROVIDER_TZ).date()
    dates: list[str] = []
    while day <= last and len(dates) < 3:
        dates.append(day.strftime("%Y%m%d"))
        day += timedelta(days=1)
    return dates


def _code_error(code: str, text: str, message: OutgoingSms) -> SmsError:
    """The SmsError for a business error code in a SendSms answer."""
    ref = message.reference or message.id
    summary = f"Alibaba Cloud refused SMS {ref}: {code}: {text}"
    if is_permanent(code):
        logger.info(summary)
        return SmsError(summary, code=code, permanent=True)
    if is_throttling(code):
        logger.warning(summary)
        retry_after = BUSINESS_LIMIT_RETRY_SECONDS if code == "isv.BUSINESS_LIMIT_CONTROL" else None
        return SmsError(summary, code=code, permanent=False, retry_after=retry_after)
    # Sign name, template, parameters, balance, account: ours to fix.
    logger.error(summary)
    return SmsError(summary, code=code, permanent=False)


def _sms_error(exc: Exception, message: OutgoingSms, *, action: str) -> SmsError:
    """The SmsError for an exception raised by the SDK."""
    ref = message.reference or message.id
    if isinstance(exc, AlibabaCloudException):
        status = int(exc.status_code or 0)
        code = str(exc.code or f"http_{status}")
        summary = (
            f"Alibaba Cloud refused to {action} SMS {ref}: HTTP {status}, {code}: {exc.message}"
        )
        if is_permanent(code):
            logger.info(summary)
            return SmsError(summary, code=code, permanent=True)
        if isinstance(exc, ThrottlingException) or status >= 500 or is_throttling(code):
            logger.warning(summary)
        else:
            # SignatureDoesNotMatch, InvalidAccessKeyId.NotFound, Forbidden.RAM, ...
            logger.error(summary)
        return SmsError(summary, code=code, permanent=False)
    inner = getattr(exc, "inner_exception", exc) if isinstance(exc, UnretryableException) else exc
    if isinstance(inner, RetryError | OSError):
        # The SDK turns connection errors and timeouts into RetryError. After a read timeout
        # the message may have gone out: the caller's find_sent settles that.
        logger.warning("Alibaba Cloud unreachable to %s SMS %s: %s", action, ref, inner)
        return SmsError(f"Alibaba Cloud unreachable: {inner}", code="network", permanent=False)
    logger.error("Alibaba Cloud SDK failed to %s SMS %s: %r", action, ref, inner)
    return SmsError(f"Alibaba Cloud SDK error: {inner!r}", code="sdk", permanent=False)
