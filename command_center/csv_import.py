"""What every CSV importer shares: the encoding, the header check, the row checks, the
refusal list and the progress bar.

One set of rules for every file a person hands the hub (indicator readings, historical
cases, duty rosters): the file is UTF-8 (with or without a BOM) or GB18030/GBK, the encoding
Excel in China saves by default, told apart by reading the whole file first (a file that is
neither, or that mixes the two, is refused by name: nothing is stored as mojibake); no line
is huge (read in bounded pieces, so a 10 MB cell is refused before it is held in memory);
its header names each column once, every row has as many cells as the header, no cell is
huge, and each refused row is listed as `line N: field: message`, the first `MAX_LISTED` of
them one by one and the rest counted. Cells are stored as the text they are: a cell such as
`=HYPERLINK(...)` is only ever a formula again if an export wrote it raw, and exports
neutralise it (`command_center.exports.cell_safe`). Plain Python apart from the progress
bar's stream.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

MAX_LISTED = 200  # refused rows listed one by one; the rest are counted
BAR = 30
# No line of a CSV file the hub reads is longer (a cell that spans lines is bounded by the
# csv module's own field limit, 131,072 characters).
MAX_LINE_CHARS = 100_000
CHUNK_BYTES = 1 << 20
UTF8 = "utf-8-sig"
GB18030 = "gb18030"
# Chinese text decoded as UTF-8: a GBK file fails UTF-8 before any such run almost always.
CJK = re.compile(r"[\u4e00-\u9fff]")


class EncodingRefused(UnicodeDecodeError):
    """The file is neither UTF-8 nor GB18030 text, or mixes them; `str()` says which.

    A `UnicodeDecodeError`, so that importers that catch decoding errors catch it too."""

    def __init__(self, message: str) -> None:
        super().__init__("utf-8", b"", 0, 0, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _chunks(raw: BinaryIO) -> Iterator[bytes]:
    while chunk := raw.read(CHUNK_BYTES):
        yield chunk


def _decodes(chunks: Iterable[bytes], encoding: str) -> tuple[bool, int, bool]:
    """Whether the bytes decode whole; the line of the first fault; whether Chinese text
    was decoded before it."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    chinese = False
    for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            good = chunk[: exc.start]
            return (
                False,
                line + good.count(b"\n"),
                chinese or bool(CJK.search(good.decode(encoding, "ignore"))),
            )
        line += chunk.count(b"\n")
        chinese = chinese or bool(CJK.search(text))
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False, line, chinese
    return True, line, chinese


def detect_encoding(read: Callable[[], Iterable[bytes]]) -> str:
    """`utf-8-sig` or `gb18030` for the bytes `read()` gives (called once per encoding
    tried), or `EncodingRefused` naming why neither fits."""
    utf8, line, chinese = _decodes(read(), UTF8)
    if utf8:
        return UTF8
    if chinese:
        raise EncodingRefused(
            f"The file mixes encodings: UTF-8 Chinese text before line {line}, then bytes "
            "that are not UTF-8. Save the whole file again as UTF-8."
        )
    gb, gb_line, _chinese = _decodes(read(), GB18030)
    if gb:
        return GB18030
    raise EncodingRefused(
        f"The file is neither UTF-8 nor GBK/GB18030 text (not UTF-8 at line {line}, not "
        f"GB18030 at line {gb_line}). Save it as UTF-8 (Excel: CSV UTF-8)."
    )


def decode_csv(data: bytes) -> str:
    """The text of a whole CSV file's bytes (UTF-8, BOM dropped, or GB18030);
    `EncodingRefused` otherwise."""
    encoding = detect_encoding(lambda: [data])
    return data.decode(encoding)


@contextlib.contextmanager
def open_csv(path: Path) -> Iterator[Iterator[str]]:
    """The lines of a CSV file, decoded as `detect_encoding` finds (`OSError` on opening).

    The encoding is found on the first line asked for, so that `EncodingRefused` reaches the
    importer's loop with every other decoding error; lines longer than `MAX_LINE_CHARS`
    raise `csv.Error` before they are read whole."""
    with path.open("rb") as raw:
        lines = _file_lines(raw)
        try:
            yield lines
        finally:
            lines.close()  # before `raw` closes: the wrapper lets go of it


def _file_lines(raw: BinaryIO) -> Generator[str, None, None]:
    def read() -> Iterable[bytes]:
        raw.seek(0)
        return _chunks(raw)

    encoding = detect_encoding(read)
    raw.seek(0)
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    try:
        while line := text.readline(MAX_LINE_CHARS + 1):
            yield line
    finally:
        text.detach()


def bounded_lines(lines: Iterable[str]) -> Iterator[str]:
    """`lines`, or `csv.Error` at the first one longer than `MAX_LINE_CHARS`."""
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise csv.Error(f"line {number} is longer than {MAX_LINE_CHARS:,} characters")
        yield line


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
        if isinstance(exc, EncodingRefused):
            self.file_error = exc.message
        elif isinstance(exc, UnicodeDecodeError):
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
    reader = csv.DictReader(bounded_lines(lines))
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
