"""What every HTML view needs first: the acting person, or a 403 page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from incidents.errors import Forbidden
from incidents.policy import Actor, actor_for


def page_actor(request: HttpRequest) -> Actor:
    """The person behind a page request; `PermissionDenied` (403) for one of no district."""
    try:
        return actor_for(request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None
