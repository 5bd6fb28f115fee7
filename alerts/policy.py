"""Who may see and act on alerts and rosters: the rules the pages, the API and the services
share."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from alerts.models import Alert
from incidents.domain.lifecycle import Role
from incidents.errors import Forbidden
from incidents.models import Unit
from incidents.policy import Actor


def alerts_visible(actor: Actor, qs: QuerySet[Alert] | None = None) -> QuerySet[Alert]:
    """Command staff and reviewers see the district's alerts; others their own unit's."""
    qs = (qs if qs is not None else Alert.objects.all()).filter(district_id=actor.district_id)
    if actor.district_wide:
        return qs
    return qs.filter(unit_id=actor.unit_id) if actor.unit_id else qs.none()


def check_acknowledge(actor: Actor, alert: Alert) -> None:
    """Only the alerted unit's liaison or command staff acknowledge an alert (`Forbidden`)."""
    if actor.is_command or (Role.LIAISON in actor.roles and actor.unit_id == alert.unit_id):
        return
    raise Forbidden(_("Only the unit's liaison or command staff acknowledge an alert."))


def roster_units(actor: Actor) -> QuerySet[Unit]:
    """The units whose duty roster the person sees: all for district-wide roles, else their
    own."""
    units = Unit.objects.filter(district_id=actor.district_id, active=True)
    if actor.district_wide:
        return units
    return units.filter(pk=actor.unit_id) if actor.unit_id else units.none()
