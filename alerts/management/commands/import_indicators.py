"""Import indicator readings from a CSV file, streamed, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.services.indicator_import import (
    OPTIONAL,
    REQUIRED,
    ImportRefused,
    readings_import,
)
from command_center.csv_import import MAX_LISTED, ProgressBar, data_lines, open_csv
from incidents.management.district import district_option


class Command(BaseCommand):
    help = (
        "Import early-warning indicator readings: a UTF-8 CSV with the columns "
        + ", ".join(REQUIRED)
        + " (and optionally "
        + ", ".join(OPTIONAL)
        + "). Each row is one reading, about an enterprise (credit_code) or a project "
        "(project code). Readings already held (same source and id) are skipped. If any row "
        "is refused nothing is imported, unless --skip-bad is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--district", default="", help="district code (default: the only one)")
        parser.add_argument(
            "--skip-bad",
            action="store_true",
            help="import the good rows and list the refused ones (default: refuse the file)",
        )
        parser.add_argument("--batch", type=int, default=2000, help="rows written per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        district = district_option(options["district"])
        path: Path = options["file"]
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        try:
            total = data_lines(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        progress = ProgressBar(self.stderr, total, interactive=sys.stderr.isatty())
        try:
            with open_csv(path) as lines:
                report = readings_import(
                    district_id=district.pk,
                    lines=lines,
                    skip_bad=options["skip_bad"],
                    progress=progress,
                    batch_size=options["batch"],
                )
        except ImportRefused as exc:
            progress.end()
            self._list(exc.report.errors, exc.report.refused)
            raise CommandError(f"{exc.report.summary().rstrip('.')}: nothing imported.") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        progress.end()
        self._list(report.errors, report.refused)
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.summary()}; {report.subjects} enterprises and projects, "
                f"{report.registered} of them new. Scoring follows."
            )
        )

    def _list(self, errors: list[str], refused: int) -> None:
        for error in errors:
            self.stderr.write(error)
        if refused > len(errors):
            self.stderr.write(
                f"… and {refused - len(errors)} more refused rows (first {MAX_LISTED} listed)."
            )
