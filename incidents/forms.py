"""HTML forms of the one window.

The forms only parse what a browser sends. The rules are those of the API: each form builds
the same pydantic schema (`incidents.schemas`) from its cleaned data and puts the schema's
errors on its own fields, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.domain.lifecycle import REASON_REQUIRED, Action
from incidents.models import (
    ACTION_LABELS,
    PROJECT_TYPE_CHOICES,
    STATE_CHOICES,
    Case,
    Unit,
    Window,
)
from incidents.policy import Actor
from incidents.schemas import BulkTransitionIn, IntakeIn, TransitionIn
from incidents.selectors import CaseFilters, units_of
from incidents.services import Intake, TransitionInput

BLANK = ("", "---------")


# Which inputs each action's form shows, besides the reason.
ACTION_FIELDS: dict[Action, frozenset[str]] = {
    Action.DISPATCH: frozenset({"unit"}),
    Action.RESOLVE: frozenset({"amount"}),
    Action.CONFIRM_FACTS: frozenset({"amount"}),
    Action.ADVANCE_PAYMENT: frozenset({"amount", "override"}),
    Action.RECORD_RECOVERY: frozenset({"amount"}),
    Action.MERGE: frozenset({"into"}),
}


# --- from schema errors to form errors --------------------------------------------------------


def _value_error_messages() -> dict[str, Any]:
    return {
        "complainant_phone": _("Not a mainland mobile (11 digits) or landline number."),
        "complainant_id_number": _(
            "Not a valid 18-character resident ID number (checksum or birth date)."
        ),
        "employer_credit_code": _("Not a valid unified social credit code (checksum)."),
        "received_at": _("The time of receipt must not be in the future."),
        "window": _("An intake window is required when the channel is the intake window."),
    }


def schema_error_message(field: str | None, error: Mapping[str, Any]) -> str:
    """One pydantic error in the reader's language (the English original as a fallback)."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return str(_("This field is required."))
    if kind == "value_error" and field in _value_error_messages():
        return str(_value_error_messages()[field])
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        limit = next(iter(ctx.values()), "")
        templates = {
            "greater_than_equal": _("Ensure this value is greater than or equal to %(limit)s."),
            "greater_than": _("Ensure this value is greater than %(limit)s."),
            "less_than_equal": _("Ensure this value is less than or equal to %(limit)s."),
            "less_than": _("Ensure this value is less than %(limit)s."),
        }
        return str(templates[kind]) % {"limit": limit}
    if kind == "string_too_short":
        return str(_("Ensure this value has at least %(n)s characters.")) % {
            "n": ctx.get("min_length", "")
        }
    if kind == "string_too_long":
        return str(_("Ensure this value has at most %(n)s characters.")) % {
            "n": ctx.get("max_length", "")
        }
    if kind == "string_pattern_mismatch":
        return str(_("Use lowercase letters, digits and underscores only."))
    if kind.startswith("decimal_"):
        return str(_("Give the amount in yuan with at most two decimal places."))
    if kind in {"enum", "literal_error"}:
        return str(_("Select a valid choice."))
    if kind in {"float_type", "float_parsing", "int_type", "int_parsing", "decimal_parsing"}:
        return str(_("Enter a number."))
    return str(error.get("msg", kind))


class SchemaFormMixin:
    """Validates a form's cleaned data with a pydantic schema and maps the errors back."""

    schema_fields: Mapping[str, str] = {}

    def apply_schema(
        self, schema: type[pydantic.BaseModel], payload: dict[str, Any]
    ) -> pydantic.BaseModel | None:
        form: forms.Form = self  # type: ignore[assignment]
        try:
            return schema.model_validate(payload)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                field = self.field_for(error, payload)
                if field is not None and field in form.errors:
                    continue  # the form already said what is wrong with it
                form.add_error(field, schema_error_message(field, error))
            return None

    def field_for(self, error: Mapping[str, Any], payload: dict[str, Any]) -> str | None:
        loc = ".".join(str(part) for part in error.get("loc", ()))
        field = self.schema_fields.get(loc, loc)
        form: forms.Form = self  # type: ignore[assignment]
        return field if field in form.fields else None

    def add_service_errors(self, errors: list[dict[str, Any]]) -> None:
        form: forms.Form = self  # type: ignore[assignment]
        for item in errors:
            field = self.schema_fields.get(item.get("field", ""), item.get("field", ""))
            form.add_error(field if field in form.fields else None, item.get("message", ""))


# --- intake ------------------------------------------------------------------------------------


