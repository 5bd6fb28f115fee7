"""The zh-Hans catalogue is complete, compiled, and knows every string the code marks.

A new `gettext` call or `{% translate %}` tag without a Chinese translation fails here; the
fix is `make messages`, then filling the new `msgstr` entries in
`locale/zh_Hans/LC_MESSAGES/django.po` (and `make messages` again to compile them).
"""

from __future__ import annotations

import ast
import gettext
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
CATALOGUE = Path("locale/zh_Hans/LC_MESSAGES/django.po")
COMPILED = CATALOGUE.with_suffix(".mo")
# Not copied for the makemessages run: environments, caches, data, git.
NOT_SOURCE = (
    ".venv",
    "venv",
    ".git",
    "var",
    "staticfiles",
    "node_modules",
    "__pycache__",
    ".ruff_cache",
    ".mypy_cache",
    ".pytest_cache",
    ".hypothesis",
    "*.egg-info",
    "*.sqlite3*",
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)


def parse_po(path: Path) -> list[Entry]:
    """The entries of a PO file, header included, obsolete (`#~`) entries left out."""
    entries: list[Entry] = []
    entry = Entry()
    started = False  # a keyword of `entry` has been read
    target = ("msgid", 0)

    def finish() -> None:
        nonlocal entry, started
        if started:
            entries.append(entry)
        entry, started = Entry(), False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#"):
            if started:
                finish()
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
        elif line.startswith('"'):
            if not started:
                raise AssertionError(f"{path}:{number}: a string continues no keyword")
            _append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, rest = line.partition(" ")
            if keyword in {"msgctxt", "msgid"} and entry.msgstr:
                finish()
            if not started:
                entry.line, started = number, True
            if keyword.startswith("msgstr["):
                target = ("msgstr", int(keyword[len("msgstr[") : -1]))
            elif keyword in {"msgctxt", "msgid", "msgid_plural", "msgstr"}:
                target = (keyword, 0)
            else:
                raise AssertionError(f"{path}:{number}: unknown keyword {keyword!r}")
            _append(entry, target, ast.literal_eval(rest))
    finish()
    return entries


def _append(entry: Entry, target: tuple[str, int], value: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] = entry.msgstr.get(index, "") + value
    elif name == "msgid":
        entry.msgid += value
    else:
        setattr(entry, name, (getattr(entry, name) or "") + value)


def messages_of(path: Path) -> list[Entry]:
    return [e for e in parse_po(path) if e.msgid]


def test_catalogue_exists_and_has_messages() -> None:
    assert (BASE_DIR / CATALOGUE).is_file(), f"{CATALOGUE} is missing: run `make messages`"
    assert len(messages_of(BASE_DIR / CATALOGUE)) > 50


def test_every_message_has_a_chinese_translation() -> None:
    entries = parse_po(BASE_DIR / CATALOGUE)
    untranslated = [
        f"line {e.line}: {e.msgid!r}"
        for e in entries
        if e.msgid and (not e.msgstr or not all(s.strip() for s in e.msgstr.values()))
    ]
    assert not untranslated, "untranslated messages:\n" + "\n".join(untranslated)


def test_no_entry_is_fuzzy() -> None:
    fuzzy = [
        f"line {e.line}: {e.msgid!r}" for e in parse_po(BASE_DIR / CATALOGUE) if "fuzzy" in e.flags
    ]
    assert not fuzzy, "fuzzy entries (check them, then remove the flag):\n" + "\n".join(fuzzy)


def test_header_declares_chinese_and_its_plural_rule() -> None:
    header = next(e for e in parse_po(BASE_DIR / CATALOGUE) if not e.msgid)
    text = header.msgstr[0]
    assert "Language: zh_Hans" in text
    assert "Plural-Forms: nplurals=1; plural=0;" in text
    assert "charset=UTF-8" in text


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="msgfmt (gettext) is not installed")
def test_msgfmt_counts_no_untranslated_or_fuzzy_message() -> None:
    done = subprocess.run(  # noqa: S603 (fixed command)
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(CATALOGUE)],  # noqa: S607
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "fuzzy" not in done.stderr, done.stderr
    assert "untranslated" not in done.stderr, done.stderr


def test_compiled_catalogue_matches_the_source() -> None:
    assert (BASE_DIR / COMPILED).is_file(), f"{COMPILED} is missing: run `make messages`"
    with (BASE_DIR / COMPILED).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in messages_of(BASE_DIR / CATALOGUE):
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            got = (
                compiled.gettext(msgid)
                if entry.msgctxt is None
                else compiled.pgettext(entry.msgctxt, entry.msgid)
            )
            expected = entry.msgstr.get(0, "")
        else:
            got = compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
            expected = entry.msgstr.get(0, "")
        if got != expected:
            stale.append(f"{msgid!r}: compiled {got!r}, source {expected!r}")
    assert not stale, "the .mo is older than the .po; run `make messages`:\n" + "\n".join(stale)


def test_makemessages_finds_no_message_missing_from_the_catalogue(tmp_path: Path) -> None:
    """Run the same `makemessages` as `make messages` on a copy of the source tree."""
    if not shutil.which("xgettext") or not shutil.which("msgmerge"):
        message = "GNU gettext (xgettext, msgmerge) is not installed: apt-get install gettext"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this check may not be skipped")
        pytest.skip(message)
    copy = tmp_path / "src"
    shutil.copytree(BASE_DIR, copy, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    # The copy's own settings put LOCALE_PATHS inside the copy, never in this tree.
    env = dict(os.environ, DATA_DIR=str(tmp_path / "var"))
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore=.venv",
            "--ignore=staticfiles",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    known = {e.key for e in messages_of(BASE_DIR / CATALOGUE)}
    found = messages_of(copy / CATALOGUE)
    missing = [f"{e.msgid!r}" for e in found if e.key not in known]
    assert not missing, (
        "messages marked for translation but missing from the catalogue (run `make messages` "
        "and translate them):\n" + "\n".join(missing)
    )
