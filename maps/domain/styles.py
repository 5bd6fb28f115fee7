"""How each thing looks on the map: one table, shared by every map and the legend."""

from __future__ import annotations

# Case markers by state group; an overdue case is red whatever its state.
CASE_NEW = "#1f6fb2"  # registered, dispatched: waiting for the unit
CASE_WORKING = "#d9822b"  # accepted and in handling
CASE_ESCALATED = "#8e44ad"  # inspection, sector review, joint meeting, fund, police
CASE_SETTLED = "#2e8b57"  # resolved, waiting to be closed
CASE_DONE = "#7f8c8d"  # closed, merged, rejected
OVERDUE = "#c0392b"

CASE_COLOURS = {
    "registered": CASE_NEW,
    "dispatched": CASE_NEW,
    "accepted": CASE_WORKING,
    "inspection": CASE_ESCALATED,
    "sector_review": CASE_ESCALATED,
    "joint_meeting": CASE_ESCALATED,
    "facts_confirmed": CASE_ESCALATED,
    "advanced": CASE_ESCALATED,
    "recovering": CASE_ESCALATED,
    "referred_police": CASE_ESCALATED,
    "resolved": CASE_SETTLED,
    "closed": CASE_DONE,
    "merged": CASE_DONE,
    "rejected": CASE_DONE,
}

# Incident markers by level, gravest darkest (the plan's red, orange, yellow, blue).
# Early warnings, by level.
WARNING_COLOURS = {"yellow": "#c9a100", "orange": "#e6550d", "red": "#b42318"}
LEVEL_COLOURS = {"I": "#a50f15", "II": "#e6550d", "III": "#f2b01e", "IV": "#3182bd"}
INCIDENT_CLOSED = CASE_DONE


def case_colour(state: str, overdue: bool) -> str:
    """The colour of a case marker."""
    return OVERDUE if overdue else CASE_COLOURS.get(state, CASE_DONE)


def incident_colour(level: str, status: str) -> str:
    """The colour of an incident marker; a closed incident is grey."""
    return INCIDENT_CLOSED if status == "closed" else LEVEL_COLOURS.get(level, CASE_DONE)
