"""The permission policy: who may see and act on what, by role and unit scope.

One place for HTTP views, the API and (later) WebSocket consumers. Roles are Django groups
named after `Role`; scope comes from the person's `Membership`.

- command staff, inspectors and reviewers see every case of their district;
- a window clerk sees the cases reported at their window or located in its town, and those
  they registered (the clerk of the district window, which belongs to no town, sees the whole
  district);
- a unit liaison sees the cases their unit is responsible for or assists with, and acts only
  on those it is responsible for;
- reviewers only read;
- an integration (110 dispatch, a hotline) registers complaints and sees what it registered.

The provincial command (`province_actor_for`) belongs to no district: it reads its
province's figures and its incidents of level II and above, and acts on nothing.

Mass incidents: district-wide roles see all of them; a unit's liaison sees those in its town
or that its unit takes part in; an integration sees those it reported. Command staff run
them; a taking-part liaison and the reporting integration update the situation; everyone
in a room but reviewers and integrations may chat and acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from incidents.domain import incidents as incident_rules
from incidents.domain.lifecycle import TERMINAL_STATES, Action, Role, role_may
from incidents.domain.streams import district_stream, unit_stream
from incidents.errors import Forbidden
from incidents.models import (
    ACTION_LABELS,
    INCIDENT_ACTION_LABELS,
    Case,
    Incident,
    Membership,
    ProvinceMembership,
)

DISTRICT_WIDE = frozenset({Role.COMMAND, Role.INSPECTOR, Role.REVIEWER})
# The Django group of a province's command staff (not a district role: see `Role`).
PROVINCE_GROUP = "province"
# Roles that need the complainant's full phone and ID number to do their work.
SEES_PERSONAL_DATA = frozenset({Role.COMMAND, Role.CLERK, Role.INSPECTOR})


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    roles: frozenset[Role]
    district_id: int
    unit_id: int | None
    window_id: int | None
    window_unit_id: int | None
    # Set for the provincial command only (`province_actor_for`), whose `district_id` is 0
    # and `roles` empty: district-scoped reads give such a person nothing.
    province_id: int | None = None

    @property
    def is_command(self) -> bool:
        return Role.COMMAND in self.roles

    @property
    def sees_personal_data(self) -> bool:
        return bool(self.roles & SEES_PERSONAL_DATA)

    @property
    def district_wide(self) -> bool:
        if self.roles & DISTRICT_WIDE:
            return True
        return (
            Role.CLERK in self.roles and self.window_id is not None and self.window_unit_id is None
        )


def actor_for(user: AbstractBaseUser | AnonymousUser) -> Actor:
    """The acting person, or `Forbidden` for someone who belongs to no district."""
    if not user.is_authenticated:
        raise Forbidden(_("Authentication required."))
    membership = Membership.objects.select_related("window").filter(user_id=user.pk).first()
    if membership is None:
        raise Forbidden(_("This account belongs to no district."))
    names = set(Group.objects.filter(user__pk=user.pk).values_list("name", flat=True))
    roles = frozenset(Role(n) for n in names if n in Role._value2member_map_)
    return Actor(
        user_id=user.pk,
        username=user.get_username(),
        roles=roles,
        district_id=membership.district_id,
        unit_id=membership.unit_id,
        window_id=membership.window_id,
        window_unit_id=membership.window.unit_id if membership.window else None,
    )


def province_actor_for(user: AbstractBaseUser | AnonymousUser) -> Actor:
    """The provincial command's person, or `Forbidden`: a member of the `province` group
    with a `ProvinceMembership`. They read the province's figures and its incidents of
    level II and above; they belong to no district and act on nothing there."""
    if not user.is_authenticated:
        raise Forbidden(_("Authentication required."))
    membership = ProvinceMembership.objects.filter(user_id=user.pk).first()
    in_group = Group.objects.filter(user__pk=user.pk, name=PROVINCE_GROUP).exists()
    if membership is None or not in_group:
        raise Forbidden(_("This account is not on a province's command staff."))
    return Actor(
        user_id=user.pk,
        username=user.get_username(),
        roles=frozenset(),
        district_id=0,
        unit_id=None,
        window_id=None,
        window_unit_id=None,
        province_id=membership.province_id,
    )


def visible_cases(actor: Actor, cases: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """The cases `actor` may see."""
    qs = (cases if cases is not None else Case.objects.all()).filter(district_id=actor.district_id)
    if actor.district_wide:
        return qs
    scope = Q(pk__in=[])
    if Role.CLERK in actor.roles:
        # What the clerk registered, wherever it came from (a hotline call taken at the desk).
        scope |= Q(reports__created_by_id=actor.user_id)
    if Role.CLERK in actor.roles and actor.window_id is not None:
        scope |= Q(reports__window_id=actor.window_id)
        if actor.window_unit_id is not None:
            scope |= Q(town_id=actor.window_unit_id)
    if Role.LIAISON in actor.roles and actor.unit_id is not None:
        # The assisted cases by their own table: an OR across a join of the assisting units
        # would make every case a row of the join before filtering.
        assisted = Case.assisting_units.through.objects.filter(unit_id=actor.unit_id)
        scope |= Q(responsible_unit_id=actor.unit_id) | Q(pk__in=assisted.values("case_id"))
    if Role.INTEGRATION in actor.roles:
        scope |= Q(reports__created_by_id=actor.user_id)
    return qs.filter(pk__in=Case.objects.filter(scope).values("pk"))


def can_view_case(actor: Actor, case: Case) -> bool:
    return visible_cases(actor, Case.objects.filter(pk=case.pk)).exists()


def check_action(actor: Actor, case: Case, action: Action) -> None:
    """Raise `Forbidden` unless `actor` may take `action` on `case` (state is checked apart)."""
    if case.district_id != actor.district_id:
        raise Forbidden(_("This case belongs to another district."))
    if not role_may(actor.roles, action):
        raise Forbidden(
            _("Your role may not take the action “%(action)s”.") % {"action": ACTION_LABELS[action]}
        )
    if actor.roles & {Role.COMMAND, Role.INSPECTOR} and role_may(
        actor.roles & {Role.COMMAND, Role.INSPECTOR}, action
    ):
        return
    if (
        Role.LIAISON in actor.roles
        and case.responsible_unit_id is not None
        and case.responsible_unit_id == actor.unit_id
        and role_may({Role.LIAISON}, action)
    ):
        return
    if Role.CLERK in actor.roles and role_may({Role.CLERK}, action) and can_view_case(actor, case):
        return
    raise Forbidden(_("This case is not your unit’s."))


def check_register(actor: Actor) -> None:
    """Window clerks, command staff and integrations (110, hotlines) register complaints."""
    if not actor.roles & {Role.COMMAND, Role.CLERK, Role.INTEGRATION}:
        raise Forbidden(_("Your role may not register complaints."))


def visible_incidents(
    actor: Actor, incidents: QuerySet[Incident] | None = None
) -> QuerySet[Incident]:
    """The mass incidents `actor` may see."""
    qs = (incidents if incidents is not None else Incident.objects.all()).filter(
        district_id=actor.district_id
    )
    if actor.district_wide:
        return qs
    scope = Q(pk__in=[])
    if actor.unit_id is not None and actor.roles & {Role.LIAISON, Role.INSPECTOR}:
        scope |= Q(town_id=actor.unit_id) | Q(units=actor.unit_id)
    if Role.INTEGRATION in actor.roles:
        scope |= Q(reported_by_id=actor.user_id)
    return qs.filter(pk__in=Incident.objects.filter(scope).values("pk"))


def can_view_incident(actor: Actor, incident: Incident) -> bool:
    return visible_incidents(actor, Incident.objects.filter(pk=incident.pk)).exists()


def case_offers_incident(case: Case, offer_from_workers: int) -> bool:
    """An open case of at least `offer_from_workers` workers offers to report a mass
    incident from it (the case page shows the offer)."""
    return case.state not in TERMINAL_STATES and case.workers_count >= offer_from_workers


def check_report_incident(actor: Actor, cases: list[Case], offer_from_workers: int) -> None:
    """Command staff and integrations (110) open incidents; a case's own people may open
    one from a case of at least `offer_from_workers` workers that they can see."""
    if actor.roles & {Role.COMMAND, Role.INTEGRATION}:
        return
    if actor.roles & {Role.LIAISON, Role.CLERK} and any(
        case.workers_count >= offer_from_workers and can_view_case(actor, case) for case in cases
    ):
        return
    raise Forbidden(
        _(
            "Only command staff, the 110 link or the people of a case of %(n)s or more "
            "workers may report a mass incident."
        )
        % {"n": offer_from_workers}
    )


def check_incident_action(actor: Actor, incident: Incident, action: incident_rules.Action) -> None:
    """Raise `Forbidden` unless `actor` may take `action` on `incident`."""
    if incident.district_id != actor.district_id:
        raise Forbidden(_("This incident belongs to another district."))
    if actor.is_command:
        return
    updater = Role.LIAISON in actor.roles or (
        Role.INTEGRATION in actor.roles and incident.reported_by_id == actor.user_id
    )
    if action is incident_rules.Action.UPDATE and updater and can_view_incident(actor, incident):
        return
    raise Forbidden(
        _("Your role may not take the action “%(action)s”.")
        % {"action": INCIDENT_ACTION_LABELS[action]}
    )


def check_room_post(actor: Actor, incident: Incident) -> None:
    """Chat and acknowledge in an incident room: its people, but not reviewers or systems."""
    if not can_view_incident(actor, incident):
        raise Forbidden(_("You may not see this incident."))
    if not actor.roles & {Role.COMMAND, Role.LIAISON, Role.CLERK, Role.INSPECTOR}:
        raise Forbidden(_("Your role only reads this room."))


def dashboard_stream(actor: Actor) -> str | None:
    """The event stream of `actor`'s dashboard: the district for district-wide roles, the
    unit for a liaison; None for everyone else."""
    if actor.district_wide:
        return district_stream(actor.district_id)
    if Role.LIAISON in actor.roles and actor.unit_id is not None:
        return unit_stream(actor.unit_id)
    return None
