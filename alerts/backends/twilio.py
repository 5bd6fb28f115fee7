"""Twilio Programmable Messaging. The only module that imports the Twilio SDK.

Requests go to `settings.TWILIO_BASE_URL` (Twilio itself in production, a loopback fake in
tests) by setting the `api` domain's `base_url`: every Messages call is built from it
(`Domain.absolute_url`). The webhook helpers (`signature_valid`, `twiml_empty`) live here too
so that the views need no SDK import.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from alerts.backends.base import OutgoingSms, SendResult, SmsBackend, SmsError
from alerts.domain.delivery import is_permanent

logger = logging.getLogger(__name__)

# Twilio accepts ValidityPeriod from 1 to 36000 seconds (its default is the maximum).
VALIDITY_MIN_SECONDS = 1
VALIDITY_MAX_SECONDS = 36_000
# How many of the recipient's latest messages `find_sent` looks through.
FIND_SENT_LIMIT = 50
# Provider clocks and ours differ; a message created this long before the attempt still counts.
CLOCK_SLACK_SECONDS = 60.0

# What the SDK and its HTTP client raise: API errors, network errors (requests' exceptions
# are OSErrors) and unreadable answers (JSON errors are ValueErrors).
_SDK_ERRORS = (TwilioException, OSError, ValueError)

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@functools.lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Any:
    """One SDK client (and so one pooled HTTP session) per process and configuration."""
    client = Client(
        account_sid,
        auth_token,
        http_client=TwilioHttpClient(timeout=timeout),
    )
    client.api.base_url = base_url
    # TWILIO_BASE_URL alone says where requests go: without this the SDK reads TWILIO_EDGE
    # and TWILIO_REGION from the environment and rewrites the host (which mangles a
    # loopback or proxy address).
    client.edge = None
    client.region = None
    return client


def _configured_client() -> Any:
    return _client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_BASE_URL,
        float(settings.TWILIO_TIMEOUT_SECONDS),
    )


def _reference_pattern(reference: str) -> re.Pattern[str]:
    # "M12" must not match a body carrying "M123".
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(reference)}(?![0-9A-Za-z])")


class TwilioBackend(SmsBackend):
    """Sends through Twilio's Messages resource; errors become `SmsError`.

    Classification: HTTP 429 and 5xx are transient; the error codes listed in
    `alerts.domain.delivery.PERMANENT_ERROR_CODES` (unsubscribed, invalid number, ...) are
    permanent; any other 4xx (bad credentials 20003, a wrong From, ...) is a configuration
    error, logged at error level and retried until the message expires, so fixing the
    configuration lets the queued alerts go out. Network failures are transient, code
    "network".
    """

    name = "twilio"

    def send(self, message: OutgoingSms) -> SendResult:
        self._check_configuration(message)
        kwargs: dict[str, Any] = {"to": message.to, "body": message.body}
        # Both may be set: Twilio then sends from TWILIO_FROM within the service.
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            kwargs["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        if settings.TWILIO_FROM:
            kwargs["from_"] = settings.TWILIO_FROM
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        if message.validity_seconds is not None:
            kwargs["validity_period"] = max(
                VALIDITY_MIN_SECONDS, min(VALIDITY_MAX_SECONDS, int(message.validity_seconds))
            )
        try:
            created = _configured_client().messages.create(**kwargs)
        except _SDK_ERRORS as exc:
            raise _sms_error(exc, message, action="send") from exc
        return SendResult(
            provider=self.name,
            provider_id=str(created.sid),
            status=str(created.status or "queued"),
        )

    def find_sent(self, message: OutgoingSms, *, since_epoch: float) -> SendResult | None:
        """Twilio's record of an earlier attempt: a message to the same number whose body
        carries `message.reference`, created after `since_epoch` (less a clock slack).

        Raises a transient SmsError when Twilio cannot be asked, so the caller tries again
        later instead of sending a second copy.
        """
        if not message.reference:
            return None
        self._check_configuration(message)
        since = datetime.fromtimestamp(since_epoch - CLOCK_SLACK_SECONDS, tz=UTC)
        pattern = _reference_pattern(message.reference)
        try:
            for found in _configured_client().messages.list(to=message.to, limit=FIND_SENT_LIMIT):
                created_at = found.date_created
                if (
                    isinstance(created_at, datetime)
                    and created_at >= since
                    and pattern.search(found.body or "")
                ):
                    return SendResult(
                        provider=self.name,
                        provider_id=str(found.sid),
                        status=str(found.status or "queued"),
                    )
        except _SDK_ERRORS as exc:
            error = _sms_error(exc, message, action="look up")
            # Whatever the code, a failed lookup says nothing about the recipient.
            error.permanent = False
            raise error from exc
        return None

    @staticmethod
    def _check_configuration(message: OutgoingSms) -> None:
        missing = missing_settings()
        if missing:
            logger.error(
                "Twilio is not configured (missing %s); SMS %s stays queued",
                ", ".join(missing),
                message.reference or message.id,
            )
            raise SmsError(f"Twilio settings missing: {', '.join(missing)}", code="not_configured")


def missing_settings() -> list[str]:
    """The settings the Twilio backend needs and lacks (also a system check)."""
    missing = [
        name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, name)
    ]
    if not (settings.TWILIO_FROM or settings.TWILIO_MESSAGING_SERVICE_SID):
        missing.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
    return missing


def _sms_error(exc: Exception, message: OutgoingSms, *, action: str) -> SmsError:
    """The SmsError for an exception raised by the SDK or its HTTP client."""
    ref = message.reference or message.id
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status or 0)
        code = str(exc.code or exc.status)
        detail = exc.msg if isinstance(exc, TwilioRestException) else exc.detail or exc.title
        text = f"Twilio refused to {action} SMS {ref}: HTTP {status}, code {code}: {detail}"
        if status == 429 or status >= 500:
            logger.warning(text)
            return SmsError(text, code=code, permanent=False)
        if is_permanent(code):
            logger.info(text)
            return SmsError(text, code=code, permanent=True)
        # Credentials, sender, account or request shape: ours to fix, not the recipient's.
        logger.error(text)
        return SmsError(text, code=code, permanent=False)
    if isinstance(exc, OSError):
        # requests' ConnectionError and Timeout are OSErrors. After a read timeout the
        # message may have gone out: the caller's find_sent settles that before a resend.
        logger.warning("Twilio unreachable to %s SMS %s: %r", action, ref, exc)
        return SmsError(f"Twilio unreachable: {exc}", code="network", permanent=False)
    if isinstance(exc, TwilioException):
        # e.g. a list page that did not come back 200 ("Unable to fetch page", response).
        response = exc.args[1] if len(exc.args) > 1 else None
        status_code = getattr(response, "status_code", None)
        code = str(status_code) if status_code else "twilio"
        logger.warning("Twilio failed to %s SMS %s: %s (HTTP %s)", action, ref, exc, status_code)
        return SmsError(f"Twilio error: {exc}", code=code, permanent=False)
    # A ValueError: an answer that is not the JSON Twilio sends (a proxy page, a cut body).
    logger.error("Unreadable Twilio answer to %s SMS %s: %r", action, ref, exc)
    return SmsError(f"Unreadable Twilio answer: {exc}", code="bad_response", permanent=False)


def signature_valid(url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) signs this webhook request.

    `url` is the full URL Twilio was given (PUBLIC_BASE_URL-based, query string included),
    `params` the POST form fields (a Django QueryDict works: repeated fields count).
    False when the auth token or the signature is empty.
    """
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))


def twiml_empty() -> str:
    """The TwiML answer that acknowledges an inbound SMS without replying to it."""
    return TWIML_EMPTY
