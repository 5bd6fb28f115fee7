"""What every CSV importer shares: the header check, the row checks, the refusal list and
the progress bar.

One set of rules for every file a person hands the hub (indicator readings, historical
cases): the file is UTF-8 (a GBK file from Excel is named as such), its header names each
column once, every row has as many cells as the header, no cell is huge, and each refused
row is listed as `line N: field: message`, the first `MAX_LISTED` of them one by one and the
rest counted. Plain Python apart from the progress bar's stream.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

MAX_LISTED = 200  # refused rows listed one by one; the rest are counted
BAR = 30


@dataclass
class RowRefusals:
    """The rows read and refused so far, and why a whole file was refused (`file_error`)."""

    rows: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    file_error: str = ""

    def refuse(self, line: int, name: str, message: str) -> None:
        self.refused += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(f"line {line}: {name}: {message}")

    def file_failed(self, exc: UnicodeDecodeError | csv.Error) -> None:
        """Record why the file cannot be read on (an encoding or CSV fault)."""
        if isinstance(exc, UnicodeDecodeError):
            self.file_error = (
                f"The file is not UTF-8 text (near row {self.rows + 1}: {exc.reason}); "
                "save it as UTF-8 (files from Excel in China are often GBK)."
            )
        else:
            self.file_error = f"The file is not valid CSV (row {self.rows + 1}): {exc}"


def header_error(header: Sequence[str], required: Sequence[str], optional: Sequence[str]) -> str:
    """Why a (stripped) header is refused, or "" when it is right."""
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        return f"The header names a column twice: {', '.join(twice)}."
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in (*required, *optional)]
    if not missing and not unknown:
        return ""
    parts = []
    if missing:
        parts.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        parts.append(f"unknown columns: {', '.join(unknown)}")
    return "The header is wrong (" + "; ".join(parts) + ")."


def csv_rows(
    lines: Iterable[str],
    report: RowRefusals,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """The rows of CSV text (opened with `newline=""`) with their line numbers.

    A wrong or missing header sets `report.file_error` and yields nothing. Decoding and CSV
    errors propagate to the caller, which calls `report.file_failed`.
    """
    reader = csv.DictReader(lines)
    if reader.fieldnames is None:
        report.file_error = "The file is empty: it has no header line."
        return
    header = [h.strip() for h in reader.fieldnames]
    report.file_error = header_error(header, required, optional)
    if report.file_error:
        return
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, row


def row_cells(
    line: int, row: dict[str, str | None], report: RowRefusals, *, max_cell: int
) -> dict[str, str] | None:
    """The row's cells by column, or None (refused) when the row is ragged or a cell huge."""
    if None in row or any(v is None for v in row.values()):
        report.refuse(line, "row", "has a different number of cells than the header")
        return None
    cells = {k: (v or "") for k, v in row.items() if k is not None}
    long = next((k for k, v in cells.items() if len(v) > max_cell), None)
    if long is not None:
        report.refuse(line, long, f"is longer than {max_cell} characters")
        return None
    return cells


def data_lines(path: Path) -> int:
    """The lines of a file after its header (for a progress bar's total); `OSError`."""
    with path.open("rb") as raw:
        return max(0, sum(1 for _ in raw) - 1)


class Writable(Protocol):
    def write(self, msg: str, style_func: None = None, ending: str | None = None) -> None: ...

    def flush(self) -> None: ...


class ProgressBar:
    """`[#####.....]  50% 5,000/10,000 rows, 2,345/s` to a command's stderr.

    On a terminal the line is redrawn in place; otherwise (a log, a test) each call writes a
    line of its own.
    """

    def __init__(self, stream: Writable, total: int, *, interactive: bool, label: str = "") -> None:
        self.stream = stream
        self.total = total
        self.interactive = interactive
        self.label = label
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int) -> None:
        share = done / self.total if self.total else 1.0
        filled = int(BAR * min(share, 1.0))
        rate = done / max(time.monotonic() - self.started, 1e-6)
        line = (
            f"{self.label + ' ' if self.label else ''}"
            f"[{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%} "
            f"{done:,}/{self.total:,} rows, {rate:,.0f}/s"
        )
        self.stream.write(
            ("\r" if self.interactive else "") + line, ending="" if self.interactive else "\n"
        )
        self.stream.flush()
        self.drawn = True

    def end(self) -> None:
        """End a bar drawn in place, so that what follows starts on a line of its own."""
        if self.interactive and self.drawn:
            self.stream.write("")
            self.drawn = False
