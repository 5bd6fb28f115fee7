"""Export playbook templates as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.management.district import district_option
from playbooks.domain.templates import TemplateError
from playbooks.services import playbooks_export, yaml_dump


class Command(BaseCommand):
    help = (
        "Write the district's playbook templates (or those named by key) as YAML, one "
        "document each, in the form playbook_import reads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("keys", nargs="*", help="template keys (default: all)")
        parser.add_argument("--district", default="", help="district code (default: the only one)")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        district = district_option(options["district"])
        try:
            documents = playbooks_export(district_id=district.pk, keys=options["keys"])
        except TemplateError as exc:
            raise CommandError("; ".join(exc.problems)) from None
        text = yaml_dump(documents)
        if options["output"]:
            options["output"].write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {len(documents)} templates to {options['output']}.")
        else:
            self.stdout.write(text, ending="")
