"""Writing map reference data: town outlines from a surveyed GeoJSON file."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from incidents.models import Unit
from maps.domain.geometry import OutlineProblems, outlines_from


def outlines_import(*, district_id: int, collection: Any, code_property: str = "code") -> int:
    """Set the outline of every town the collection names, all or nothing.

    Raises `OutlineProblems` for a bad feature or a code that is not a town of the
    district; nothing is written then. Towns the file does not name keep theirs.
    """
    outlines = outlines_from(collection, code_property)
    towns = dict(
        Unit.objects.filter(
            district_id=district_id, kind=Unit.Kind.TERRITORIAL, code__in=list(outlines)
        ).values_list("code", "pk")
    )
    unknown = sorted(set(outlines) - set(towns))
    if unknown:
        raise OutlineProblems([f"{code!r} is not a town of this district" for code in unknown])
    with transaction.atomic():
        for code, geometry in outlines.items():
            Unit.objects.filter(pk=towns[code]).update(outline=geometry)
    return len(outlines)
