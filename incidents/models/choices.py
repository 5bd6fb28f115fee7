"""Choices and labels shared by models, forms and views."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from incidents.domain.lifecycle import Action, CaseState
from incidents.domain.routing import ProjectType

PROJECT_TYPE_CHOICES = [
    (ProjectType.REAL_ESTATE.value, _("real estate")),
    (ProjectType.COMMERCIAL_COMPLEX.value, _("commercial complex")),
    (ProjectType.TRANSPORT.value, _("transport")),
    (ProjectType.WATER.value, _("water")),
    (ProjectType.GOVERNMENT_INVESTMENT.value, _("government investment")),
    (ProjectType.OTHER_CONSTRUCTION.value, _("other construction")),
]
STATE_CHOICES = [
    (CaseState.REGISTERED.value, _("registered")),
    (CaseState.DISPATCHED.value, _("dispatched")),
    (CaseState.ACCEPTED.value, _("accepted")),
    (CaseState.RESOLVED.value, _("resolved")),
    (CaseState.CLOSED.value, _("closed")),
    (CaseState.INSPECTION.value, _("labour inspection")),
    (CaseState.SECTOR_REVIEW.value, _("sector review")),
    (CaseState.JOINT_MEETING.value, _("joint meeting")),
    (CaseState.FACTS_CONFIRMED.value, _("facts confirmed")),
    (CaseState.ADVANCED.value, _("wages advanced")),
    (CaseState.RECOVERING.value, _("recovering")),
    (CaseState.MERGED.value, _("merged")),
    (CaseState.REFERRED_POLICE.value, _("referred to police")),
    (CaseState.REJECTED.value, _("rejected")),
]


ACTION_LABELS: dict[Action, StrOrPromise] = {
    Action.DISPATCH: _("Dispatch"),
    Action.ACCEPT: _("Accept (issue commitment letter)"),
    Action.RESOLVE: _("Resolve"),
    Action.CLOSE: _("Close"),
    Action.ESCALATE_INSPECTION: _("Escalate to labour inspection"),
    Action.REFER_SECTOR: _("Refer to sector bureau"),
    Action.CONVENE_JOINT_MEETING: _("Convene joint meeting"),
    Action.CONFIRM_FACTS: _("Confirm facts and amount"),
    Action.ADVANCE_PAYMENT: _("Advance wages from petition account"),
    Action.RECORD_RECOVERY: _("Record recovery"),
    Action.REFER_POLICE: _("Refer to police"),
    Action.REJECT: _("Reject"),
    Action.MERGE: _("Merge into another case"),
}
STATE_LABELS: dict[str, StrOrPromise] = dict(STATE_CHOICES)
