"""Mass incidents, the district's level table for them, and who is in an incident room."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.domain import incidents as rules
from incidents.models.cases import Case
from incidents.models.reference import District, Unit

KIND_LABELS = {
    rules.Kind.SITE_GATHERING: _("gathering at a site"),
    rules.Kind.GATE_GATHERING: _("gathering at a government gate"),
    rules.Kind.ROAD_BLOCKING: _("road blocking"),
    rules.Kind.EXTREME_ACT: _("extreme act threatened"),
}
STATUS_LABELS = {
    rules.Status.REPORTED: _("reported"),
    rules.Status.ACTIVE: _("active"),
    rules.Status.CONTAINED: _("contained"),
    rules.Status.CLOSED: _("closed"),
}
INCIDENT_ACTION_LABELS = {
    rules.Action.ACTIVATE: _("activate the response"),
    rules.Action.CONTAIN: _("mark contained"),
    rules.Action.CLOSE: _("close"),
    rules.Action.SET_LEVEL: _("set the level"),
    rules.Action.UPDATE: _("update the situation"),
    rules.Action.LINK_CASES: _("link cases"),
    rules.Action.TAKE_COMMAND: _("take command"),
}
KIND_CHOICES = [(k.value, label) for k, label in KIND_LABELS.items()]
STATUS_CHOICES = [(s.value, label) for s, label in STATUS_LABELS.items()]
LEVEL_CHOICES = [(lvl.value, lvl.value) for lvl in rules.Level]


class IncidentSettings(models.Model):
    """A district's level table and who responds to every mass incident (admin-editable)."""

    district = models.OneToOneField(
        District, on_delete=models.CASCADE, related_name="incident_settings"
    )
    min_people_iii = models.PositiveIntegerField(_("people for level III"), default=30)
    min_people_ii = models.PositiveIntegerField(_("people for level II"), default=100)
    min_people_i = models.PositiveIntegerField(_("people for level I"), default=300)
    raising_kinds = models.JSONField(
        _("kinds that raise the level by one"),
        default=list,
        blank=True,
        help_text=_("Any of: site_gathering, gate_gathering, road_blocking, extreme_act."),
    )
    offer_from_workers = models.PositiveIntegerField(
        _("a case of this many workers offers an incident"), default=30
    )
    responders = models.ManyToManyField(
        Unit,
        blank=True,
        related_name="+",
        verbose_name=_("units that join every incident"),
        help_text=_("For example police, human resources and the petition bureau."),
    )

    class Meta:
        verbose_name = _("incident settings")
        verbose_name_plural = _("incident settings")

    def __str__(self) -> str:
        return str(self.district)

    def clean(self) -> None:
        try:
            self.table()
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def table(self) -> rules.LevelTable:
        return rules.LevelTable(
            min_iii=self.min_people_iii,
            min_ii=self.min_people_ii,
            min_i=self.min_people_i,
            raising_kinds=rules.kinds_from(self.raising_kinds),
        )


class Incident(models.Model):
    """A mass incident (群体性事件) and its room."""

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    title = models.CharField(max_length=200)
    town = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    lat = models.FloatField()
    lng = models.FloatField()
    people_count = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    status = models.CharField(
        max_length=20, choices=STATUS_CHOICES, default=rules.Status.REPORTED.value
    )
    level = models.CharField(max_length=3, choices=LEVEL_CHOICES)
    level_set_by_hand = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    cases = models.ManyToManyField(Case, blank=True, related_name="incidents")
    units = models.ManyToManyField(Unit, blank=True, related_name="incidents")
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=30, default="command")
    reported_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("mass incident")
        verbose_name_plural = _("mass incidents")
        ordering = ["-reported_at"]
        indexes = [models.Index(fields=["district", "status"], name="incident_status_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def code(self) -> str:
        """The short public code of an incident, safe to put in an SMS."""
        return f"INC-{self.pk}"

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[rules.Kind(self.kind)])

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[rules.Status(self.status)])


class RoomPresence(models.Model):
    """One open socket in an incident room; rows of dead processes age out by `seen_at`."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    joined_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["incident", "seen_at"], name="presence_room_idx")]

    def __str__(self) -> str:
        return f"{self.user} in incident {self.incident_id}"
