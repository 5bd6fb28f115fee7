"""The wage-arrears blacklist: listing, appeal and four-eyes removal."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.services.risk_facts import risk_facts_changed
from incidents.domain.identifiers import mask_numbers_in_text
from incidents.errors import Conflict, Forbidden, Invalid, NotFound
from incidents.events import event_record
from incidents.models import (
    BlacklistEntry,
    Enterprise,
)
from incidents.policy import Actor, visible_cases
from incidents.services.common import require_reason


def blacklist_add(
    *,
    actor: Actor,
    reason: str,
    credit_code: str | None = None,
    person_name: str = "",
    person_id_number: str = "",
    case_numbers: list[str] | None = None,
    now: datetime | None = None,
) -> BlacklistEntry:
    """Put an employer or a responsible person on the blacklist (command staff, inspectors)."""
    if not actor.roles & {"command", "inspector"}:
        raise Forbidden(_("Only command staff and labour inspectors may blacklist."))
    require_reason(reason)
    if not credit_code and not person_name.strip():
        raise Invalid(
            _("Name an employer or a person."),
            [{"field": "credit_code", "message": _("This field is required.")}],
        )
    now = now or timezone.now()
    with transaction.atomic():
        enterprise = None
        if credit_code:
            enterprise = Enterprise.objects.filter(
                district_id=actor.district_id, credit_code=credit_code
            ).first()
            if enterprise is None:
                raise Invalid(
                    _("Unknown employer."),
                    [{"field": "credit_code", "message": _("Unknown employer.")}],
                )
        cases = list(visible_cases(actor).filter(number__in=case_numbers or []))
        unknown = set(case_numbers or []) - {c.number for c in cases}
        if unknown:
            raise Invalid(
                _("Unknown cases."),
                [
                    {"field": "case_numbers", "message": _("No case %(number)s.") % {"number": n}}
                    for n in sorted(unknown)
                ],
            )
        entry = BlacklistEntry.objects.create(
            district_id=actor.district_id,
            enterprise=enterprise,
            person_name=person_name.strip(),
            person_id_number=person_id_number,
            reason=reason,
            listed_by_id=actor.user_id,
            listed_at=now,
        )
        entry.cases.set(cases)
        risk_facts_changed(enterprise_ids=[entry.enterprise_id or 0])
        event_record(
            at=now,
            district=actor.district_id,
            kind="blacklist.listed",
            actor=actor,
            reason=mask_numbers_in_text(reason),
            after=entry.status,
            data={
                "entry": entry.pk,
                "credit_code": credit_code,
                "person": person_name,
                "cases": [c.number for c in cases],
            },
        )
        return entry


def _blacklist_entry(actor: Actor, entry_id: int) -> BlacklistEntry:
    entry = (
        BlacklistEntry.objects.select_for_update()
        .filter(pk=entry_id, district_id=actor.district_id)
        .first()
    )
    if entry is None:
        raise NotFound(_("No blacklist entry %(id)s.") % {"id": entry_id})
    return entry


def _blacklist_move(
    actor: Actor, entry: BlacklistEntry, status: BlacklistEntry.Status, reason: str
) -> BlacklistEntry:
    """Save `entry` in its new status and write the event (inside the caller's transaction)."""
    before = entry.status
    entry.status = status
    entry.save()
    risk_facts_changed(enterprise_ids=[entry.enterprise_id or 0])
    event_record(
        district=actor.district_id,
        kind=f"blacklist.{status.value}",
        actor=actor,
        reason=mask_numbers_in_text(reason),
        before=before,
        after=status,
        data={"entry": entry.pk},
    )
    return entry


def blacklist_appeal(*, actor: Actor, entry_id: int, reason: str) -> BlacklistEntry:
    """Record an appeal against a listing (the entry stays in force meanwhile)."""
    if not actor.roles & {"command", "inspector", "clerk"}:
        raise Forbidden(_("Your role may not record appeals."))
    require_reason(reason)
    with transaction.atomic():
        entry = _blacklist_entry(actor, entry_id)
        if entry.status != BlacklistEntry.Status.LISTED:
            raise Conflict(_("Only a listed entry can be appealed."))
        entry.appeal_reason = reason
        entry.appealed_at = timezone.now()
        return _blacklist_move(actor, entry, BlacklistEntry.Status.APPEALED, reason)


def blacklist_remove(*, actor: Actor, entry_id: int, reason: str) -> BlacklistEntry:
    """Take an entry off the blacklist: command staff only, and never the person who listed it."""
    if not actor.is_command:
        raise Forbidden(_("Only joint command staff may remove a blacklist entry."))
    require_reason(reason)
    with transaction.atomic():
        entry = _blacklist_entry(actor, entry_id)
        if entry.status == BlacklistEntry.Status.REMOVED:
            raise Conflict(_("The entry is already removed."))
        if entry.listed_by_id == actor.user_id:
            raise Forbidden(_("Removal needs a different person from the one who listed it."))
        entry.removed_by_id = actor.user_id
        entry.removed_at = timezone.now()
        entry.removal_reason = reason
        return _blacklist_move(actor, entry, BlacklistEntry.Status.REMOVED, reason)
