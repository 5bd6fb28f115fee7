"""Template filters of the hub."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from incidents.models import KIND_LABELS, PROJECT_TYPE_CHOICES, STATUS_LABELS

register = template.Library()

_RULE_PREFIX = "rule for "


@register.filter
def routing_note(note: str) -> str:
    """The routing decision stored on a case, in the reader's language.

    The domain records `rule for <project type>` when the table decided, or its reason
    (English, for the log) when a person must choose.
    """
    if not note:
        return ""
    if note.startswith(_RULE_PREFIX):
        project_type = note.removeprefix(_RULE_PREFIX)
        label = dict(PROJECT_TYPE_CHOICES).get(project_type, _("no construction project"))
        return _("Routing table: %(type)s") % {"type": label}
    return _("A person must route this case (%(reason)s).") % {"reason": note}


@register.filter
def percent(value: float | None) -> str:
    """A share (0–1) as a whole percentage; a dash when there is nothing to divide."""
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


@register.filter
def duration(seconds: int | None) -> str:
    """Elapsed seconds as hours and minutes (e.g. 2:05), or days past a day."""
    if seconds is None:
        return "—"
    minutes = int(seconds) // 60
    if minutes >= 24 * 60:
        return _("%(days)d d %(hours)d h") % {
            "days": minutes // (24 * 60),
            "hours": minutes % (24 * 60) // 60,
        }
    return f"{minutes // 60}:{minutes % 60:02d}"


@register.filter
def incident_status(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))  # type: ignore[call-overload]


@register.filter
def incident_kind(value: str) -> str:
    return str(KIND_LABELS.get(value, value))  # type: ignore[call-overload]
