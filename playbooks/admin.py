"""Editing playbook templates: the template and its steps on one page, checked whole.

Saving a template that changes anything freezes it as its next version (shown read-only
below the steps); running checklists keep the version they started with.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from incidents.admin import ReadOnlyAdmin
from incidents.domain.incidents import Level
from incidents.models.incidents import KIND_CHOICES
from playbooks.domain.templates import STEP_FIELDS, TemplateError, template_from_dict
from playbooks.models import (
    Checklist,
    ChecklistStep,
    PlaybookStep,
    PlaybookTemplate,
    PlaybookVersion,
)
from playbooks.services.library import district_units, version_freeze


class PlaybookTemplateForm(forms.ModelForm[PlaybookTemplate]):
    kinds = forms.MultipleChoiceField(
        label=_("incident kinds"),
        choices=KIND_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    levels = forms.MultipleChoiceField(
        label=_("levels"),
        choices=[(lv.value, lv.value) for lv in Level],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = PlaybookTemplate
        fields = ("district", "key", "name", "trigger", "kinds", "levels", "active")


class StepFormSet(BaseInlineFormSet[PlaybookStep, PlaybookTemplate, Any]):
    """Checks the template with its steps as one whole, by the same rules as a YAML import."""

    def clean(self) -> None:
        super().clean()
        template = self.instance
        if template.district_id is None or any(f.errors for f in self.forms):
            return
        steps = [
            {name: form.cleaned_data.get(name) for name in STEP_FIELDS}
            for form in sorted(
                (f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")),
                key=lambda f: f.cleaned_data.get("position") or 0,
            )
        ]
        for step in steps:
            step["note"] = step["note"] or ""
            step["evidence_label"] = step["evidence_label"] or ""
        raw = {
            "key": template.key,
            "name": template.name,
            "trigger": template.trigger,
            "kinds": list(template.kinds or []),
            "levels": list(template.levels or []),
            "steps": steps,
        }
        if raw["trigger"] != "incident" and not raw["kinds"] and not raw["levels"]:
            raw.pop("kinds")
            raw.pop("levels")
        try:
            template_from_dict(raw, units=district_units(template.district_id))
        except TemplateError as exc:
            raise ValidationError(exc.problems) from None


class StepInline(admin.TabularInline[PlaybookStep, PlaybookTemplate]):
    model = PlaybookStep
    formset = StepFormSet
    extra = 0
    fields = ("position", *STEP_FIELDS)


class VersionInline(admin.TabularInline[PlaybookVersion, PlaybookTemplate]):
    model = PlaybookVersion
    extra = 0
    fields = ("version", "created_at", "created_by", "source")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PlaybookTemplate)
class PlaybookTemplateAdmin(admin.ModelAdmin[PlaybookTemplate]):
    form = PlaybookTemplateForm
    list_display = ("name", "key", "trigger", "version", "active", "district")
    list_filter = ("district", "trigger", "active")
    search_fields = ("key", "name")
    inlines = (StepInline, VersionInline)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        version_freeze(form.instance, source="admin", user=request.user)  # type: ignore[arg-type]


@admin.register(Checklist)
class ChecklistAdmin(ReadOnlyAdmin):
    list_display = ("name", "incident", "period", "version", "started_at")
    list_filter = ("district",)
    list_select_related = ("incident", "version")


@admin.register(ChecklistStep)
class ChecklistStepAdmin(ReadOnlyAdmin):
    list_display = ("checklist", "position", "title_zh", "owner", "due_at", "state", "late_at")
    list_filter = ("state",)
    list_select_related = ("checklist",)
