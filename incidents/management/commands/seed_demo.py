"""Load the demo: Nanxun district's reference data (upserted) and, once, a year of demo
cases; Wuxing district beside it with fewer cases; the province over both."""

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
    help = (
        "Load the demo data (Nanxun and Wuxing districts, Zhejiang province). "
        "Safe to run again: nothing is duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=300, help="demo cases to make once")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--second-cases",
            type=int,
            default=None,
            help="demo cases to make once in the second district (Wuxing); "
            "default: a fifth of --cases, at least 10 (none with --cases 0)",
        )

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
        second = demo.load_reference(spec=demo.WUXING)
        load_duty(second, today=timezone.localdate(), phone_block="137", command="command_wuxing")
        playbooks_install_defaults(district_id=second.pk)
        second_total = options["second_cases"]
        if second_total is None:
            second_total = max(10, total // 5) if total else 0
        made_second = demo.load_cases(
            second,
            count=second_total,
            seed=options["seed"] + 7,
            spec=demo.WUXING,
        )
        rankings_close(district_id=second.pk, now=timezone.now())
        province = demo.load_province([district, second])
        if total:
            # Only with demo cases: `--cases 0` (the tests' and benchmarks' set-up) gives
            # reference data alone, with no incident paging anyone.
            demo.load_grave_incident(second, demo.WUXING)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo district {district.code}: reference data loaded; "
                f"{shifts} duty shifts added; {len(playbooks)} playbooks installed; "
                f"{places} map landmarks; {readings} indicator readings; "
                f"{len(closed)} ranking months closed; "
                + (f"{made} demo cases made." if made else "demo cases already present.")
                + f" Second district {second.code}: {made_second} demo cases made;"
                f" province {province.code} over both."
            )
        )
