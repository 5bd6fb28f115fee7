"""The petition special account, its ledger and the unit penalty points it costs."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.models.cases import Case
from incidents.models.reference import District, Unit


class FundAccount(models.Model):
    """The district's petition special account (信访专用账户). The balance is moved only by
    a conditional UPDATE, so two advances can never overdraw it."""

    district = models.OneToOneField(District, on_delete=models.PROTECT)
    balance = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("petition special account")
        verbose_name_plural = _("petition special accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="fund_balance_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.district.code}: {self.balance}"


class FundEntry(models.Model):
    """A ledger line of the petition special account."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("deposit")
        ADVANCE = "advance", _("advance")
        RECOVERY = "recovery", _("recovery")

    account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="fund_entries"
    )
    balance_after = models.DecimalField(max_digits=16, decimal_places=2)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="fund_amount_pos")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class UnitPenalty(models.Model):
    """Points a unit loses in its assessment (each advance from the fund costs 2)."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="penalties")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True)
    points = models.DecimalField(max_digits=6, decimal_places=1)
    reason = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.unit.code} -{self.points}"
