"""Backups of the hub and restoring them: the database, the media files and a manifest.

A backup is a folder `hub-backup-<UTC time>` holding
- `database.dump` (PostgreSQL, `pg_dump --format=custom`) or `database.sqlite3` (SQLite, a
  copy made with SQLite's online backup API, safe while the hub runs);
- `media.tar`: MEDIA_ROOT (checklist evidence);
- `manifest.json`: when, which engine, the last migration of each app, counts of the main
  tables, and the sha256 of each file.

The counts come from the same snapshot as the dump (PostgreSQL: an exported snapshot that
`pg_dump --snapshot` reads; SQLite: the copy itself), so the manifest describes exactly what
the dump holds. Redis holds nothing to back up: the channel layer's frames are replayed from
the event log, and Celery's queue is only a wake-up for rows the database already holds.

Restoring checks every checksum first and changes nothing if one differs; it refuses a
database that holds data unless told (`force`), then restores the database
(`pg_restore --clean --if-exists --no-owner` in one transaction, or SQLite's backup API in
the other direction) and the media files, and reports the counts against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

MANIFEST = "manifest.json"
MEDIA = "media.tar"
DUMP = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
# Tables counted in the manifest and compared after a restore.
COUNTED = {
    "cases": "incidents_case",
    "events": "incidents_event",
    "reports": "incidents_report",
    "districts": "incidents_district",
    "users": "auth_user",
}
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that could not be made; nothing was changed."""


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    counts: dict[str, int]

    @property
    def matches(self) -> bool:
        return self.counts == self.manifest["counts"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _engine() -> str:
    vendor = connection.vendor
    if vendor not in DUMP:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    return vendor


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client tools "
            "(the same major version as the server, or newer)."
        )
    return found


def _pg_env() -> dict[str, str]:
    """The connection settings as libpq variables (so no password shows in a process list)."""
    db: dict[str, Any] = dict(settings.DATABASES["default"])
    env = dict(os.environ)
    for var, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    return env


def _pg_check_version(tool: str) -> None:
    """Refuse a client older than the server: pg_dump would refuse the dump anyway."""
    done = subprocess.run(  # noqa: S603 (a tool found on PATH, no shell)
        [tool, "--version"], capture_output=True, text=True, check=False
    )
    match = re.search(r"(\d+)(?:\.\d+)?", done.stdout)
    client = int(match[1]) if match else 0
    server = connection.pg_version // 10000  # type: ignore[attr-defined]
    if client < server:
        raise BackupError(
            f"{Path(tool).name} is version {client} but the server is PostgreSQL {server}: "
            f"install the client tools of version {server} or newer."
        )


def _counts(cursor: Any) -> dict[str, int]:
    counts = {}
    for name, table in COUNTED.items():
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (fixed table names)
        counts[name] = int(cursor.fetchone()[0])
    return counts


def _migrations(cursor: Any) -> dict[str, str]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    heads: dict[str, str] = {}
    for app, name in cursor.fetchall():
        heads[app] = max(heads.get(app, ""), name)
    return heads


def backup_create(*, output: Path, now: datetime | None = None) -> Path:
    """Write a backup folder under `output`; its path. Raises `BackupError`."""
    now = now or timezone.now()
    engine = _engine()
    folder = output / f"hub-backup-{now.strftime('%Y%m%dT%H%M%SZ')}"
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise BackupError(f"Cannot create {folder}: {exc}") from exc
    try:
        dump = folder / DUMP[engine]
        if engine == "postgresql":
            counts, heads = _pg_dump(dump)
        else:
            counts, heads = _sqlite_copy(dump)
        _media_pack(folder / MEDIA)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "engine": engine,
            "migrations": heads,
            "counts": counts,
            "files": {p.name: sha256_of(p) for p in (dump, folder / MEDIA)},
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _pg_dump(dump: Path) -> tuple[dict[str, int], dict[str, str]]:
    tool = _tool("pg_dump")
    connection.ensure_connection()
    _pg_check_version(tool)
    with transaction.atomic(), connection.cursor() as cursor:
        # One snapshot for the counts here and for pg_dump, which reads it while it is held.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        counts, heads = _counts(cursor), _migrations(cursor)
        done = subprocess.run(  # noqa: S603 (a tool found on PATH, no shell)
            [tool, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}"],
            env=_pg_env(),
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return counts, heads


def _sqlite_copy(dump: Path) -> tuple[dict[str, int], dict[str, str]]:
    source = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    target = sqlite3.connect(dump)
    try:
        source.backup(target)
        cursor = target.cursor()
        return _counts(cursor), _migrations(cursor)
    finally:
        target.close()
        source.close()


def _media_pack(tar_path: Path) -> None:
    root = Path(settings.MEDIA_ROOT)
    with tarfile.open(tar_path, "w") as tar:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=str(path.relative_to(root)))


