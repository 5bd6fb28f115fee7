"""Who is responsible for a case: "whoever is in charge is responsible" (谁主管谁负责).

The table is data (edited by an administrator as `RoutingRule` rows); this module only
applies it. A rule names the project type it covers (`None`: a complaint about no
construction project) and who answers for it: a unit code, `territorial` (the town where the
work is) or `builder` (the state-owned company that builds a government-invested project).
When the table cannot decide, the decision has no responsible unit and a person chooses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

TERRITORIAL = "territorial"
BUILDER = "builder"


class ProjectType(StrEnum):
    REAL_ESTATE = "real_estate"
    COMMERCIAL_COMPLEX = "commercial_complex"
    TRANSPORT = "transport"
    WATER = "water"
    GOVERNMENT_INVESTMENT = "government_investment"
    OTHER_CONSTRUCTION = "other_construction"


@dataclass(frozen=True)
class Rule:
    project_type: ProjectType | None
    responsible: str
    assist_territorial: bool = False


@dataclass(frozen=True)
class Decision:
    responsible: str | None
    assisting: tuple[str, ...] = ()
    reason: str = ""

    @property
    def decided(self) -> bool:
        return self.responsible is not None


# The defaults of the seed (DESIGN.md section 2), loaded as rows by the demo data.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(ProjectType.REAL_ESTATE, "housing", assist_territorial=True),
    Rule(ProjectType.COMMERCIAL_COMPLEX, "housing", assist_territorial=True),
    Rule(ProjectType.TRANSPORT, "transport"),
    Rule(ProjectType.WATER, "water"),
    Rule(ProjectType.GOVERNMENT_INVESTMENT, BUILDER),
    Rule(ProjectType.OTHER_CONSTRUCTION, TERRITORIAL),
    Rule(None, TERRITORIAL),
)


def route(
    rules: Iterable[Rule],
    *,
    project_type: ProjectType | None,
    town: str,
    builder: str | None,
    unit_kinds: Mapping[str, str],
) -> Decision:
    """Apply the routing table to one case.

    `unit_kinds` maps each active unit code to its kind (territorial, bureau, soe); a rule
    that names a missing unit, a government project without a known state-owned builder, or
    a project type without a rule leaves the decision to a person.
    """
    rule = next((r for r in rules if r.project_type == project_type), None)
    if rule is None:
        return Decision(None, reason="no routing rule for this project type")
    if rule.responsible == TERRITORIAL:
        responsible: str | None = town
    elif rule.responsible == BUILDER:
        if not builder or unit_kinds.get(builder) != "soe":
            return Decision(None, reason="government project without a known state-owned builder")
        responsible = builder
    else:
        responsible = rule.responsible
    if responsible not in unit_kinds:
        return Decision(None, reason=f"unit {responsible!r} is not known")
    assisting: tuple[str, ...] = ()
    if rule.assist_territorial and town != responsible and town in unit_kinds:
        assisting = (town,)
    return Decision(responsible, assisting, reason=f"rule for {project_type or 'no project'}")
