"""JSON answers of the API: UTF-8 as it is (Chinese stays readable), one error shape."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from ninja.renderers import JSONRenderer

UNESCAPED = {"ensure_ascii": False}


class UnicodeJSONRenderer(JSONRenderer):
    """Ninja's renderer, without escaping non-ASCII characters as \\uXXXX."""

    json_dumps_params = UNESCAPED


def json_response(body: Any, *, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False, json_dumps_params=UNESCAPED)


def error_response(
    detail: str, status: int, errors: list[dict[str, Any]] | None = None
) -> JsonResponse:
    """`{"detail": ..., "errors": [...]}`, the shape of every API refusal."""
    return json_response({"detail": detail, "errors": errors or []}, status=status)
