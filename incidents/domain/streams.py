"""Names of the event streams (and of the channel-layer groups that carry them)."""

from __future__ import annotations


def district_stream(district_id: int) -> str:
    return f"district.{district_id}"


def province_stream(province_id: int) -> str:
    """The gravest incidents (level II and above) of every district of a province."""
    return f"province.{province_id}"


def unit_stream(unit_id: int) -> str:
    return f"unit.{unit_id}"


def incident_stream(incident_id: int) -> str:
    return f"incident.{incident_id}"


def user_group(user_id: int) -> str:
    """The group of a person's open sockets, told to close on logout or a role change."""
    return f"user.{user_id}"
