"""Template filters of the hub."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from incidents.models import PROJECT_TYPE_CHOICES

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
