"""SMS alerts: officers and duty rosters, sensitive periods, alerts and the SMS outbox."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.domain.delivery import SmsStatus
from alerts.domain.duty import Reason, Rung
from alerts.domain.messages import MessageError, to_e164
from incidents.models import Case, District, Incident, Unit

RUNG_LABELS = {
    Rung.LIAISON: _("liaison"),
    Rung.PRIMARY: _("primary"),
    Rung.BACKUP: _("backup"),
    Rung.LEADER: _("leader"),
    Rung.COMMAND: _("joint command"),
}
DUTY_RUNG_CHOICES = [(r.value, RUNG_LABELS[r]) for r in (Rung.PRIMARY, Rung.BACKUP, Rung.LEADER)]
REASON_LABELS = {
    Reason.INCIDENT_OPENED: _("incident opened"),
    Reason.LEVEL_RAISED: _("incident level raised"),
    Reason.CLOCK_OVERDUE: _("case deadline passed"),
    Reason.ZERO_REPORT_MISSING: _("daily report missing"),
    Reason.STEP_LATE: _("playbook step late"),
    Reason.WARNING_RAISED: _("red early warning"),
    Reason.WARNING_OVERDUE: _("early warning not acted on in time"),
}
STATUS_LABELS = {
    SmsStatus.QUEUED: _("queued"),
    SmsStatus.SENDING: _("sending"),
    SmsStatus.SENT: _("sent"),
    SmsStatus.DELIVERED: _("delivered"),
    SmsStatus.UNDELIVERED: _("undelivered"),
    SmsStatus.FAILED: _("failed"),
}


class AlertSettings(models.Model):
    """A district's alerting rules (admin-editable); made with the plan's defaults."""

    district = models.OneToOneField(District, on_delete=models.CASCADE, related_name="+")
    escalate_minutes = models.PositiveIntegerField(
        _("minutes before an unacknowledged alert escalates"), default=15
    )
    escalate_minutes_sensitive = models.PositiveIntegerField(
        _("the same, in a sensitive period"), default=5
    )
    validity_minutes = models.PositiveIntegerField(
        _("minutes an SMS stays worth sending"),
        default=15,
        help_text=_("A message not handed to the provider by then fails and escalates."),
    )
    builtin_periods = models.BooleanField(
        _("use the built-in sensitive periods"),
        default=True,
        help_text=_("Spring Festival run-up, Two Sessions and National Day week."),
    )
    zero_report_hour = models.PositiveSmallIntegerField(
        _("hour by which daily reports are due"), default=10
    )
    paged_units = models.ManyToManyField(
        Unit,
        blank=True,
        related_name="+",
        verbose_name=_("units paged for every incident"),
        help_text=_("Usually human resources, housing, police and petition; the town is added."),
    )
    zero_report_units = models.ManyToManyField(
        Unit,
        blank=True,
        related_name="+",
        verbose_name=_("units filing daily reports in sensitive periods"),
    )

    class Meta:
        verbose_name = _("alert settings")
        verbose_name_plural = _("alert settings")

    def __str__(self) -> str:
        return str(self.district)


class SensitivePeriod(models.Model):
    """A period an administrator adds, with the stricter rules of the built-in ones."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))

    class Meta:
        verbose_name = _("sensitive period")
        verbose_name_plural = _("sensitive periods")
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="period_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on}–{self.ends_on})"


class Officer(models.Model):
    """A person who can be paged: a unit's officer or liaison, or joint command staff."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="officers",
        help_text=_("Empty for joint command staff."),
    )
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("mobile number (E.164)"), max_length=16)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="officer",
    )
    is_liaison = models.BooleanField(_("the unit's liaison"), default=False)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("officer")
        verbose_name_plural = _("officers")
        ordering = ["unit", "name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "phone"], name="officer_phone_uniq")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Store the phone in E.164 whatever way it was typed; refuse what takes no SMS."""
        try:
            self.phone = to_e164(self.phone)
        except MessageError as exc:
            raise ValidationError({"phone": _("Give a mobile number.")}) from exc


