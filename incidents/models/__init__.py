"""Reference data, cases, the event log, the fund, the blacklist and integration access.

Every row belongs to a district, so that a province can run many districts in one
deployment. Rows are written by `incidents.services` only; `save()` has no side effects.
Import models from this package, not from its modules.
"""

from incidents.models.access import ApiToken, IdempotencyRecord, PersonalDataAccess
from incidents.models.blacklist import BlacklistEntry
from incidents.models.cases import (
    Case,
    CaseCounter,
    Clock,
    DispatchSlip,
    Enterprise,
    Project,
    Report,
)
from incidents.models.choices import (
    ACTION_LABELS,
    PROJECT_TYPE_CHOICES,
    STATE_CHOICES,
    STATE_LABELS,
)
from incidents.models.events import Event
from incidents.models.fund import FundAccount, FundEntry, UnitPenalty
from incidents.models.reference import (
    BilingualName,
    CalendarOverride,
    District,
    Membership,
    RoutingRule,
    Unit,
    Window,
)

__all__ = [
    "ACTION_LABELS",
    "PROJECT_TYPE_CHOICES",
    "STATE_CHOICES",
    "STATE_LABELS",
    "ApiToken",
    "BilingualName",
    "BlacklistEntry",
    "CalendarOverride",
    "Case",
    "CaseCounter",
    "Clock",
    "DispatchSlip",
    "District",
    "Enterprise",
    "Event",
    "FundAccount",
    "FundEntry",
    "IdempotencyRecord",
    "Membership",
    "PersonalDataAccess",
    "Project",
    "Report",
    "RoutingRule",
    "Unit",
    "UnitPenalty",
    "Window",
]
