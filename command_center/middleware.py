"""Request guards that must run before any view parses a body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from command_center.responses import error_response


class ApiBodyLimitMiddleware:
    """Refuse API bodies over `API_MAX_BODY_BYTES` with a JSON 413, and bodies that are not
    JSON with a 415, before parsing.

    A declared Content-Length is enough to refuse; bodies without one are caught when
    read, by Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` (see `command_center.api`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(_("Invalid Content-Length header."), 400)
            if (
                request.method in {"POST", "PUT", "PATCH"}
                and length > 0
                and request.content_type != "application/json"
            ):
                return error_response(_("Send the body as application/json."), 415)
            if length > settings.API_MAX_BODY_BYTES:
                return error_response(
                    _("Request body is too large (limit %(limit)d bytes).")
                    % {"limit": settings.API_MAX_BODY_BYTES},
                    413,
                )
        return self.get_response(request)
