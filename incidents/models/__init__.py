"""Reference data, cases, the event log, the fund, the blacklist and integration access.

Every row belongs to a district, so that a province can run many districts in one
deployment. Rows are written by `incidents.services` only; `save()` has no side effects.
Import models from this package, not from its modules.
"""

from incidents.models.access import ApiToken, IdempotencyRecord, PersonalDataAccess, WsTicket
from incidents.models.after_action import AfterActionReport
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
from incidents.models.events import Event, EventLogHead, EventRelay, StreamEntry
from incidents.models.fund import FundAccount, FundEntry, UnitPenalty
from incidents.models.incidents import (
    INCIDENT_ACTION_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    Incident,
    IncidentSettings,
    RoomPresence,
)
from incidents.models.reference import (
    BilingualName,
    CalendarOverride,
    District,
    Membership,
    Province,
    ProvinceMembership,
    RoutingRule,
    Unit,
    Window,
)

__all__ = [
    "ACTION_LABELS",
    "INCIDENT_ACTION_LABELS",
    "KIND_LABELS",
    "PROJECT_TYPE_CHOICES",
    "STATE_CHOICES",
    "STATE_LABELS",
    "STATUS_LABELS",
    "AfterActionReport",
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
    "EventLogHead",
    "EventRelay",
    "FundAccount",
    "FundEntry",
    "IdempotencyRecord",
    "Incident",
    "IncidentSettings",
    "Membership",
    "PersonalDataAccess",
    "Project",
    "Province",
    "ProvinceMembership",
    "Report",
    "RoomPresence",
    "RoutingRule",
    "StreamEntry",
    "Unit",
    "UnitPenalty",
    "Window",
    "WsTicket",
]
