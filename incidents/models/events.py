"""The append-only event log, the streams it is read by, and the heads that order it.

Every event belongs to one or more streams (`district.<id>`, `unit.<id>`,
`incident.<id>`). Writers of a district take its `EventLogHead` row lock before inserting,
so event ids commit in id order within a district: a reader that has seen id N of a stream
and asks for what follows N never misses an event that commits later with a smaller id.
"""

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
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
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
    # The hash chain (`incidents.domain.chain`): the district's previous event's hash, and
    # this event's, over its content and `prev_hash`. Written once; the database refuses
    # updates and deletes of events (`incidents.event_guard`).
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "id"], name="event_case_idx"),
            models.Index(fields=["district", "id"], name="event_district_idx"),
            # Reports count registrations, advances and overdue clocks by kind and time.
            models.Index(fields=["district", "kind", "at"], name="event_kind_at_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class StreamEntry(models.Model):
    """An event's place in one stream, with the id of the stream's previous event.

    `prev` lets a reader notice a frame the channel layer lost: the frame it receives
    names a predecessor it has not seen, so it replays the stream from the log.
    """

    stream = models.CharField(max_length=60)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="entries")
    prev = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "event"], name="stream_entry_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.stream} #{self.event_id}"


class EventLogHead(models.Model):
    """The write lock of a district's log, held from an event's insert to its commit, and
    the end of its hash chain: the newest event's id and hash."""

    district = models.OneToOneField(District, on_delete=models.CASCADE, related_name="+")
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"log head of district {self.district_id}"


class EventRelay(models.Model):
    """How far a district's log has been handed to the channel layer, in id order."""

    district = models.OneToOneField(District, on_delete=models.CASCADE, related_name="+")
    published_id = models.BigIntegerField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"relay of district {self.district_id} at #{self.published_id}"
