"""Load the demo district: reference data (upserted) and, once, a year of demo cases."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from alerts.demo import load_duty, load_risk_demo
from command_center.reports import rankings_close
from incidents import demo
from maps.demo import load_map_reference
from playbooks.services import playbooks_install_defaults


class Command(BaseCommand):
    help = "Load the Nanxun demo data. Safe to run again: nothing is duplicated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=300, help="demo cases to make once")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        district = demo.load_reference()
        shifts = load_duty(district, today=timezone.localdate())
        playbooks = playbooks_install_defaults(district_id=district.pk)
        total = options["cases"]

        def progress(done: int) -> None:
            if sys.stderr.isatty() or done == total or done % 50 == 0:
                self.stderr.write(f"\rdemo cases {done}/{total}", ending="")
                self.stderr.flush()

        made = demo.load_cases(district, count=total, seed=options["seed"], progress=progress)
        if made:
            self.stderr.write("")
        # After the cases, which create the demo projects that get a site here.
        places = load_map_reference(district)
        readings = load_risk_demo(district)
        # The months the demo cases span are over: their rankings close and strikes are given.
        closed = rankings_close(district_id=district.pk, now=timezone.now())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo district {district.code}: reference data loaded; "
                f"{shifts} duty shifts added; {len(playbooks)} playbooks installed; "
                f"{places} map landmarks; {readings} indicator readings; "
                f"{len(closed)} ranking months closed; "
                + (f"{made} demo cases made." if made else "demo cases already present.")
            )
        )
