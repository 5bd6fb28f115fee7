"""Import historical (finished) cases from a CSV file, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from command_center.csv_import import MAX_LISTED, ProgressBar, data_lines
from incidents.domain.case_import import OPTIONAL, REQUIRED
from incidents.management.district import district_option
from incidents.services.case_import import CaseImportRefused, cases_import


class Command(BaseCommand):
    help = (
        "Import historical cases that are over (resolved, closed or rejected): a UTF-8 CSV "
        "with the columns "
        + ", ".join(REQUIRED)
        + " (and optionally "
        + ", ".join(OPTIONAL)
        + "). The whole file is checked before anything is stored; if any row is refused "
        "nothing is imported, unless --skip-bad is given. Rows already imported (same case "
        "number, or the same row) are skipped, so a file may be run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--district", default="", help="district code (default: the only one)")
        parser.add_argument(
            "--skip-bad",
            action="store_true",
            help="import the good rows and list the refused ones (default: refuse the file)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file only; store nothing"
        )
        parser.add_argument("--batch", type=int, default=1000, help="rows written per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        district = district_option(options["district"])
        path: Path = options["file"]
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        try:
            total = data_lines(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        interactive = sys.stderr.isatty()
        bars: dict[str, ProgressBar] = {}

        def progress(phase: str, done: int) -> None:
            if phase not in bars:
                for bar in bars.values():
                    bar.end()
                bars[phase] = ProgressBar(self.stderr, total, interactive=interactive, label=phase)
            bars[phase](done)

        def end_bars() -> None:
            for bar in bars.values():
                bar.end()

        try:
            report = cases_import(
                district_id=district.pk,
                path=path,
                skip_bad=options["skip_bad"],
                dry_run=options["dry_run"],
                progress=progress,
                batch_size=options["batch"],
            )
        except CaseImportRefused as exc:
            end_bars()
            self._list(exc.report.errors, exc.report.refused)
            raise CommandError(f"{exc.report.summary().rstrip('.')}: nothing imported.") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        end_bars()
        self._list(report.errors, report.refused)
        note = " (dry run: nothing stored)" if options["dry_run"] else ""
        self.stdout.write(self.style.SUCCESS(f"{report.summary()}{note}."))

    def _list(self, errors: list[str], refused: int) -> None:
        for error in errors:
            self.stderr.write(error)
        if refused > len(errors):
            self.stderr.write(
                f"… and {refused - len(errors)} more refused rows (first {MAX_LISTED} listed)."
            )
