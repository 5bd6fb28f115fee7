"""Playbook services: the template library and running checklists."""

from datetime import datetime

from django.utils import timezone

from incidents.models import District
from playbooks.services.checklists import (
    StepMove,
    checklist_add,
    checklists_start_for_incident,
    checklists_sweep,
    period_checklists_start,
    step_facts,
    step_is_late,
    step_move,
)
from playbooks.services.library import (
    Saved,
    default_documents,
    playbooks_export,
    playbooks_install_defaults,
    playbooks_save,
    template_definition,
    templates_check,
    version_freeze,
    yaml_documents,
    yaml_dump,
)


def playbooks_tick(*, now: datetime | None = None) -> int:
    """The periodic sweep: sensitive-period checklists started, late steps marked."""
    now = now or timezone.now()
    for district_id in District.objects.values_list("pk", flat=True):
        period_checklists_start(district_id=district_id, now=now)
    return checklists_sweep(now=now)


__all__ = [
    "Saved",
    "StepMove",
    "checklist_add",
    "checklists_start_for_incident",
    "checklists_sweep",
    "default_documents",
    "period_checklists_start",
    "playbooks_export",
    "playbooks_install_defaults",
    "playbooks_save",
    "playbooks_tick",
    "step_facts",
    "step_is_late",
    "step_move",
    "template_definition",
    "templates_check",
    "version_freeze",
    "yaml_documents",
    "yaml_dump",
]
