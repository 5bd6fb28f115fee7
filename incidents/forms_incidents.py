"""HTML forms of mass incidents: they parse what a browser sends into the API's schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.domain import incidents as rules
from incidents.forms import BLANK, SchemaFormMixin
from incidents.models import INCIDENT_ACTION_LABELS, KIND_LABELS, Unit
from incidents.policy import Actor
from incidents.schemas import IncidentIn, IncidentTransitionIn
from incidents.selectors import units_of
from incidents.services import IncidentChange, IncidentInput


def town_choices(actor: Actor) -> list[tuple[str, str]]:
    return [
        BLANK,
        *((u.code, u.name) for u in units_of(actor.district_id) if u.kind == Unit.Kind.TERRITORIAL),
    ]


class IncidentForm(SchemaFormMixin, forms.Form):
    """A new mass incident, as `POST /api/v1/incidents` takes it."""

    use_required_attribute = False
    schema_fields: Mapping[str, str] = {"location.lat": "lat", "location.lng": "lng"}

    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[(k.value, label) for k, label in KIND_LABELS.items()]
    )
    town = forms.ChoiceField(label=_("Town"))
    people_count = forms.IntegerField(label=_("People gathered"), min_value=0)
    lat = forms.FloatField(label=_("Latitude"))
    lng = forms.FloatField(label=_("Longitude"))
    case_numbers = forms.CharField(
        label=_("Linked cases"),
        required=False,
        help_text=_("Case numbers, separated by spaces or commas."),
    )
    description = forms.CharField(
        label=_("What is happening"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["town"].choices = town_choices(actor)  # type: ignore[attr-defined]
        self.incident: IncidentInput | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        numbers = (data.get("case_numbers") or "").replace(",", " ").replace("，", " ").split()
        parsed = self.apply_schema(
            IncidentIn,
            {
                "title": data.get("title", ""),
                "kind": data.get("kind"),
                "town": data.get("town"),
                "people_count": data.get("people_count"),
                "location": {"lat": data.get("lat"), "lng": data.get("lng")},
                "case_numbers": numbers,
                "description": data.get("description", ""),
            },
        )
        if isinstance(parsed, IncidentIn) and not self.errors:
            self.incident = parsed.to_input()
        return data


class IncidentActionForm(SchemaFormMixin, forms.Form):
    """One action on an incident (the body of its transitions endpoint)."""

    use_required_attribute = False

    action = forms.ChoiceField(
        label=_("Action"), choices=[(a.value, label) for a, label in INCIDENT_ACTION_LABELS.items()]
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    level = forms.ChoiceField(
        label=_("Level"),
        required=False,
        choices=[BLANK, *((lv.value, lv.value) for lv in rules.Level)],
    )
    people_count = forms.IntegerField(label=_("People gathered"), required=False, min_value=0)
    case_numbers = forms.CharField(label=_("Linked cases"), required=False)
    revision = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.change: IncidentChange | None = None
        self.expected_revision: int | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        body: dict[str, Any] = {"action": data.get("action"), "reason": data.get("reason", "")}
        if data.get("level"):
            body["level"] = data["level"]
        if data.get("people_count") is not None:
            body["people_count"] = data["people_count"]
        if data.get("case_numbers"):
            body["case_numbers"] = data["case_numbers"].replace(",", " ").split()
        if data.get("revision") is not None:
            body["expected_revision"] = data["revision"]
        parsed = self.apply_schema(IncidentTransitionIn, body)
        if isinstance(parsed, IncidentTransitionIn) and not self.errors:
            self.change = parsed.to_input()
            self.expected_revision = parsed.expected_revision
        return data
