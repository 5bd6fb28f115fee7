"""Import playbook templates from YAML, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.management.district import district_option
from playbooks.domain.templates import TemplateError
from playbooks.services import default_documents, playbooks_save, yaml_documents


class Command(BaseCommand):
    help = (
        "Import playbook templates from a YAML file (one template per document, `---` "
        "between them), or the templates the hub ships with --defaults. Every template is "
        "checked first; if any is wrong nothing is imported and every problem is listed. A "
        "template that changes something becomes its next version; running checklists keep "
        "the version they started with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument(
            "--defaults", action="store_true", help="import the templates the hub ships"
        )
        parser.add_argument("--district", default="", help="district code (default: the only one)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="import even a file written from an older version than the hub's",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        district = district_option(options["district"])
        if bool(options["file"]) == bool(options["defaults"]):
            raise CommandError("Give a YAML file, or --defaults.")
        source = "defaults" if options["defaults"] else "import"
        where = "the shipped templates" if options["defaults"] else str(options["file"])
        try:
            if options["defaults"]:
                documents = default_documents()
            else:
                try:
                    text = options["file"].read_text(encoding="utf-8-sig")
                except (OSError, UnicodeDecodeError) as exc:
                    raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
                documents = yaml_documents(text)
            saved = playbooks_save(
                documents, district_id=district.pk, source=source, force=options["force"]
            )
        except TemplateError as exc:
            for problem in exc.problems:
                self.stderr.write(f"{where}: {problem}")
            raise CommandError(f"{len(exc.problems)} problems: nothing imported.") from None
        for item in saved:
            self.stdout.write(f"{item.key}: {item.outcome} (version {item.version})")
        self.stdout.write(self.style.SUCCESS(f"Imported {len(saved)} templates."))
