"""Personal data: each unmasked look at a complainant's phone and ID numbers is logged."""

from __future__ import annotations

from incidents.models import Case, PersonalDataAccess
from incidents.policy import Actor


def personal_data_viewed(*, actor: Actor, case: Case, via: str) -> bool:
    """Log that `actor` was shown `case`'s personal data unmasked; False when it was masked.

    Call it where a case's reports are rendered. Masked views (roles that do not need the
    numbers) are not logged: nothing personal was shown.
    """
    if not actor.sees_personal_data:
        return False
    PersonalDataAccess.objects.create(user_id=actor.user_id, case=case, via=via)
    return True
