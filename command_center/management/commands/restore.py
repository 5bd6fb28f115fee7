"""Restore a backup made by `manage.py backup` into the configured database and media."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from command_center.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup folder (or its manifest.json): checksums are verified first, then "
        "the database and MEDIA_ROOT are replaced. A database that holds data is replaced "
        "only with --yes. Stop the hub's processes first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", type=Path)
        parser.add_argument(
            "--yes", action="store_true", help="replace a database that already holds data"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            restored = backup_restore(source=options["backup"], force=options["yes"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        expected = restored.manifest["counts"]
        for name, count in restored.counts.items():
            mark = "" if expected.get(name) == count else f"  (backup says {expected.get(name)})"
            self.stdout.write(f"{name}: {count}{mark}")
        if not restored.matches:
            raise CommandError("The restored counts differ from the backup's manifest.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the backup of {restored.manifest['created_at']}; counts match."
            )
        )
