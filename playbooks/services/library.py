"""The district's playbook library: saving templates as new versions, YAML import and export,
and the templates the hub ships.

Every change to a template is validated whole (`template_from_dict`, against the district's
units) and, when it changes anything, frozen as the next `PlaybookVersion`. A checklist names
the version it started from, so nothing here touches a running checklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth.models import User
from django.db import transaction

from incidents.models import Unit
from playbooks.domain.templates import (
    STEP_FIELDS,
    Template,
    TemplateError,
    template_from_dict,
    template_to_dict,
)
from playbooks.models import PlaybookStep, PlaybookTemplate, PlaybookVersion

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "data"
MAX_DOCUMENTS = 50


@dataclass(frozen=True)
class Saved:
    key: str
    version: int
    outcome: str  # created | updated | unchanged


def district_units(district_id: int) -> set[str]:
    """The codes of the district's units a step may name as its owner."""
    return set(
        Unit.objects.filter(district_id=district_id, active=True).values_list("code", flat=True)
    )


def yaml_documents(text: str) -> list[Any]:
    """The documents of a YAML file (one template each); `TemplateError` for bad YAML."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError([f"{where}: not valid YAML ({problem})"]) from None
    if not documents:
        raise TemplateError(["the file holds no template"])
    if len(documents) > MAX_DOCUMENTS:
        raise TemplateError([f"at most {MAX_DOCUMENTS} templates in one file"])
    return documents


def templates_check(documents: list[Any], *, district_id: int) -> list[Template]:
    """Every document checked; `TemplateError` lists the problems of all of them, each
    prefixed with its template's place in the file when there are several."""
    units = district_units(district_id)
    checked: list[Template] = []
    problems: list[str] = []
    for n, raw in enumerate(documents):
        try:
            checked.append(template_from_dict(raw, units=units))
        except TemplateError as exc:
            prefix = f"template {n + 1}: " if len(documents) > 1 else ""
            problems.extend(prefix + p for p in exc.problems)
    keys = [t.key for t in checked]
    problems.extend(
        f"key {k!r} is in the file twice" for k in sorted({k for k in keys if keys.count(k) > 1})
    )
    if problems:
        raise TemplateError(problems)
    return checked


def template_definition(template: PlaybookTemplate) -> dict[str, Any]:
    """The template as its rows stand now, in the form YAML files take."""
    return {
        "key": template.key,
        "name": template.name,
        "version": template.version,
        "trigger": template.trigger,
        "kinds": list(template.kinds or []),
        "levels": list(template.levels or []),
        "steps": [
            {name: getattr(s, name) for name in STEP_FIELDS}
            for s in template.steps.order_by("position", "pk")
        ],
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two definitions that differ only in their version number say the same thing."""
    return {**a, "version": 0} == {**b, "version": 0}


def _latest(template: PlaybookTemplate) -> PlaybookVersion | None:
    return template.versions.order_by("-version").first()


def _latest_definition(template: PlaybookTemplate) -> dict[str, Any]:
    """The template's last frozen version, as `template_to_dict` wrote it (kinds sorted,
    levels in order), so that comparing with a file does not depend on how rows were
    typed in."""
    latest = _latest(template)
    return latest.definition if latest is not None else {}


def version_freeze(
    template: PlaybookTemplate, *, source: str, user: User | None = None
) -> PlaybookVersion | None:
    """Validate the template as its rows stand and freeze it as the next version.

    Returns the new version, or None when nothing changed since the last one. Raises
    `TemplateError` for a template that may not be used (the caller's transaction, and so
    the edit, is rolled back).
    """
    # A template never frozen yet has version 0, which a definition may not say.
    current = {**template_definition(template), "version": max(template.version, 1)}
    checked = template_from_dict(current, units=district_units(template.district_id))
    definition = template_to_dict(checked)
    latest = _latest(template)
    if latest is not None and _same(latest.definition, definition):
        return None
    number = (latest.version if latest else 0) + 1
    definition["version"] = number
    version = PlaybookVersion.objects.create(
        template=template, version=number, definition=definition, created_by=user, source=source
    )
    PlaybookTemplate.objects.filter(pk=template.pk).update(version=number)
    template.version = number
    return version


def _write(template: PlaybookTemplate, checked: Template) -> None:
    template.name = checked.name
    template.trigger = checked.trigger.value
    raw = template_to_dict(checked)
    template.kinds = raw["kinds"]
    template.levels = raw["levels"]
    template.save()
    template.steps.all().delete()
    PlaybookStep.objects.bulk_create(
        PlaybookStep(template=template, position=n, **step) for n, step in enumerate(raw["steps"])
    )


def playbooks_save(
    documents: list[Any],
    *,
    district_id: int,
    source: str,
    user: User | None = None,
    force: bool = False,
) -> list[Saved]:
    """Import templates (as read from YAML) into the district: all of them, or none.

    A template that says nothing new is left as it is; one that does becomes the next
    version. A file written from an older version than the hub's (its `version` is lower)
    is refused unless `force`, so an old export does not silently undo later edits.
    """
    checked = templates_check(documents, district_id=district_id)
    saved: list[Saved] = []
    with transaction.atomic():
        existing = {
            t.key: t
            for t in PlaybookTemplate.objects.select_for_update().filter(
                district_id=district_id, key__in=[c.key for c in checked]
            )
        }
        stale = [
            f"{c.key}: the file is version {c.version}, "
            f"the hub has version {existing[c.key].version}"
            for c in checked
            if c.key in existing
            and c.version < existing[c.key].version
            and not _same(template_to_dict(c), _latest_definition(existing[c.key]))
        ]
        if stale and not force:
            raise TemplateError([*stale, "export again, or import with --force to overwrite"])
        for c in checked:
            template = existing.get(c.key) or PlaybookTemplate(district_id=district_id, key=c.key)
            created = template.pk is None
            _write(template, c)
            version = version_freeze(template, source=source, user=user)
            outcome = "created" if created else ("updated" if version else "unchanged")
            saved.append(Saved(c.key, template.version, outcome))
    return saved


def playbooks_export(*, district_id: int, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """The district's templates (or those named) as `playbooks_save` reads them."""
    qs = PlaybookTemplate.objects.filter(district_id=district_id).order_by("key")
    if keys:
        qs = qs.filter(key__in=keys)
        missing = sorted(set(keys) - set(qs.values_list("key", flat=True)))
        if missing:
            raise TemplateError([f"no template {k!r}" for k in missing])
    return [template_definition(t) for t in qs]


def yaml_dump(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, allow_unicode=True, sort_keys=False, width=100)


def default_documents() -> list[Any]:
    """The templates the hub ships (`playbooks/data/*.yaml`)."""
    documents: list[Any] = []
    for path in sorted(DEFAULTS_DIR.glob("*.yaml")):
        documents.extend(yaml_documents(path.read_text(encoding="utf-8")))
    return documents


def playbooks_install_defaults(*, district_id: int) -> list[Saved]:
    """Give the district the shipped templates it does not have yet (by key); templates it
    has, edited or not, are left alone."""
    have = set(
        PlaybookTemplate.objects.filter(district_id=district_id).values_list("key", flat=True)
    )
    missing = [d for d in default_documents() if d.get("key") not in have]
    if not missing:
        return []
    return playbooks_save(missing, district_id=district_id, source="defaults")
