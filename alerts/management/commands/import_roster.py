"""Import a duty roster from a CSV file, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.services import roster_import
from command_center.csv_import import decode_csv
from incidents.management.district import district_option


class Command(BaseCommand):
    help = (
        "Import a duty roster: a UTF-8 CSV with the columns day, unit, duty, name, phone. "
        "Nothing is imported if any row is wrong; every error is listed by line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--district", default="", help="district code (default: the only one)")

    def handle(self, *args: Any, **options: Any) -> None:
        district = district_option(options["district"])
        try:
            text = decode_csv(options["file"].read_bytes())
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        result = roster_import(district_id=district.pk, text=text)
        if result.errors:
            for error in result.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(result.errors)} wrong rows: nothing imported.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.shifts} duties; {result.officers_created} new officers."
            )
        )
