"""Bad input everywhere: the fuzz tests' settings, world and database snapshot.

Two hypothesis profiles: `quick` (the default, for `make test`: a few examples per test, the
whole folder in well under a minute) and `fuzz` (`make fuzz`, `HYPOTHESIS_PROFILE=fuzz`:
`FUZZ_EXAMPLES` examples per test, default 25, and fresh random examples each run).
`tests/fuzz/run_fuzz.py` runs rounds of the `fuzz` profile until `FUZZ_SECONDS` are spent.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, settings

from incidents.models import District, Incident
from tests.live.helpers import incident_open, register_case

APPS = ("incidents", "alerts", "maps", "playbooks", "command_center", "auth", "sessions")
# Rows a refused request may write: the login throttle counts a wrong bearer token (and a
# token's `last_used_at` is stamped); a refused form re-renders the case page, whose view of
# personal data is logged. Nothing else.
UNWATCHED = {"incidents.ApiToken", "command_center.LoginThrottle", "incidents.PersonalDataAccess"}

FUZZ = os.environ.get("HYPOTHESIS_PROFILE", "") == "fuzz"
SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def fuzz_settings(quick: int) -> settings:
    """`quick` examples in `make test`; `FUZZ_EXAMPLES` (default 25) under `make fuzz`."""
    examples = int(os.environ.get("FUZZ_EXAMPLES", "25")) if FUZZ else quick
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=SLOW,
        derandomize=not FUZZ,  # `make test` is repeatable; `make fuzz` explores
        print_blob=True,
    )


def snapshot() -> dict[str, tuple[Any, ...]]:
    """Per table of the hub: rows, the highest id and the sum of `revision` (0 for tables
    without one), in one query: what a refused request must leave as it was."""
    global _SNAPSHOT_SQL
    if not _SNAPSHOT_SQL:
        _SNAPSHOT_SQL = _snapshot_sql()
    with connection.cursor() as cursor:
        cursor.execute(_SNAPSHOT_SQL)
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


_SNAPSHOT_SQL = ""


def _snapshot_sql() -> str:
    quote = connection.ops.quote_name
    parts = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in APPS or meta.label in UNWATCHED or meta.proxy:
            continue
        columns = {f.name: f.column for f in meta.concrete_fields}
        revision = f"SUM({quote(columns['revision'])})" if "revision" in columns else "0"
        numbered = meta.pk.get_internal_type() in {"AutoField", "BigAutoField"}
        top = f"MAX({quote(meta.pk.column)})" if numbered else "0"  # a session key is text
        # Names from the model registry, quoted by the backend: no input reaches this SQL.
        parts.append(
            f"SELECT '{meta.label}', COUNT(*), {top}, {revision} "  # noqa: S608
            f"FROM {quote(meta.db_table)}"
        )
    return " UNION ALL ".join(parts)


@dataclass
class World:
    """The demo district with a case, a mass incident (its checklist running) and a bearer
    token for each persona who calls the API."""

    district: District
    case_number: str
    incident: Incident
    tokens: dict[str, str]


PERSONAS = ("command", "liaison_housing", "reviewer", "gateway_110")


def issue_token(username: str) -> str:
    out = io.StringIO()
    call_command("issue_token", username, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def world(on_duty: None, district: District) -> World:
    case = register_case(project_type="real_estate")
    incident = incident_open("command", cases=[case.number])
    return World(
        district=district,
        case_number=case.number,
        incident=incident,
        tokens={u: issue_token(u) for u in PERSONAS},
    )


@pytest.fixture
def user_of() -> Callable[[str], User]:
    return lambda username: User.objects.get(username=username)
