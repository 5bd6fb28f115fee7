"""The JSON API under /api/v1/: authentication, error format and the routers of each app.

Every error answer is JSON `{"detail": "...", "errors": [{"field", "message"}]}` with a 4xx
status: validation (422), malformed body (400), authentication (401), permission (403),
not found (404), conflict (409), body too large (413).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from command_center.login_guard import address_refusal, client_address, login_failure_record
from command_center.responses import UnicodeJSONRenderer, error_response
from incidents.errors import ServiceError
from incidents.models import ApiToken


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` for integrations (`manage.py issue_token`)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        # A wrong token counts as a failed login of its address (login_guard), and an
        # address throttled by failures is answered 429 before any token is looked up.
        address = client_address(request)
        if address_refusal(address) is not None:
            raise HttpError(429, _("Too many failed logins from this address. Try again later."))
        digest = hashlib.sha256(token.encode()).hexdigest()
        api_token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=digest, revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if api_token is None:
            login_failure_record(username=None, address=address)
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
        request.user = api_token.user
        return api_token.user


class Session(SessionAuth):
    """The browser's session. A request without a session cookie is anonymous (401), not a
    forgery (403): CSRF is checked only when there is a session to forge."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        key: str | None = super()._get_key(request)
        return key


api = NinjaAPI(
    title="Wage-arrears joint command hub",
    version="1",
    description="Case intake, routing and the closed-loop lifecycle. Times are ISO 8601 in "
    "Asia/Shanghai; money is a decimal string in yuan.",
    urls_namespace="api",
    auth=[BearerToken(), Session()],
    openapi_url="/openapi.json",
    renderer=UnicodeJSONRenderer(),
    docs_url="/docs",
)


def _field(loc: list[Any] | tuple[Any, ...]) -> str:
    # ninja locations start with the source and the parameter name: ("body", "payload", ...).
    # A bare ("body", "payload") is the body as a whole (not an object, say): no field.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[2:] if parts[0] == "body" or len(parts) > 2 else parts[1:]
    return ".".join(parts)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors]
    return error_response(_("The request is not valid."), 422, errors)


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return error_response(exc.detail, exc.status, exc.errors)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(_("Authentication required: log in or send a bearer token."), 401)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and "parse request body" in str(exc):
        # ninja's parser failed; its message names the exact place, which stays in `errors`.
        return error_response(
            _("The body is not valid JSON."), 400, [{"field": "", "message": str(exc)}]
        )
    return error_response(str(exc), exc.status_code)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(_("Request body is too large."), 413)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(_("Not found."), 404)


@csrf_exempt  # a POST to an unknown path is a JSON 404, not the CSRF failure's HTML page
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """Unknown paths under /api/ answer in JSON too, never with an HTML page."""
    return error_response(_("Not found."), 404)


def register_routers() -> None:
    from alerts.api import router as alerts_router
    from alerts.api_risk import router as risk_router
    from command_center.api_province import router as province_router
    from command_center.api_reports import router as reports_router
    from incidents.api import router as incidents_router
    from incidents.api_after_action import router as after_action_router
    from incidents.api_incidents import router as incident_router
    from maps.api import router as maps_router
    from playbooks.api import router as playbooks_router

    api.add_router("/", incidents_router)
    api.add_router("/", incident_router)
    api.add_router("/", alerts_router)
    api.add_router("/", risk_router)
    api.add_router("/", playbooks_router)
    api.add_router("/", maps_router)
    api.add_router("/", reports_router)
    api.add_router("/", after_action_router)
    api.add_router("/", province_router)


register_routers()
