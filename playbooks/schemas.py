"""API input schemas of checklists."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from incidents.schemas import Strict
from playbooks.services import StepMove


class StepMoveIn(Strict):
    state: Literal["open", "in_progress", "done", "skipped"]
    note: Annotated[str, Field(max_length=2000)] = ""
    number: Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), decimal_places=2)] | None = None
    expected_revision: Annotated[StrictInt, Field(ge=0)] | None = None

    def to_input(self) -> StepMove:
        return StepMove(
            state=self.state,
            note=self.note,
            number=self.number,
            expected_revision=self.expected_revision,
        )


class ChecklistAddIn(Strict):
    template: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
