"""What management commands share: the district a command acts on."""

from __future__ import annotations

from django.core.management.base import CommandError

from incidents.models import District


def district_option(code: str) -> District:
    """The district named by `--district CODE`, or the only one there is."""
    districts = District.objects.all()
    if code:
        districts = districts.filter(code=code)
    if districts.count() != 1:
        raise CommandError("Name the district with --district CODE.")
    return districts.get()
