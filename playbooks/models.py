"""Playbook templates, their frozen versions, and the checklists they open.

A `PlaybookTemplate` is what administrators edit (in the admin, or by YAML import): its
fields and `PlaybookStep` rows. Each change that passes validation is frozen as a new
`PlaybookVersion` (the whole template as data). A `Checklist` names the version it started
from and copies its steps into `ChecklistStep` rows, so editing a template never changes a
running checklist.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.models import District, Incident, Unit
from playbooks.domain.checklist import FINISHED, StepState
from playbooks.domain.templates import Evidence, Trigger

TRIGGER_LABELS = {
    Trigger.INCIDENT: _("a matching incident is activated"),
    Trigger.SENSITIVE_PERIOD: _("a sensitive period begins"),
}
STATE_LABELS = {
    StepState.OPEN: _("open"),
    StepState.IN_PROGRESS: _("in progress"),
    StepState.DONE: _("done"),
    StepState.SKIPPED: _("skipped"),
}
EVIDENCE_LABELS = {
    Evidence.NONE: _("none"),
    Evidence.NOTE: _("a note"),
    Evidence.NUMBER: _("a number"),
    Evidence.ATTACHMENT: _("an attachment"),
}
OPEN_STATES = [s.value for s in StepState if s not in FINISHED]


class PlaybookTemplate(models.Model):
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="playbooks")
    key = models.SlugField(
        _("key"), max_length=40, help_text=_("Stable across versions; YAML files name it.")
    )
    name = models.CharField(_("name"), max_length=100)
    trigger = models.CharField(
        _("starts when"),
        max_length=20,
        choices=[(t.value, label) for t, label in TRIGGER_LABELS.items()],
        default=Trigger.INCIDENT.value,
    )
    kinds = models.JSONField(_("incident kinds"), default=list, blank=True)
    levels = models.JSONField(_("levels"), default=list, blank=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive templates start no new checklist.")
    )
    version = models.PositiveIntegerField(_("current version"), default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("playbook template")
        verbose_name_plural = _("playbook templates")
        ordering = ["district", "key"]
        constraints = [
            models.UniqueConstraint(fields=["district", "key"], name="playbook_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class PlaybookStep(models.Model):
    """One step of a template as administrators edit it (copied into each checklist)."""

    template = models.ForeignKey(PlaybookTemplate, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    key = models.SlugField(_("key"), max_length=40)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    owner = models.CharField(
        _("owner"), max_length=40, help_text=_("A unit code, 'command' or 'town'.")
    )
    due_minutes = models.PositiveIntegerField(_("due, minutes after activation"))
    required = models.BooleanField(_("required"), default=True)
    note = models.TextField(_("how to do it"), blank=True, max_length=2000)
    sms = models.BooleanField(_("SMS the owner's officer on duty when it opens"), default=False)
    evidence = models.CharField(
        _("evidence needed"),
        max_length=12,
        choices=[(e.value, label) for e, label in EVIDENCE_LABELS.items()],
        default=Evidence.NONE.value,
    )
    evidence_label = models.CharField(_("evidence label"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["template", "position", "pk"]

    def __str__(self) -> str:
        return self.key


class PlaybookVersion(models.Model):
    """A template as it was at one version: never changed once written."""

    template = models.ForeignKey(
        PlaybookTemplate, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    definition = models.JSONField(help_text="The template as `template_to_dict` writes it.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=20, default="admin")  # admin | import | defaults

    class Meta:
        verbose_name = _("playbook version")
        verbose_name_plural = _("playbook versions")
        ordering = ["template", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="playbook_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.template.key} v{self.version}"


class Checklist(models.Model):
    """One run of a playbook version: for an incident, or for a sensitive period."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(PlaybookTemplate, on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(PlaybookVersion, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="checklists"
    )
    # `<period key>:<first day>` for the checklist of a sensitive period.
    period = models.CharField(max_length=60, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("checklist")
        verbose_name_plural = _("checklists")
        ordering = ["started_at", "pk"]
        constraints = [
            # One run of a template per incident, and per sensitive period, whatever the
            # number of processes that try to start it.
            models.UniqueConstraint(
                fields=["incident", "template"],
                condition=Q(incident__isnull=False),
                name="checklist_once_per_incident",
            ),
            models.UniqueConstraint(
                fields=["district", "period", "template"],
                condition=~Q(period=""),
                name="checklist_once_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version.version}"


class ChecklistStep(models.Model):
    """A step of a running checklist, copied from its version, with where it stands."""

    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=40)
    title_zh = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200)
    owner = models.CharField(max_length=40)  # as in the template: a unit code, command, town
    # The unit that owns it; none when the joint command does.
    owner_unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    required = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    sms = models.BooleanField(default=False)
    evidence = models.CharField(max_length=12, default=Evidence.NONE.value)
    evidence_label = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=12,
        choices=[(s.value, label) for s, label in STATE_LABELS.items()],
        default=StepState.OPEN.value,
    )
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    remark = models.TextField(blank=True)  # the last mover's note; a skip's reason
    number = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    attachment = models.FileField(upload_to="checklists/%Y/%m/", blank=True, max_length=200)
    attachment_name = models.CharField(max_length=200, blank=True)
    # Set once, by whichever sweeper first finds the step late: it alerts once.
    late_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("checklist step")
        verbose_name_plural = _("checklist steps")
        ordering = ["checklist", "position"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "key"], name="checklist_step_key_unique")
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="checklist_step_due_idx",
                condition=Q(state__in=OPEN_STATES, late_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.checklist_id}:{self.key}"

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[StepState(self.state)])
