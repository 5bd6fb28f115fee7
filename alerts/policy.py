"""Who may see and act on alerts and rosters: the rules the pages, the API and the services
share."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from alerts.domain.risk import WARNING_MOVES, WarningAction, WarningState
from alerts.models import Alert, EarlyWarning
from incidents.domain.lifecycle import Role
from incidents.errors import Forbidden
from incidents.models import Unit
from incidents.policy import DISTRICT_WIDE, Actor


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


# --- early warning ------------------------------------------------------------------------


def check_send_readings(actor: Actor) -> None:
    """Indicator readings come from integrations (data feeds) and command staff."""
    if actor.roles & {Role.INTEGRATION, Role.COMMAND}:
        return
    raise Forbidden(_("Only data feeds and command staff send indicator readings."))


def reads_opinion(actor: Actor) -> bool:
    """Public opinion is read by the district-wide roles (command staff, inspectors,
    reviewers), by their roles: the district window's clerk sees every case, not this."""
    return bool(actor.roles & DISTRICT_WIDE)


def check_record_opinion(actor: Actor) -> None:
    """Public opinion is reported by feeds, command staff and units' liaisons (the
    cyberspace office among them)."""
    if actor.roles & {Role.INTEGRATION, Role.COMMAND, Role.LIAISON}:
        return
    raise Forbidden(_("Only feeds, command staff and liaisons report public opinion."))


def warnings_visible(
    actor: Actor, qs: QuerySet[EarlyWarning] | None = None
) -> QuerySet[EarlyWarning]:
    """Command staff, inspectors and reviewers see every warning of the district; a unit's
    liaison those assigned to its unit; nobody else any."""
    qs = (qs if qs is not None else EarlyWarning.objects.all()).filter(
        district_id=actor.district_id
    )
    if actor.roles & DISTRICT_WIDE:
        return qs
    if Role.LIAISON in actor.roles and actor.unit_id:
        return qs.filter(unit_id=actor.unit_id)
    return qs.none()


def warning_moves(actor: Actor, warning: EarlyWarning) -> list[WarningAction]:
    """The actions the person may take on the warning in its present state."""
    state = WarningState(warning.state)
    own = Role.LIAISON in actor.roles and actor.unit_id is not None
    own = own and actor.unit_id == warning.unit_id
    allowed = []
    for (from_state, action), _to in WARNING_MOVES.items():
        if from_state is not state:
            continue
        if action is WarningAction.REASSIGN and not actor.is_command:
            continue
        if action is not WarningAction.REASSIGN and not (actor.is_command or own):
            continue
        allowed.append(action)
    return allowed


def check_warning_move(actor: Actor, warning: EarlyWarning, action: WarningAction) -> None:
    """`Forbidden` unless the person may take `action` on warnings of this unit (whatever
    the warning's state: a move the state does not allow is the caller's `Conflict`)."""
    if action is WarningAction.REASSIGN:
        if actor.is_command:
            return
        raise Forbidden(_("Only command staff reassign a warning."))
    own = Role.LIAISON in actor.roles and actor.unit_id is not None
    if actor.is_command or (own and actor.unit_id == warning.unit_id):
        return
    raise Forbidden(_("Only the assigned unit's liaison or command staff act on a warning."))
