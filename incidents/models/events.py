"""The append-only event log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models.cases import Case
from incidents.models.reference import District


class Event(models.Model):
    """The append-only log: every change, its actor, time, reason and before/after."""

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(max_length=50)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    before = models.CharField(max_length=20, blank=True)
    after = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "id"], name="event_case_idx"),
            models.Index(fields=["district", "id"], name="event_district_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"
