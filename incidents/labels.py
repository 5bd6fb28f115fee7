"""How events read to people: a label per kind and per detail worth showing."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from incidents.models import ACTION_LABELS, INCIDENT_ACTION_LABELS

EVENT_LABELS: dict[str, Any] = {
    "case.registered": gettext_lazy("Registered"),
    "case.dispatched": gettext_lazy("Dispatched by the routing table"),
    "case.report_merged": gettext_lazy("Report merged into this case"),
    "clock.overdue": gettext_lazy("Deadline passed"),
    "fund.deposit": gettext_lazy("Deposit into the petition account"),
    "fund.advance": gettext_lazy("Wages advanced from the petition account"),
    "fund.recovery": gettext_lazy("Recovery paid back to the petition account"),
    **{f"case.{action.value}": label for action, label in ACTION_LABELS.items()},
    "incident.reported": gettext_lazy("Mass incident reported"),
    "incident.chat": gettext_lazy("Message"),
    "incident.acknowledged": gettext_lazy("Acknowledged"),
    **{f"incident.{action.value}": label for action, label in INCIDENT_ACTION_LABELS.items()},
    "alert.raised": gettext_lazy("SMS alert raised"),
    "alert.escalated": gettext_lazy("SMS alert escalated"),
    "alert.exhausted": gettext_lazy("SMS alert: nobody acknowledged"),
    "alert.acknowledged": gettext_lazy("SMS alert acknowledged"),
    "alert.cancelled": gettext_lazy("SMS alert stopped: no longer needed"),
    "alert.replied": gettext_lazy("Reply from the field"),
    "sms.sent": gettext_lazy("SMS sent"),
    "sms.delivered": gettext_lazy("SMS delivered"),
    "sms.undelivered": gettext_lazy("SMS not delivered"),
    "sms.failed": gettext_lazy("SMS failed"),
    "sms.given_up": gettext_lazy("SMS given up"),
    "zero_report.filed": gettext_lazy("Daily report filed"),
    "zero_report.missing": gettext_lazy("Daily report missing"),
    "checklist.started": gettext_lazy("Playbook started"),
    "checklist.step_moved": gettext_lazy("Checklist step"),
    "checklist.step_late": gettext_lazy("Checklist step late"),
    "warning.raised": gettext_lazy("Early warning raised"),
    "warning.level_raised": gettext_lazy("Early warning level raised"),
    "warning.overdue": gettext_lazy("Early warning not acted on in time"),
    "warning.accepted": gettext_lazy("Early warning: unit intervening"),
    "warning.reassigned": gettext_lazy("Early warning reassigned"),
    "warning.closed": gettext_lazy("Early warning closed"),
    "opinion.recorded": gettext_lazy("Public opinion reported"),
}
# Event details worth showing in the timeline, with their labels.
EVENT_DATA_LABELS: dict[str, Any] = {
    "channel": gettext_lazy("channel"),
    "unit": gettext_lazy("unit"),
    "previous_unit": gettext_lazy("previous unit"),
    "slip": gettext_lazy("dispatch slip"),
    "commitment_letter": gettext_lazy("commitment letter"),
    "amount": gettext_lazy("amount"),
    "amount_paid": gettext_lazy("amount paid"),
    "confirmed_amount": gettext_lazy("confirmed amount"),
    "into": gettext_lazy("merged into"),
    "from_case": gettext_lazy("merged from"),
    "clock": gettext_lazy("deadline"),
    "balance_after": gettext_lazy("balance after"),
    "people_count": gettext_lazy("people"),
    "level": gettext_lazy("level"),
    "level_before": gettext_lazy("level before"),
    "commander": gettext_lazy("commander"),
    "case_numbers": gettext_lazy("cases"),
    "note": gettext_lazy("note"),
    "officer": gettext_lazy("officer"),
    "to": gettext_lazy("to"),
    "recipients": gettext_lazy("paged"),
    "nobody_on_duty": gettext_lazy("nobody on duty"),
    "by": gettext_lazy("by"),
    "via": gettext_lazy("via"),
    "error_code": gettext_lazy("error code"),
    "text": gettext_lazy("text"),
    "number": gettext_lazy("figure"),
    "attachment": gettext_lazy("attachment"),
    "minutes_late": gettext_lazy("minutes late"),
}