class DutyShift(models.Model):
    """One line of a unit's duty roster (值班表): who is primary, backup or leader that day."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="duty_shifts")
    day = models.DateField(_("day"))
    rung = models.CharField(_("duty"), max_length=10, choices=DUTY_RUNG_CHOICES)
    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="shifts")

    class Meta:
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty roster")
        ordering = ["day", "unit", "rung"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "day", "rung"], name="duty_unit_day_rung_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.unit.code} {self.rung}: {self.officer}"


class Alert(models.Model):
    """A decision to page a unit about something, and its way up the escalation ladder.

    `ladder` is fixed when the alert is raised (a list of stages, each a list of rungs);
    `stage` is the current one. `escalate_at` is when the next stage fires unless the alert
    is acknowledged first; the sweep claims it by a conditional UPDATE on `stage`, so it
    fires once, and never after an acknowledgement.
    """

    class State(models.TextChoices):
        OPEN = "open", _("waiting for acknowledgement")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        EXHAUSTED = "exhausted", _("nobody acknowledged")
        CANCELLED = "cancelled", _("no longer needed")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=120, unique=True)
    reason = models.CharField(
        max_length=30, choices=[(r.value, lbl) for r, lbl in REASON_LABELS.items()]
    )
    # None: the alert is about something the joint command itself owns (it pages command).
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    level = models.CharField(max_length=3, blank=True)
    sensitive = models.BooleanField(default=False)
    ladder = models.JSONField(default=list)
    stage = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=15, choices=State.choices, default=State.OPEN)
    params = models.JSONField(default=dict, help_text="The SMS parameters of the first page.")
    raised_at = models.DateTimeField(default=timezone.now)
    escalate_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_via = models.CharField(max_length=10, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at"]
        indexes = [
            models.Index(
                fields=["escalate_at"],
                name="alert_escalation_due_idx",
                condition=Q(state="open", escalate_at__isnull=False),
            ),
            models.Index(fields=["district", "state"], name="alert_district_state_idx"),
        ]

    def __str__(self) -> str:
        return f"A{self.pk} {self.reason} {self.unit_id}"

    @property
    def reason_label(self) -> str:
        return str(REASON_LABELS[Reason(self.reason)])


class SmsMessage(models.Model):
    """One SMS in the outbox, written in the transaction that decided to send it.

    Workers claim rows (`status` sending, `lease_until`), note `attempt_started_at` just
    before calling the provider, and record the outcome. A row still `sending` after its
    lease belonged to a worker that died: the next claimant asks the provider whether the
    attempt arrived (`find_sent`, by `reference`) before sending again.
    """

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=160, unique=True)
    alert = models.ForeignKey(
        Alert, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    stage = models.PositiveSmallIntegerField(default=0)
    officer = models.ForeignKey(
        Officer, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    to = models.CharField(max_length=16)
    template = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    body = models.CharField(max_length=300)
    reason = models.CharField(max_length=30)
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=12,
        choices=[(s.value, lbl) for s, lbl in STATUS_LABELS.items()],
        default=SmsStatus.QUEUED.value,
    )
    provider = models.CharField(max_length=20, blank=True)
    provider_id = models.CharField(max_length=64, blank=True)
    provider_status = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS outbox")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="sms_claimable_idx",
                condition=Q(status__in=["queued", "sending"]),
            ),
            models.Index(fields=["provider", "provider_id"], name="sms_provider_id_idx"),
            models.Index(fields=["to", "created_at"], name="sms_to_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.status}"

    @property
    def reference(self) -> str:
        """The message's reference, quoted in its body and in replies: "M<id>"."""
        return f"M{self.pk}"

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[SmsStatus(self.status)])


class ZeroReport(models.Model):
    """A unit's daily report in a sensitive period (零报告: nothing to report is a report)."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="zero_reports")
    day = models.DateField()
    nothing_to_report = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    filed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("daily report")
        verbose_name_plural = _("daily reports")
        ordering = ["-day", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "day"], name="zero_report_unit_day_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.unit.code}"


PERIOD_LABELS = {
    "spring_festival": _("Spring Festival run-up"),
    "two_sessions": _("Two Sessions"),
    "national_day": _("National Day week"),
}


def period_label(name: str | None) -> str:
    """The name of a sensitive period to show (built-in ones translated)."""
    if not name:
        return ""
    return str(PERIOD_LABELS.get(name, name))