class IntakeForm(SchemaFormMixin, forms.Form):
    """One complaint, as the API's `POST /api/v1/cases` takes it, in flat form fields."""

    schema_fields: Mapping[str, str] = {
        "complainant.name": "complainant_name",
        "complainant.phone": "complainant_phone",
        "complainant.id_number": "complainant_id_number",
        "employer.name": "employer_name",
        "employer.credit_code": "employer_credit_code",
        "project.name": "project_name",
        "project.type": "project_type",
        "project.builder": "project_builder",
        "location.lat": "lat",
        "location.lng": "lng",
    }
    required_css_class = "required"
    # The server decides what is missing, so that the API's rules are the only rules.
    use_required_attribute = False

    channel = forms.ChoiceField(label=_("Channel"), choices=Case.Channel.choices)
    window = forms.ChoiceField(label=_("Intake window"), required=False)
    received_at = forms.DateTimeField(
        label=_("Received at"),
        required=False,
        help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    complainant_name = forms.CharField(label=_("Complainant's name"))
    complainant_phone = forms.CharField(
        label=_("Complainant's phone"), widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    complainant_id_number = forms.CharField(
        label=_("Complainant's ID number"),
        required=False,
        help_text=_("Optional: 18-character resident ID."),
    )
    workers_count = forms.IntegerField(label=_("Workers owed wages"))
    amount_owed = forms.DecimalField(label=_("Amount owed (yuan)"))
    employer_name = forms.CharField(label=_("Employer"))
    employer_credit_code = forms.CharField(
        label=_("Employer's unified social credit code"),
        help_text=_("18 characters, checksum verified."),
    )
    project_name = forms.CharField(label=_("Project name"), required=False)
    project_type = forms.ChoiceField(
        label=_("Project type"), required=False, choices=[BLANK, *PROJECT_TYPE_CHOICES]
    )
    project_builder = forms.ChoiceField(
        label=_("Builder (state-owned company)"),
        required=False,
        help_text=_("For government-invested projects."),
    )
    town = forms.ChoiceField(label=_("Town where the work is"))
    lat = forms.FloatField(label=_("Latitude"), required=False)
    lng = forms.FloatField(label=_("Longitude"), required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intake: Intake | None = None
        windows = list(Window.objects.filter(district_id=actor.district_id).order_by("id"))
        units = list(units_of(actor.district_id))
        self.fields["window"].choices = [BLANK, *((w.code, w.name) for w in windows)]  # type: ignore[attr-defined]
        towns = [u for u in units if u.kind == Unit.Kind.TERRITORIAL]
        self.fields["town"].choices = [BLANK, *((u.code, u.name) for u in towns)]  # type: ignore[attr-defined]
        builders = [u for u in units if u.kind == Unit.Kind.SOE]
        self.fields["project_builder"].choices = [BLANK, *((u.code, u.name) for u in builders)]  # type: ignore[attr-defined]
        own = next((w for w in windows if w.pk == actor.window_id), None)
        if own is not None:
            self.fields["window"].initial = own.code
            self.fields["channel"].initial = Case.Channel.WINDOW
            own_town = next((u for u in towns if u.pk == own.unit_id), None)
            if own_town is not None:
                self.fields["town"].initial = own_town.code

    def field_for(self, error: Mapping[str, Any], payload: dict[str, Any]) -> str | None:
        # The schema's one whole-body rule: a window report names its window.
        if (
            not error.get("loc")
            and payload.get("channel") == Case.Channel.WINDOW
            and not payload.get("window")
        ):
            return "window"
        return super().field_for(error, payload)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parsed = self.apply_schema(IntakeIn, self.payload(data))
        if isinstance(parsed, IntakeIn) and not self.errors:
            self.intake = parsed.to_intake()
        return data

    def payload(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The API body these fields stand for (fields that failed to parse are left out)."""

        def given(name: str) -> bool:
            return data.get(name) not in (None, "")

        body: dict[str, Any] = {}
        for name in ("channel", "workers_count", "amount_owed", "town"):
            if given(name):
                body[name] = data[name]
        for name in ("window", "received_at", "description"):
            if given(name):
                body[name] = data[name]
        body["complainant"] = {
            key: data[f"complainant_{key}"]
            for key in ("name", "phone", "id_number")
            if given(f"complainant_{key}")
        }
        body["employer"] = {
            key: data[f"employer_{key}"]
            for key in ("name", "credit_code")
            if given(f"employer_{key}")
        }
        project = {
            key: data[f"project_{key}"]
            for key in ("name", "type", "builder")
            if given(f"project_{key}")
        }
        if project:
            body["project"] = project
        if given("lat") or given("lng"):
            body["location"] = {"lat": data.get("lat"), "lng": data.get("lng")}
        return body


# --- lifecycle ---------------------------------------------------------------------------------


def unit_choices(actor: Actor) -> list[tuple[str, str]]:
    return [BLANK, *((u.code, u.name) for u in units_of(actor.district_id))]


class TransitionForm(SchemaFormMixin, forms.Form):
    """One lifecycle action on one case (the body of the API's transitions endpoint)."""

    use_required_attribute = False

    action = forms.ChoiceField(
        label=_("Action"), choices=[(a.value, label) for a, label in ACTION_LABELS.items()]
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    unit = forms.ChoiceField(label=_("Responsible unit"), required=False)
    amount = forms.DecimalField(label=_("Amount (yuan)"), required=False)
    override = forms.BooleanField(label=_("Override the clock (command staff)"), required=False)
    into = forms.CharField(label=_("Merge into case number"), required=False)
    revision = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.change: TransitionInput | None = None
        self.expected_revision: int | None = None
        self.fields["unit"].choices = unit_choices(actor)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        body: dict[str, Any] = {
            key: data[key]
            for key in ("action", "reason", "unit", "amount", "into")
            if data.get(key) not in (None, "")
        }
        body["override"] = bool(data.get("override"))
        if data.get("revision") is not None:
            body["expected_revision"] = data["revision"]
        parsed = self.apply_schema(TransitionIn, body)
        if isinstance(parsed, TransitionIn) and not self.errors:
            self.change = parsed.to_input()
            self.expected_revision = parsed.expected_revision
        return data


def action_forms(actor: Actor, actions: list[str], revision: int) -> list[dict[str, Any]]:
    """What the case page shows for each action the person may take."""
    out = []
    for value in actions:
        action = Action(value)
        out.append(
            {
                "action": value,
                "label": ACTION_LABELS[action],
                "fields": ACTION_FIELDS.get(action, frozenset()),
                "reason_required": action in REASON_REQUIRED,
                "units": unit_choices(actor) if action == Action.DISPATCH else [],
                "revision": revision,
            }
        )
    return out


class MultipleValueField(forms.Field):
    """A field sent several times under one name (checkboxes)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        return [str(v).strip() for v in value if str(v).strip()]


class BulkTransitionForm(SchemaFormMixin, forms.Form):
    """Bulk dispatch (from the triage queue) and bulk reassignment (from the case list)."""

    use_required_attribute = False

    case_numbers = MultipleValueField(label=_("Cases"))
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[(Action.DISPATCH.value, ACTION_LABELS[Action.DISPATCH])],
        initial=Action.DISPATCH.value,
    )
    unit = forms.ChoiceField(label=_("Responsible unit"))
    reason = forms.CharField(label=_("Reason"), required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case_list: list[str] = []
        self.change: TransitionInput | None = None
        self.fields["unit"].choices = unit_choices(actor)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        body: dict[str, Any] = {
            key: data[key] for key in ("action", "unit", "reason") if data.get(key)
        }
        body["case_numbers"] = data.get("case_numbers") or []
        if not body["case_numbers"]:
            self.add_error("case_numbers", _("Select at least one case."))
            return data
        parsed = self.apply_schema(BulkTransitionIn, body)
        if isinstance(parsed, BulkTransitionIn) and not self.errors:
            self.case_list = list(dict.fromkeys(parsed.case_numbers))
            self.change = parsed.to_input()
        return data


# --- case list filters ----------------------------------------------------------------------------


class CaseFilterForm(forms.Form):
    """The filters of `GET /api/v1/cases`, as a search form."""

    use_required_attribute = False

    state = forms.ChoiceField(label=_("State"), required=False)
    unit = forms.ChoiceField(label=_("Responsible unit"), required=False)
    town = forms.ChoiceField(label=_("Town"), required=False)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[BLANK, *Case.Channel.choices]
    )
    overdue = forms.TypedChoiceField(
        label=_("Overdue"),
        required=False,
        choices=[("", _("any")), ("true", _("overdue")), ("false", _("on time"))],
        coerce=lambda value: value == "true",
        empty_value=None,
    )
    received_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        label=_("Received to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = list(units_of(actor.district_id))
        self.fields["state"].choices = [BLANK, *STATE_CHOICES]  # type: ignore[attr-defined]
        self.fields["unit"].choices = [BLANK, *((u.code, u.name) for u in units)]  # type: ignore[attr-defined]
        self.fields["town"].choices = [  # type: ignore[attr-defined]
            BLANK,
            *((u.code, u.name) for u in units if u.kind == Unit.Kind.TERRITORIAL),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and start > end:
            self.add_error("received_from", _("The start date is after the end date."))
        return data

    def filters(self) -> CaseFilters:
        """The valid filters (an invalid one is reported on the form and left out)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return CaseFilters(
            state=data.get("state") or None,
            unit=data.get("unit") or None,
            town=data.get("town") or None,
            channel=data.get("channel") or None,
            overdue=data.get("overdue"),
            received_from=data.get("received_from"),
            received_to=data.get("received_to"),
        )
