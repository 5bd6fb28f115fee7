"""SMS provider webhooks and short links. Thin: check the signature, parse, call a service.

Twilio signs each request (X-Twilio-Signature) over the URL it called and the form fields.
The URL is rebuilt from `PUBLIC_BASE_URL` (what the provider was told), not from the request
as it reached us, since a proxy in front of the hub may change scheme, host or port.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from alerts.backends.twilio import signature_valid, twiml_empty
from alerts.domain.delivery import PROVIDER_STATUSES
from alerts.services import sms_inbound, sms_status_report
from incidents.models import Incident

log = logging.getLogger(__name__)

_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_ERROR_CODE = re.compile(r"^\d{1,6}$")
WEBHOOK_MAX_BYTES = 16 * 1024


def _refusal(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _signed(request: HttpRequest) -> bool:
    url = f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}"
    params = {k: request.POST.get(k, "") for k in request.POST}
    return signature_valid(url, params, request.headers.get("X-Twilio-Signature", ""))


def _checked(request: HttpRequest) -> HttpResponse | None:
    """A refusal for an oversized, unparseable or unsigned webhook, else None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refusal(400, "invalid Content-Length")
    if length > WEBHOOK_MAX_BYTES:
        return _refusal(413, "body too large")
    if request.content_type != "application/x-www-form-urlencoded":
        return _refusal(415, "send application/x-www-form-urlencoded")
    if not _signed(request):
        log.warning("Twilio webhook with a bad or missing signature refused")
        return _refusal(403, "invalid signature")
    return None


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """A delivery status callback: moves the message forward, never back."""
    refused = _checked(request)
    if refused is not None:
        return refused
    sid = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "") or request.POST.get("SmsStatus", "")
    error_code = request.POST.get("ErrorCode", "")
    raw_id = request.GET.get("m", "")
    if not _SID.match(sid) or status not in PROVIDER_STATUSES:
        return _refusal(400, "MessageSid and a known MessageStatus are required")
    if (error_code and not _ERROR_CODE.match(error_code)) or (raw_id and not raw_id.isdigit()):
        return _refusal(400, "bad ErrorCode or message id")
    sms_status_report(
        message_id=int(raw_id) if raw_id else None,
        provider_id=sid,
        provider_status=status,
        error_code=error_code,
    )
    # 204 whether or not it changed anything: the provider must not retry a stale report.
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS to the hub's number: an officer's acknowledgement or reply."""
    refused = _checked(request)
    if refused is not None:
        return refused
    sender = request.POST.get("From", "")
    body = request.POST.get("Body", "")
    if not sender or len(body) > 1600:
        return _refusal(400, "From is required and Body is at most 1600 characters")
    result = sms_inbound(sender=sender, body=body)
    log.info("inbound SMS: %s", result.outcome)
    return HttpResponse(twiml_empty(), content_type="application/xml")


@require_GET
def short_incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The short link in an SMS: on to the incident room (which checks who may see it)."""
    get_object_or_404(Incident.objects.only("pk"), pk=incident_id)
    return HttpResponseRedirect(reverse("incident-room", args=[incident_id]))


@require_GET
def short_case(request: HttpRequest, case_number: str) -> HttpResponse:
    return HttpResponseRedirect(reverse("case-detail", args=[case_number]))
