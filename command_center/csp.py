"""Content Security Policy: the header on every HTML page, and the endpoint that receives the
browsers' reports of what it blocked.

No page runs code that is not a file of the hub's own: scripts are static files, or a map's
script served from its own URL (`maps.rendering`), and data reaches them in
`<script type="application/json">` blocks, which a browser never executes. Styles likewise
come only from stylesheets; what the map libraries change at run time they change through
the CSSOM (`element.style.x = ...`), which a policy does not govern, so `'unsafe-inline'` is
needed neither for scripts nor for styles, the admin's pages included.

Sources that vary by deployment are added to the fixed policy: the map tile server's origins
(`MAP_TILES`) to `img-src`, the page's own host over `ws:`/`wss:` to `connect-src` (CSP 3
lets `'self'` match them, but older browsers do not), and `CSP_EXTRA_IMG_SRC` /
`CSP_EXTRA_CONNECT_SRC`. `CSP_REPORT_ONLY=true` sends the policy as
`Content-Security-Policy-Report-Only`, to try it on a running hub before enforcing it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger("command_center.csp")

ENFORCE_HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"

# The policy every page gets, before the deployment's own sources are added.
BASE_DIRECTIVES: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    # data: for the small icons libraries inline in their stylesheets.
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "font-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "frame-ancestors": ("'none'",),
    "form-action": ("'self'",),
}

# A source expression of a settings list: a scheme (`data:`), a host or origin, or a quoted
# keyword. Anything with a space, a comma or a semicolon would add a directive of its own.
_SOURCE = re.compile(r"^(?:'[a-z0-9-]+'|[A-Za-z][A-Za-z0-9+.-]*:|[^\s;,'\"]+)$")

# Django's debug pages for 404 and 500 style themselves inline.
_DEBUG_PAGE_STATUSES = frozenset({404, 500})


def _checked(name: str, sources: Iterable[str]) -> tuple[str, ...]:
    sources = tuple(sources)
    for source in sources:
        if not _SOURCE.match(source):
            raise ImproperlyConfigured(f"{name}: {source!r} is not a CSP source expression")
    return sources


def tile_origins() -> tuple[str, ...]:
    """The origins of the configured map tile server (none when it is this host or none)."""
    from maps.domain.tiles import TileConfigError
    from maps.rendering import current_tiles

    try:
        tiles = current_tiles()
    except TileConfigError:
        return ()  # refused at start-up by the system checks; no map would load anyway
    origins: list[str] = []
    for layer in tiles.layers:
        parts = urlsplit(layer.url)
        if not parts.netloc:
            continue
        for sub in layer.subdomains or "-":
            origin = f"{parts.scheme}://{parts.netloc.replace('{s}', sub)}".lower()
            if origin not in origins:
                origins.append(origin)
    return tuple(origins)


def build_policy(
    *,
    tiles: Iterable[str] = (),
    extra_img: Iterable[str] = (),
    extra_connect: Iterable[str] = (),
    report_uri: str = "",
) -> dict[str, tuple[str, ...]]:
    """The directives of the policy, without the page's own socket origin (see `header_value`).

    Raises `ImproperlyConfigured` for an extra source that is not one source expression.
    """
    directives = dict(BASE_DIRECTIVES)
    directives["img-src"] += _checked("MAP_TILES", tiles) + _checked("CSP_EXTRA_IMG_SRC", extra_img)
    directives["connect-src"] += _checked("CSP_EXTRA_CONNECT_SRC", extra_connect)
    if report_uri:
        directives["report-uri"] = _checked("CSP_REPORT_URI", [report_uri])
    return directives


def header_value(
    directives: dict[str, tuple[str, ...]], socket_host: str | None, secure: bool
) -> str:
    """The header's text, with the page's host over WebSockets added to `connect-src`."""
    parts = []
    for name, sources in directives.items():
        if name == "connect-src" and socket_host:
            sources = (
                *sources,
                f"wss://{socket_host}",
                *(() if secure else (f"ws://{socket_host}",)),
            )
        parts.append(" ".join((name, *sources)))
    return "; ".join(parts)


def policy_from_settings() -> dict[str, tuple[str, ...]]:
    return build_policy(
        tiles=tile_origins(),
        extra_img=settings.CSP_EXTRA_IMG_SRC,
        extra_connect=settings.CSP_EXTRA_CONNECT_SRC,
        report_uri=settings.CSP_REPORT_URI,
    )


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every HTML response that does not set one itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.directives = policy_from_settings()
        self.header = REPORT_ONLY_HEADER if settings.CSP_REPORT_ONLY else ENFORCE_HEADER

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if not content_type.startswith("text/html"):
            return response
        if ENFORCE_HEADER in response or REPORT_ONLY_HEADER in response:
            return response
        if settings.DEBUG and response.status_code in _DEBUG_PAGE_STATUSES:
            return response
        try:
            host: str | None = request.get_host()
        except DisallowedHost:
            host = None
        response[self.header] = header_value(self.directives, host, request.is_secure())
        return response


# --- violation reports ----------------------------------------------------------------------

REPORT_CONTENT_TYPES = frozenset(
    {"application/csp-report", "application/json", "application/reports+json"}
)
# The fields of a report worth a log line, each cut to a length no log line needs more of.
REPORT_FIELDS = (
    "document-uri",
    "violated-directive",
    "effective-directive",
    "blocked-uri",
    "source-file",
    "line-number",
    "column-number",
    "disposition",
)
_FIELD_CHARS = 300


def _report_bodies(data: Any) -> list[dict[str, Any]] | None:
    """The violation bodies of a report: `{"csp-report": {...}}` (report-uri), or a list of
    `{"type": "csp-violation", "body": {...}}` (the Reporting API). None if neither."""
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        return [data["csp-report"]]
    if isinstance(data, list) and data and len(data) <= 100:
        bodies = [
            item["body"]
            for item in data
            if isinstance(item, dict)
            and item.get("type") == "csp-violation"
            and isinstance(item.get("body"), dict)
        ]
        return bodies or None
    return None


def _normalised(body: dict[str, Any]) -> dict[str, str]:
    # The Reporting API spells the same fields in camelCase.
    camel = {
        "document-uri": "documentURL",
        "effective-directive": "effectiveDirective",
        "blocked-uri": "blockedURL",
        "source-file": "sourceFile",
        "line-number": "lineNumber",
        "column-number": "columnNumber",
    }
    found = {}
    for field in REPORT_FIELDS:
        value = body.get(field, body.get(camel.get(field, field)))
        if isinstance(value, str | int) and not isinstance(value, bool):
            found[field] = str(value)[:_FIELD_CHARS]
    return found


@csrf_exempt  # browsers send reports without the page's token
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """`POST /csp-report/`: log a browser's report of what the policy blocked; 204.

    400 for a body that is not a violation report, 413 over `CSP_REPORT_MAX_BYTES`, 415 for
    another content type. Nothing is stored: the log is where operators look.
    """
    limit = settings.CSP_REPORT_MAX_BYTES
    if request.content_type not in REPORT_CONTENT_TYPES:
        return HttpResponse(status=415)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse(status=400)
    if declared > limit:
        return HttpResponse(status=413)
    raw = request.read(limit + 1)  # a body without a declared length is cut here
    if len(raw) > limit:
        return HttpResponse(status=413)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return HttpResponse(status=400)
    bodies = _report_bodies(data)
    if bodies is None:
        return HttpResponse(status=400)
    for body in bodies:
        fields = _normalised(body)
        logger.warning(
            "CSP violation: %s",
            " ".join(f"{key}={value!r}" for key, value in fields.items()),
            extra={"csp": fields},
        )
    return HttpResponse(status=204)
