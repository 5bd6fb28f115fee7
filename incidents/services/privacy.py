"""Personal data: each unmasked look at phone and ID numbers is logged."""

from __future__ import annotations

from incidents.models import Case, PersonalDataAccess
from incidents.policy import Actor


def personal_data_viewed(
    *, actor: Actor, via: str, case: Case | None = None, subject: str = "", rows: int = 1
) -> bool:
    """Log that `actor` was shown personal data unmasked; False when nothing was logged.

    Call it once per page, API answer or export that shows the numbers: `case` for one
    case's reports, else `subject` names what was shown (the blacklist) and `rows` how many
    of its rows held a number. Masked views (roles that do not need the numbers) and views
    with no number in them (`rows` 0) are not logged: nothing personal was shown.
    """
    if not actor.sees_personal_data or rows < 1:
        return False
    PersonalDataAccess.objects.create(
        user_id=actor.user_id, case=case, subject=subject, rows=rows, via=via
    )
    return True
