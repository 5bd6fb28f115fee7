"""Cases and what hangs on them: employers, projects, reports, slips and clocks."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.domain.lifecycle import OPEN_STATES, CaseState
from incidents.models.choices import PROJECT_TYPE_CHOICES, STATE_CHOICES
from incidents.models.reference import District, Unit, Window


class Enterprise(models.Model):
    """An employer, known by its unified social credit code within a district.

    An indicator reading about an enterprise the hub does not know registers it with no
    name (`registered_by_reading`); the name is filled in later, by intake or an
    administrator.
    """

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    credit_code = models.CharField(max_length=18)
    name = models.CharField(max_length=200, blank=True)
    town = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Where it works; early warnings about it are routed by this town."),
    )
    registered_by_reading = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        constraints = [
            models.UniqueConstraint(
                fields=["district", "credit_code"], name="enterprise_district_code_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name or '?'} ({self.credit_code})"

    @property
    def label(self) -> str:
        """Its name, or its credit code while the name is not known yet."""
        return self.name or self.credit_code


class Project(models.Model):
    """A construction project, known by its name within a district."""

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    name = models.CharField(max_length=200)
    code = models.CharField(
        _("project code"),
        max_length=40,
        blank=True,
        help_text=_("The code data feeds know it by (e.g. its construction permit number)."),
    )
    type = models.CharField(max_length=30, choices=PROJECT_TYPE_CHOICES)
    contractor = models.ForeignKey(
        Enterprise,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contracted_projects",
        help_text=_("The general contractor (总包), answerable for its workers' wages."),
    )
    builder = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True)
    town = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lat = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    lng = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="project_district_name_uniq"),
            models.UniqueConstraint(
                fields=["district", "code"],
                condition=~Q(code=""),
                name="project_district_code_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return self.name


class CaseCounter(models.Model):
    """The last case number given out per district and year."""

    district = models.ForeignKey(District, on_delete=models.CASCADE)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "year"], name="counter_district_year_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.district_id}/{self.year}: {self.last}"


class Case(models.Model):
    """One wage-arrears matter, however many reports it has."""

    class Channel(models.TextChoices):
        WINDOW = "window", _("intake window")
        LABOUR_COMPLAINT = "labour_complaint", _("labour complaint")
        POLICE_110 = "police_110", _("110 police call")
        PETITION = "petition", _("petition visit")
        INSPECTION_TIP = "inspection_tip", _("labour inspection tip")
        HOTLINE_12345 = "hotline_12345", _("12345 hotline")
        ONLINE = "online", _("online")

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    number = models.CharField(max_length=32, unique=True)
    state = models.CharField(
        max_length=20,
        choices=STATE_CHOICES,
        default=CaseState.REGISTERED,
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    received_at = models.DateTimeField()
    employer = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="cases")
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    town = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    workers_count = models.PositiveIntegerField()
    amount_owed = models.DecimalField(max_digits=14, decimal_places=2)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    confirmed_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    description = models.TextField(blank=True)
    responsible_unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    assisting_units = models.ManyToManyField(Unit, blank=True, related_name="assisted_cases")
    routing_note = models.CharField(max_length=200, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    commitment_letter_number = models.CharField(max_length=40, blank=True)
    facts_confirmed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the case first reached resolved, closed, merged or rejected; set once (none of
    # these is ever left for an open state). Reports use it to find the cases a past month
    # handled without reading the whole log; their figures come from the events.
    finished_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    revision = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["district", "state", "-received_at"], name="case_state_idx"),
            models.Index(fields=["responsible_unit", "state"], name="case_unit_state_idx"),
            models.Index(fields=["district", "-received_at"], name="case_received_idx"),
            models.Index(fields=["district", "finished_at"], name="case_finished_idx"),
            # The case list filtered by channel, and its count (EXPLAIN on 1,000,000 cases).
            models.Index(fields=["district", "channel", "-received_at"], name="case_channel_idx"),
            models.Index(
                fields=["district", "created_at"],
                name="case_unfinished_idx",
                condition=Q(finished_at__isnull=True),
            ),
            models.Index(
                fields=["employer", "state"],
                name="case_open_employer_idx",
                condition=Q(state__in=sorted(s.value for s in OPEN_STATES)),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return CaseState(self.state) in OPEN_STATES


class Report(models.Model):
    """One complaint as it arrived; a case keeps every one of them."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reports")
    channel = models.CharField(max_length=20, choices=Case.Channel.choices)
    window = models.ForeignKey(Window, on_delete=models.PROTECT, null=True, blank=True)
    received_at = models.DateTimeField()
    complainant_name = models.CharField(max_length=100)
    complainant_phone = models.CharField(max_length=20)
    complainant_id_number = models.CharField(max_length=18, blank=True)
    workers_count = models.PositiveIntegerField()
    amount_owed = models.DecimalField(max_digits=14, decimal_places=2)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.case.number} / {self.channel}"


class DispatchSlip(models.Model):
    """A transfer slip (转办单): the case handed to a unit. Each re-dispatch issues a new one."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="slips")
    number = models.CharField(max_length=40, unique=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    assisting = models.CharField(
        max_length=200, blank=True, help_text="Unit codes, comma-separated"
    )
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["issued_at", "id"]

    def __str__(self) -> str:
        return self.number


class Clock(models.Model):
    """A deadline that will fall due. The sweep reads only running clocks that are due."""

    class Kind(models.TextChoices):
        DISPATCH = "dispatch", _("dispatch")
        COMMITMENT = "commitment", _("7-day commitment")
        ADVANCE = "advance", _("advance payment")

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        MET = "met", _("met")
        OVERDUE = "overdue", _("overdue")
        CANCELLED = "cancelled", _("cancelled")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"],
                name="clock_running_due_idx",
                condition=Q(status="running"),
            ),
            models.Index(fields=["case", "kind"], name="clock_case_kind_idx"),
        ]
        constraints = [
            # At most one live (running or overdue) clock of each kind per case.
            models.UniqueConstraint(
                fields=["case", "kind"],
                condition=Q(status__in=["running", "overdue"]),
                name="clock_one_live_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.kind}:{self.status}"
