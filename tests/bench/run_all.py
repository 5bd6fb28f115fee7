"""Run every benchmark of the project and write one table: each figure beside its baseline.

Each `tests/bench/bench_*.py` runs in its own process with `BENCH_ROWS` naming a fresh
JSON-lines file; the scripts append their figures to it through `tests.bench.table.record`
(and keep printing their own, more detailed tables, shown here as they run). A script that
fails, or records nothing, becomes a row saying so, and the others still run; the exit status
is then 1. The table (benchmark | figure | value | baseline (same run) | ratio), under a line
naming the date, the machine, the database and the Redis used, goes to `var/bench.md`
(BENCH_TABLE to put it elsewhere) and to stdout.

Run: `make bench`, or `.venv/bin/python tests/bench/run_all.py --only reports --quick`
(`--help` for the options). `--quick` asks each script for small sizes (a smoke run: its
figures mean little); `--bench-dir` runs the scripts of another folder (the runner's test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_TABLE = ROOT / "var" / "bench.md"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
COLUMNS = ("benchmark", "figure", "value", "baseline (same run)", "ratio")

# What `--quick` gives each script: extra arguments and environment (small sizes). Every
# script also sees BENCH_QUICK=1, which the smaller ones read themselves.
QUICK_ARGS: dict[str, list[str]] = {
    "live_fanout": ["--clients", "50", "--rounds", "3", "--quick", "--no-capacity"],
    "sms_outbox": ["--messages", "40", "--rate", "20"],
}
QUICK_ENV: dict[str, dict[str, str]] = {
    "reports": {"BENCH_CASES": "20000", "BENCH_DB_NAME": "hub_bench_reports_quick"},
    "explain": {"BENCH_CASES": "20000", "BENCH_DB_NAME": "hub_bench_reports_quick"},
}


@dataclass
class Outcome:
    name: str
    status: int
    seconds: float
    rows: list[dict[str, str]] = field(default_factory=list)


def name_of(script: Path) -> str:
    """`bench_reports.py` -> `reports`."""
    return script.stem.removeprefix("bench_")


def scripts_in(folder: Path, only: Sequence[str]) -> list[Path]:
    found = sorted(folder.glob("bench_*.py"))
    if not only:
        return found
    wanted = {o.removeprefix("bench_").removesuffix(".py") for o in only}
    unknown = wanted - {name_of(s) for s in found}
    if unknown:
        known = ", ".join(name_of(s) for s in found)
        raise SystemExit(f"error: no benchmark {', '.join(sorted(unknown))} (there are: {known})")
    return [s for s in found if name_of(s) in wanted]


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append({k: str(row.get(k, "")) for k in ("figure", "value", "baseline", "ratio")})
    return rows


def run_one(script: Path, *, quick: bool, scratch: Path) -> Outcome:
    """Run one script in its own process, its output passing through; collect its rows."""
    name = name_of(script)
    rows_file = scratch / f"{name}.jsonl"
    rows_file.write_text("", encoding="utf-8")
    env = dict(os.environ)
    env["BENCH_ROWS"] = str(rows_file)
    env["PYTHONUNBUFFERED"] = "1"
    args = [sys.executable, str(script)]
    if quick:
        env["BENCH_QUICK"] = "1"
        env.update(QUICK_ENV.get(name, {}))
        args += QUICK_ARGS.get(name, [])
    print(f"\n## {name}: {' '.join(args[1:])}\n", flush=True)
    t0 = time.perf_counter()
    status = subprocess.call(args, env=env, cwd=ROOT)  # noqa: S603
    return Outcome(name, status, time.perf_counter() - t0, read_rows(rows_file))


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def memory() -> str:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "memory unknown"
    return f"{pages / 2**30:.1f} GiB memory"


def shown(url: str) -> str:
    """A URL with its password, if any, hidden."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def header(now: datetime, *, quick: bool) -> str:
    database = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("DATABASE_URL") or ""
    database = (
        f"PostgreSQL {shown(database or DEFAULT_POSTGRES)} (scripts that need it; the others "
        "a temporary SQLite file unless DATABASE_URL is set)"
    )
    redis = shown(os.environ.get("BENCH_REDIS_SERVER") or os.environ.get("REDIS_URL") or "")
    return (
        f"Benchmarks of {now:%Y-%m-%d %H:%M %Z}".rstrip()
        + f" on {platform.node() or 'this machine'}: {os.cpu_count()} cores, {memory()}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"database: {database}; Redis: {redis or DEFAULT_REDIS}"
        + ("; QUICK sizes (a smoke run, not figures to compare)" if quick else "")
        + "."
    )


def render(outcomes: Sequence[Outcome], *, now: datetime, quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        header(now, quick=quick),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for o in outcomes:
        for row in o.rows:
            values = (o.name, row["figure"], row["value"], row["baseline"], row["ratio"])
            lines.append("| " + " | ".join(cell(v) for v in values) + " |")
        if o.status != 0:
            lines.append(
                f"| {o.name} | **FAILED** (exit status {o.status} after {o.seconds:.0f} s; "
                "its output above) | – | – | – |"
            )
        elif not o.rows:
            lines.append(f"| {o.name} | no figure recorded (skipped? see its output) | – | – | – |")
    failed = [o.name for o in outcomes if o.status != 0]
    total = sum(o.seconds for o in outcomes)
    lines += [
        "",
        f"{len(outcomes)} benchmark{'s' if len(outcomes) != 1 else ''} in {total:,.0f} s"
        + (f"; failed: {', '.join(failed)}." if failed else "; none failed."),
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run this benchmark only (e.g. reports, or bench_reports); repeatable",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a smoke run (figures mean little)"
    )
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help=argparse.SUPPRESS)
    parser.add_argument(
        "--table",
        type=Path,
        default=Path(os.environ.get("BENCH_TABLE") or DEFAULT_TABLE),
        help="where to write the table (default var/bench.md, or BENCH_TABLE)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scripts = scripts_in(args.bench_dir, args.only)
    now = datetime.now().astimezone()
    with tempfile.TemporaryDirectory(prefix="hub-bench-rows-") as scratch:
        outcomes = [run_one(s, quick=args.quick, scratch=Path(scratch)) for s in scripts]
    text = render(outcomes, now=now, quick=args.quick)
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"(written to {args.table})")
    return 1 if any(o.status != 0 for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
