"""Fixtures of the checklist tests: the shipped playbooks installed, demo officers on duty in
normal times, and a level III site gathering in Lianshi that command staff activated (which
starts the `site_gathering_iv_iii` checklist).

`move(username, step, state, ...)` moves a step as that person through the service;
`step(incident, key)` finds a step of an incident's checklist by its key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from incidents.models import District, Event, Incident
from incidents.policy import Actor, actor_for
from incidents.services import IncidentChange, incident_transition
from playbooks.models import ChecklistStep
from playbooks.services import StepMove, playbooks_install_defaults, step_move
from tests.live.helpers import incident_open

SITE_TEMPLATE = "site_gathering_iv_iii"
GRAVE_TEMPLATE = "gathering_ii_i"

Transition = Callable[..., Event]
StepOf = Callable[..., ChecklistStep]
Move = Callable[..., ChecklistStep]


@pytest.fixture
def playbooks(district: District) -> District:
    """The district with the playbooks the hub ships (installing them is never automatic)."""
    playbooks_install_defaults(district_id=district.pk)
    return district


def as_actor(username: str) -> Actor:
    return actor_for(User.objects.get(username=username))


@pytest.fixture
def transition(district: District) -> Transition:
    """Take an action on an incident as `username` (command staff unless told)."""

    def take(incident: Incident, action: str, *, username: str = "command", **fields: Any) -> Event:
        return incident_transition(
            actor=as_actor(username),
            incident_id=incident.pk,
            change=IncidentChange(action=action, **fields),
        )

    return take


@pytest.fixture
def active_incident(playbooks: District, on_duty: None, transition: Transition) -> Incident:
    """A level III site gathering in Lianshi, reported and activated by command staff."""
    incident = incident_open("command", town="lianshi", people=40)
    assert incident.level == "III"
    transition(incident, "activate")
    incident.refresh_from_db()
    assert incident.status == "active"
    return incident


@pytest.fixture
def step(district: District) -> StepOf:
    """The step `key` of the incident's checklist started from `template`."""

    def find(incident: Incident, key: str, *, template: str = SITE_TEMPLATE) -> ChecklistStep:
        return ChecklistStep.objects.select_related("checklist", "owner_unit").get(
            checklist__incident=incident, checklist__template__key=template, key=key
        )

    return find


@pytest.fixture
def move(district: District) -> Move:
    """Move a step as `username` through the service (`StepMove` fields as keywords)."""

    def make(username: str, target: ChecklistStep, state: str, **fields: Any) -> ChecklistStep:
        return step_move(
            actor=as_actor(username),
            step_id=target.pk,
            move=StepMove(state=state, **fields),
            incident_id=target.checklist.incident_id,
        )

    return make