# --- restore --------------------------------------------------------------------------------


def backup_read(source: Path) -> tuple[Path, dict[str, Any]]:
    """The backup folder and its manifest, every file checked against its sha256."""
    folder = source.parent if source.name == MANIFEST else source
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} is not a hub backup (no readable {MANIFEST}): {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("engine") not in DUMP:
        raise BackupError(f"{folder / MANIFEST} is not a manifest this hub reads.")
    expected = {DUMP[manifest["engine"]], MEDIA}
    if set(manifest.get("files", {})) != expected:
        raise BackupError(f"The manifest should list {', '.join(sorted(expected))}.")
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{name} is missing from the backup.")
        if sha256_of(path) != digest:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged.")
    return folder, manifest


def database_is_empty() -> bool:
    """True when the configured database holds no district, case, event or user (or has no
    tables yet)."""
    try:
        with connection.cursor() as cursor:
            return not any(_counts(cursor).values())
    except DatabaseError:
        return True


def backup_restore(*, source: Path, force: bool = False) -> Restored:
    """Restore a backup into the configured database and MEDIA_ROOT.

    Raises `BackupError`, having changed nothing, when the backup is damaged or of another
    engine, or the database holds data and `force` is off.
    """
    folder, manifest = backup_read(source)
    engine = _engine()
    if manifest["engine"] != engine:
        raise BackupError(
            f"The backup is of a {manifest['engine']} database; this hub uses {engine}."
        )
    if not force and not database_is_empty():
        raise BackupError("The database is not empty: give --yes to replace what it holds.")
    with _media_staged(folder / MEDIA) as staged:
        if engine == "postgresql":
            _pg_restore(folder / DUMP[engine])
        else:
            _sqlite_restore(folder / DUMP[engine])
        _media_swap(staged)
    with connection.cursor() as cursor:
        counts = _counts(cursor)
    return Restored(manifest=manifest, counts=counts)


def _pg_restore(dump: Path) -> None:
    tool = _tool("pg_restore")
    connection.ensure_connection()
    _pg_check_version(tool)
    env = _pg_env()
    connection.close()
    done = subprocess.run(  # noqa: S603 (a tool found on PATH, no shell)
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={env.get('PGDATABASE', '')}",
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing restored): {done.stderr.strip()}")


def _sqlite_restore(dump: Path) -> None:
    connection.close()
    source = sqlite3.connect(dump)
    target = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=20)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


@contextmanager
def _media_staged(tar_path: Path) -> Iterator[Path]:
    """The backup's media unpacked beside MEDIA_ROOT (same file system, for the swap)."""
    root = Path(settings.MEDIA_ROOT)
    root.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".media-restore-", dir=root.parent))
    try:
        with tarfile.open(tar_path) as tar:
            tar.extractall(staged, filter="data")
        yield staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _media_swap(staged: Path) -> None:
    root = Path(settings.MEDIA_ROOT)
    old = root.with_name(f".media-old-{os.getpid()}")
    if root.exists():
        root.rename(old)
    shutil.move(str(staged), str(root))
    shutil.rmtree(old, ignore_errors=True)
