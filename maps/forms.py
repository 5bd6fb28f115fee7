"""The command map's filters (a GET form: the address of a filtered map can be shared)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.models import Unit


class MapFilterForm(forms.Form):
    town = forms.ChoiceField(label=_("Town"), required=False)
    unit = forms.ChoiceField(label=_("Responsible unit"), required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    heat = forms.BooleanField(label=_("Show the heat map"), required=False)

    def __init__(self, *args: Any, district_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = list(Unit.objects.filter(district_id=district_id, active=True).order_by("code"))
        everyone = [("", _("all"))]
        town = cast(forms.ChoiceField, self.fields["town"])
        unit = cast(forms.ChoiceField, self.fields["unit"])
        town.choices = everyone + [
            (u.code, u.name) for u in units if u.kind == Unit.Kind.TERRITORIAL
        ]
        unit.choices = everyone + [(u.code, u.name) for u in units]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_from", _("The start is after the end."))
        return data

    def feed_params(self) -> dict[str, str]:
        """The chosen filters as the feeds' query parameters (nothing when invalid)."""
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        params = {key: data.get(key) or "" for key in ("town", "unit")}
        for key in ("date_from", "date_to"):
            params[key] = data[key].isoformat() if data.get(key) else ""
        return {k: v for k, v in params.items() if v}
