"""The room's checklist forms (the same checks as the API's schemas; the service checks the
rest)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from playbooks.domain.checklist import StepState
from playbooks.models import STATE_LABELS
from playbooks.services import StepMove


class StepMoveForm(forms.Form):
    use_required_attribute = False

    state = forms.ChoiceField(
        label=_("State"), choices=[(s.value, label) for s, label in STATE_LABELS.items()]
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)
    number = forms.DecimalField(
        label=_("Figure"),
        required=False,
        min_value=Decimal(0),
        max_value=Decimal("999999999999.99"),
        max_digits=14,
        decimal_places=2,
    )
    attachment = forms.FileField(label=_("Attachment"), required=False)
    revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def move(self) -> StepMove:
        data = self.cleaned_data
        return StepMove(
            state=StepState(data["state"]).value,
            note=data.get("note") or "",
            number=data.get("number"),
            attachment=data.get("attachment"),
            expected_revision=data.get("revision"),
        )


class ChecklistAddForm(forms.Form):
    template = forms.SlugField(label=_("Playbook"), max_length=40)
