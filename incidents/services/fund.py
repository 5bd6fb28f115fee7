"""The petition special account: ledger moves that can never overdraw it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.errors import Conflict, Invalid
from incidents.events import event_record
from incidents.models import (
    Case,
    FundAccount,
    FundEntry,
)
from incidents.policy import Actor


def fund_total(case: Case, kind: str) -> Decimal:
    total = FundEntry.objects.filter(case=case, kind=kind).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0")


def fund_outstanding(case: Case) -> Decimal:
    """What was advanced for `case` and is not recovered yet."""
    return fund_total(case, FundEntry.Kind.ADVANCE) - fund_total(case, FundEntry.Kind.RECOVERY)


def fund_move(
    *,
    district_id: int,
    kind: str,
    amount: Decimal,
    unit_id: int | None = None,
    case: Case | None = None,
    actor: Actor | None = None,
    note: str = "",
    now: datetime | None = None,
) -> FundEntry:
    """Move money in or out of the petition special account and write its ledger line.

    An advance is refused (`Conflict`) when the balance is short; the check and the debit are
    one conditional UPDATE, so concurrent advances cannot overdraw the account.
    """
    if amount <= 0:
        raise Invalid(_("Amounts must be positive."))
    with transaction.atomic():
        account = FundAccount.objects.filter(district_id=district_id).first()
        if account is None:
            raise Conflict(_("This district has no petition special account."))
        rows = FundAccount.objects.filter(pk=account.pk)
        if kind == FundEntry.Kind.ADVANCE:
            moved = rows.filter(balance__gte=amount).update(balance=F("balance") - amount)
            if not moved:
                raise Conflict(
                    _("The petition special account balance is too low for this advance.")
                )
        else:
            rows.update(balance=F("balance") + amount)
        account.refresh_from_db(fields=["balance"])
        entry = FundEntry.objects.create(
            account=account,
            kind=kind,
            amount=amount,
            unit_id=unit_id,
            case=case,
            balance_after=account.balance,
            actor_id=actor.user_id if actor else None,
            note=note,
            at=now or timezone.now(),
        )
        event_record(
            at=now,
            district=district_id,
            case=case,
            kind=f"fund.{kind}",
            actor=actor,
            data={"amount": str(amount), "balance_after": str(account.balance), "entry": entry.pk},
        )
        return entry


def fund_balance_by_unit(district_id: int) -> list[dict[str, Any]]:
    """Per unit: advanced, recovered and still outstanding."""
    rows = (
        FundEntry.objects.filter(account__district_id=district_id, unit__isnull=False)
        .values("unit__code")
        .annotate(
            advanced=Sum("amount", filter=Q(kind=FundEntry.Kind.ADVANCE), default=Decimal("0")),
            recovered=Sum("amount", filter=Q(kind=FundEntry.Kind.RECOVERY), default=Decimal("0")),
        )
        .order_by("unit__code")
    )
    return [
        {
            "unit": r["unit__code"],
            "advanced": r["advanced"],
            "recovered": r["recovered"],
            "outstanding": r["advanced"] - r["recovered"],
        }
        for r in rows
    ]
