"""After-action reports (事后评估报告) of mass incidents."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.models.incidents import Incident


class AfterActionReport(models.Model):
    """An incident's after-action report: drafted from the event log when the incident closes.

    Its facts are computed from the incident's stream up to `cutoff_event_id`, so the same
    report reads the same whenever it is opened; a reviewer may bring an unsigned draft up to
    date (`cutoff_event_id` moves on), writes the lessons learned, and signs it, which freezes it.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        SIGNED = "signed", _("signed")

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="after_action")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    cutoff_event_id = models.BigIntegerField(
        help_text="The facts are computed from the incident's events up to this id."
    )
    drafted_at = models.DateTimeField(default=timezone.now)
    lessons = models.TextField(_("lessons learned"), blank=True)
    sign_off_note = models.CharField(_("sign-off remark"), max_length=300, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    edited_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("after-action report")
        verbose_name_plural = _("after-action reports")

    def __str__(self) -> str:
        return f"after-action report of incident {self.incident_id}"
