"""Rankings' settings and the accountability records they leave; daily situation reports."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from command_center.domain.reports import Consequence, StrikeWindow
from incidents.models import District, Unit

STRIKE_WINDOW_CHOICES = [
    (StrikeWindow.YEAR.value, _("within the calendar year")),
    (StrikeWindow.CONSECUTIVE.value, _("in consecutive months")),
    (StrikeWindow.ROLLING.value, _("within the last N months")),
]
CONSEQUENCE_LABELS = {
    Consequence.INTERVIEW: _("interview of the leader"),
    Consequence.CRITICISM: _("notice of criticism"),
    Consequence.DISCIPLINE: _("disciplinary accountability"),
}
CONSEQUENCE_CHOICES = [(c.value, label) for c, label in CONSEQUENCE_LABELS.items()]


class RankingSettings(models.Model):
    """How a district scores its units and counts the strikes of the unit ranked last."""

    district = models.OneToOneField(
        District, on_delete=models.CASCADE, related_name="ranking_settings"
    )
    advance_points = models.DecimalField(
        _("points per advance from the petition account"),
        max_digits=4,
        decimal_places=1,
        default=Decimal(2),
    )
    overdue_points = models.DecimalField(
        _("points per overdue clock"), max_digits=4, decimal_places=1, default=Decimal(1)
    )
    strike_window = models.CharField(
        _("strikes step up when counted"),
        max_length=20,
        choices=STRIKE_WINDOW_CHOICES,
        default=StrikeWindow.YEAR.value,
    )
    strike_months = models.PositiveSmallIntegerField(
        _("N, for strikes within the last N months"), default=12
    )
    long_open_days = models.PositiveSmallIntegerField(
        _("a case open this many days is long-open"), default=60
    )

    class Meta:
        verbose_name = _("ranking settings")
        verbose_name_plural = _("ranking settings")

    def __str__(self) -> str:
        return str(self.district)


class RankingMonth(models.Model):
    """A month whose ranking was closed: its strikes are recorded and will not change."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    closed_at = models.DateTimeField(default=timezone.now)
    rows = models.JSONField(default=list, help_text="The ranking as it was when closed.")

    class Meta:
        verbose_name = _("closed ranking month")
        verbose_name_plural = _("closed ranking months")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["district", "month"], name="ranking_month_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.district_id}: {self.month:%Y-%m}"


class UnitStrike(models.Model):
    """A unit ranked last in a month, and the step of accountability that strike reached."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="strikes")
    month = models.DateField(help_text="The first day of the month ranked.")
    count = models.PositiveSmallIntegerField(help_text="Strikes counted, this one included.")
    step = models.PositiveSmallIntegerField()
    consequence = models.CharField(max_length=20, choices=CONSEQUENCE_CHOICES)
    score = models.DecimalField(max_digits=6, decimal_places=1)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("strike")
        verbose_name_plural = _("strikes")
        ordering = ["-month", "unit__code"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "month"], name="strike_unit_month_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.month:%Y-%m}: {self.consequence}"

    @property
    def consequence_label(self) -> str:
        return str(CONSEQUENCE_LABELS[Consequence(self.consequence)])


class SituationReport(models.Model):
    """The daily joint situation report (每日联合情况报告) drafted each morning of a sensitive
    period: figures from the records, and what the duty officer adds."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    period = models.CharField(max_length=100, blank=True)
    figures = models.JSONField(default=dict)
    notes = models.TextField(_("duty officer's notes"), blank=True)
    drafted_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("daily situation report")
        verbose_name_plural = _("daily situation reports")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["district", "day"], name="situation_day_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.district_id}: {self.day}"


class LoginThrottle(models.Model):
    """Recent failed logins of one account or one client address, and its lock.

    Kept in the database, not a per-process cache, so that every ASGI process of every
    machine counts the same failures (see command_center/login_guard.py).
    """

    class Kind(models.TextChoices):
        ACCOUNT = "account", _("account")
        ADDRESS = "address", _("client address")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    key = models.CharField(
        _("username or address"),
        max_length=150,
        help_text=_("The username as typed (case-folded), or the client's IP address."),
    )
    failures = models.PositiveIntegerField(_("failures in the window"), default=0)
    first_failure_at = models.DateTimeField(_("window started"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    lock_count = models.PositiveIntegerField(_("times locked"), default=0)

    class Meta:
        verbose_name = _("login throttle")
        verbose_name_plural = _("login throttles")
        ordering = ["-last_failure_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="login_throttle_kind_key_uniq")
        ]
        indexes = [models.Index(fields=["last_failure_at"], name="login_throttle_last_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}"
