"""Back up the hub: its database, its media files and a manifest with checksums."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from command_center.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the database (pg_dump, or SQLite's online backup) and "
        "of MEDIA_ROOT into a new folder under --output, with a manifest of counts and "
        "sha256 checksums. Safe while the hub runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="folder that receives the backup (default: DATA_DIR/backups)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"] or Path(settings.DATA_DIR) / "backups"
        try:
            folder = backup_create(output=output)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backup written to {folder}"))
