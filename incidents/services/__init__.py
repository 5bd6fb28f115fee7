"""Use cases: the only code that writes cases, clocks, fund, blacklist and incidents.

Each service takes keyword arguments, runs in one transaction, writes its events in it and
leaves publishing to `transaction.on_commit`. Rules come from `incidents.domain`; who may do
what from `incidents.policy`. Callers import from this package, not from its modules.
"""

from incidents.services.blacklist import blacklist_add, blacklist_appeal, blacklist_remove
from incidents.services.clocks import clocks_sweep
from incidents.services.common import ADVANCE_PENALTY_POINTS, district_calendar, local_tz
from incidents.services.fund import fund_balance_by_unit, fund_move
from incidents.services.incidents import (
    IncidentChange,
    IncidentInput,
    incident_report,
    incident_settings,
    incident_transition,
    presence_join,
    presence_leave,
    presence_purge,
    presence_touch,
    room_acknowledge,
    room_chat,
)
from incidents.services.intake import Intake, IntakeResult, ProjectInput, case_register
from incidents.services.integrations import (
    idempotency_purge,
    idempotent,
    request_fingerprint,
    token_issue,
    ws_ticket_issue,
    ws_ticket_redeem,
)
from incidents.services.lifecycle import (
    TransitionInput,
    case_get_for_update,
    case_transition,
    cases_bulk_transition,
)
from incidents.services.privacy import personal_data_viewed

__all__ = [
    "ADVANCE_PENALTY_POINTS",
    "IncidentChange",
    "IncidentInput",
    "Intake",
    "IntakeResult",
    "ProjectInput",
    "TransitionInput",
    "blacklist_add",
    "blacklist_appeal",
    "blacklist_remove",
    "case_get_for_update",
    "case_register",
    "case_transition",
    "cases_bulk_transition",
    "clocks_sweep",
    "district_calendar",
    "fund_balance_by_unit",
    "fund_move",
    "idempotency_purge",
    "idempotent",
    "incident_report",
    "incident_settings",
    "incident_transition",
    "local_tz",
    "personal_data_viewed",
    "presence_join",
    "presence_leave",
    "presence_purge",
    "presence_touch",
    "request_fingerprint",
    "room_acknowledge",
    "room_chat",
    "token_issue",
    "ws_ticket_issue",
    "ws_ticket_redeem",
]
