"""Who is responsible: the default routing table of the seed, and an edited one."""

from __future__ import annotations

import dataclasses

import pytest

from incidents.domain.routing import (
    BUILDER,
    DEFAULT_RULES,
    TERRITORIAL,
    Decision,
    ProjectType,
    Rule,
    route,
)

P = ProjectType

# The demo district's units and their kinds (incidents/demo.py).
UNIT_KINDS = {
    "lianshi": "territorial",
    "shuanglin": "territorial",
    "nanxun": "territorial",
    "housing": "bureau",
    "transport": "bureau",
    "water": "bureau",
    "labour_inspection": "bureau",
    "nx_invest": "soe",
}


def decide(
    project_type: ProjectType | None,
    *,
    town: str = "lianshi",
    builder: str | None = None,
    rules: tuple[Rule, ...] = DEFAULT_RULES,
    unit_kinds: dict[str, str] | None = None,
) -> Decision:
    return route(
        rules,
        project_type=project_type,
        town=town,
        builder=builder,
        unit_kinds=UNIT_KINDS if unit_kinds is None else unit_kinds,
    )


@pytest.mark.parametrize(
    ("project_type", "builder", "responsible", "assisting"),
    [
        (P.REAL_ESTATE, None, "housing", ("lianshi",)),
        (P.COMMERCIAL_COMPLEX, None, "housing", ("lianshi",)),
        (P.TRANSPORT, None, "transport", ()),
        (P.WATER, None, "water", ()),
        (P.GOVERNMENT_INVESTMENT, "nx_invest", "nx_invest", ()),
        (P.OTHER_CONSTRUCTION, None, "lianshi", ()),
        (None, None, "lianshi", ()),
    ],
    ids=lambda v: str(v),
)
def test_default_rules_name_the_unit_in_charge(
    project_type: ProjectType | None,
    builder: str | None,
    responsible: str,
    assisting: tuple[str, ...],
) -> None:
    decision = decide(project_type, builder=builder)
    assert decision.decided
    assert decision.responsible == responsible
    assert decision.assisting == assisting
    assert decision.reason


def test_default_rules_cover_every_project_type_and_no_project() -> None:
    assert {rule.project_type for rule in DEFAULT_RULES} == {*ProjectType, None}


def test_territorial_rule_follows_the_town_of_the_case() -> None:
    assert decide(P.OTHER_CONSTRUCTION, town="shuanglin").responsible == "shuanglin"
    assert decide(None, town="nanxun").responsible == "nanxun"


def test_housing_is_assisted_by_the_town_where_the_project_is() -> None:
    assert decide(P.REAL_ESTATE, town="shuanglin").assisting == ("shuanglin",)


def test_builder_of_a_non_government_project_is_ignored() -> None:
    assert decide(P.TRANSPORT, builder="nx_invest").responsible == "transport"


@pytest.mark.parametrize(
    "builder",
    [None, "", "housing", "lianshi", "unknown_company"],
    ids=repr,
)
def test_government_project_without_a_known_soe_builder_is_undecided(
    builder: str | None,
) -> None:
    decision = decide(P.GOVERNMENT_INVESTMENT, builder=builder)
    assert not decision.decided
    assert decision.responsible is None
    assert decision.assisting == ()
    assert "state-owned" in decision.reason


def test_rule_naming_an_unknown_unit_is_undecided() -> None:
    rules = (Rule(P.WATER, "water_authority"),)
    decision = decide(P.WATER, rules=rules)
    assert not decision.decided
    assert "water_authority" in decision.reason


def test_rule_naming_an_inactive_unit_is_undecided() -> None:
    kinds = {code: kind for code, kind in UNIT_KINDS.items() if code != "transport"}
    assert not decide(P.TRANSPORT, unit_kinds=kinds).decided


def test_unknown_town_leaves_a_territorial_case_undecided() -> None:
    decision = decide(None, town="atlantis")
    assert not decision.decided
    assert "atlantis" in decision.reason


def test_unknown_town_gives_housing_no_assistant() -> None:
    decision = decide(P.REAL_ESTATE, town="atlantis")
    assert decision.responsible == "housing"
    assert decision.assisting == ()


def test_project_type_without_a_rule_is_undecided() -> None:
    rules = tuple(rule for rule in DEFAULT_RULES if rule.project_type != P.WATER)
    decision = decide(P.WATER, rules=rules)
    assert not decision.decided
    assert "no routing rule" in decision.reason


def test_empty_table_decides_nothing() -> None:
    assert not decide(None, rules=()).decided


def test_an_edited_table_changes_the_answer() -> None:
    # The administrator hands water projects to the town and real estate to transport,
    # without the town assisting: only data changes.
    edited = tuple(
        Rule(P.WATER, TERRITORIAL)
        if rule.project_type == P.WATER
        else dataclasses.replace(rule, responsible="transport", assist_territorial=False)
        if rule.project_type == P.REAL_ESTATE
        else rule
        for rule in DEFAULT_RULES
    )
    assert decide(P.WATER).responsible == "water"
    assert decide(P.WATER, rules=edited).responsible == "lianshi"
    assert decide(P.REAL_ESTATE, rules=edited) == Decision(
        "transport", (), reason="rule for real_estate"
    )
    # the rules not edited answer as before
    assert decide(P.COMMERCIAL_COMPLEX, rules=edited) == decide(P.COMMERCIAL_COMPLEX)


def test_edited_table_can_route_government_projects_to_a_bureau() -> None:
    edited = (Rule(P.GOVERNMENT_INVESTMENT, "housing"),)
    assert decide(P.GOVERNMENT_INVESTMENT, rules=edited).responsible == "housing"


def test_edited_table_can_send_projectless_complaints_to_a_builder_rule() -> None:
    edited = (Rule(None, BUILDER),)
    assert not decide(None, rules=edited).decided
    assert decide(None, rules=edited, builder="nx_invest").responsible == "nx_invest"


def test_first_rule_for_a_project_type_wins() -> None:
    rules = (Rule(P.TRANSPORT, "water"), Rule(P.TRANSPORT, "transport"))
    assert decide(P.TRANSPORT, rules=rules).responsible == "water"


def test_town_responsible_does_not_assist_itself() -> None:
    rules = (Rule(P.REAL_ESTATE, TERRITORIAL, assist_territorial=True),)
    decision = decide(P.REAL_ESTATE, rules=rules)
    assert decision.responsible == "lianshi"
    assert decision.assisting == ()
