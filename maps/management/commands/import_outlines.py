"""Import town outlines from a GeoJSON file, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.management.district import district_option
from maps.domain.geometry import OutlineProblems
from maps.services import outlines_import


class Command(BaseCommand):
    help = (
        "Set the towns' outlines from a GeoJSON FeatureCollection (WGS-84): one Polygon or "
        "MultiPolygon feature per town, its code in a property (default `code`). Every "
        "feature is checked first; if any is wrong nothing is imported and every problem is "
        "listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--property", default="code", help="the property that holds the town's code"
        )
        parser.add_argument("--district", default="", help="district code (default: the only one)")

    def handle(self, *args: Any, **options: Any) -> None:
        district = district_option(options["district"])
        path: Path = options["file"]
        try:
            collection = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path}: not JSON ({exc})") from exc
        try:
            count = outlines_import(
                district_id=district.pk, collection=collection, code_property=options["property"]
            )
        except OutlineProblems as exc:
            for problem in exc.problems:
                self.stderr.write(f"{path}: {problem}")
            raise CommandError(f"{len(exc.problems)} problems: nothing imported.") from None
        self.stdout.write(self.style.SUCCESS(f"Outlines set for {count} towns."))
