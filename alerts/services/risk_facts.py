"""Telling early warning that a fact its rules read has changed (a case, a blacklisting).

Kept apart from `alerts.services.risk` so that the case services can call it without
importing the scoring (which itself reads the case routing table).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Q

from alerts.models import RiskSubject
from incidents.models import Project


def risk_facts_changed(
    *, enterprise_ids: Iterable[int] = (), project_ids: Iterable[int] = ()
) -> None:
    """A fact the rules read changed (a case opened or ended, a blacklisting): the watched
    subjects it concerns are due for scoring (inside the caller's transaction)."""
    enterprises = [e for e in enterprise_ids if e]
    projects = [p for p in project_ids if p]
    if not enterprises and not projects:
        return
    # A project whose contractor is concerned is too (a blacklisted contractor counts).
    projects += list(
        Project.objects.filter(contractor_id__in=enterprises).values_list("pk", flat=True)
    )
    RiskSubject.objects.filter(
        Q(enterprise_id__in=enterprises) | Q(project_id__in=projects)
    ).update(version=F("version") + 1)
