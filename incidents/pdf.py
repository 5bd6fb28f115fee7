"""PDF documents of the hub (fpdf2): the after-action report of an incident.

Chinese needs a CJK font, which the hub does not ship: `settings.REPORT_FONT` names one
(`path`, or `path#index` for a member of a .ttc collection), else the first of the usual
system fonts that exists. Without one, `FontMissing` is raised and the caller answers 503:
a PDF of empty boxes would be worse than none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace

# Tried in order when REPORT_FONT is not set: (path, family wanted in a collection).
SYSTEM_FONTS: tuple[tuple[str, str | None], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", None),
)
FONT_FAMILY = "cjk"
# fontTools logs every glyph it keeps at INFO when fpdf2 subsets the font.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


class FontMissing(Exception):
    """No CJK font to write the PDF with (the message says where it was looked for)."""


@dataclass(frozen=True)
class FontChoice:
    path: str
    index: int


@functools.cache
def collection_index(path: str, family: str | None) -> int:
    """The member of the font collection at `path` whose family is `family` (else one whose
    family ends in " SC", simplified Chinese, else the first); 0 for a single font file."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection  # type: ignore[import-untyped]

    collection = TTCollection(path, lazy=True)
    try:
        names = [
            {font["name"].getDebugName(1) or "", font["name"].getDebugName(16) or ""}
            for font in collection.fonts
        ]
    finally:
        collection.close()
    for wanted in (family, None):
        for index, found in enumerate(names):
            if wanted is not None and wanted in found:
                return index
            if wanted is None and any(n.endswith(" SC") for n in found):
                return index
    return 0


def report_font() -> FontChoice:
    """The CJK font the PDF is written in; `FontMissing` when there is none.

    A REPORT_FONT that names a missing file is an error, never a reason to fall back.
    """
    configured: str = getattr(settings, "REPORT_FONT", "") or ""
    if configured:
        path, _sep, index = configured.partition("#")
        if not Path(path).is_file():
            raise FontMissing(f"REPORT_FONT names {path}, which does not exist.")
        if index:
            try:
                return FontChoice(path, int(index))
            except ValueError:
                raise FontMissing(f"REPORT_FONT: {index!r} is not a collection index.") from None
        return FontChoice(path, collection_index(path, None))
    for path, family in SYSTEM_FONTS:
        if Path(path).is_file():
            return FontChoice(path, collection_index(path, family))
    raise FontMissing(
        "No CJK font found; set REPORT_FONT or install fonts-noto-cjk. Looked in: "
        + ", ".join(p for p, _f in SYSTEM_FONTS)
    )


@dataclass(frozen=True)
class Section:
    """One part of a report: a heading, then a table (or text when there are no columns)."""

    title: str
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    widths: Sequence[int] = ()
    text: str = ""
    empty: str = ""


class _ReportPDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT_FAMILY, size=8)
        self.cell(0, 6, f"{self.footer_text}  {self.page_no()}/{{nb}}", align="C")


def render_report(
    *,
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    footer: str = "",
    font: FontChoice | None = None,
    metadata: dict[str, Any] | None = None,
) -> bytes:
    """The report as PDF bytes (A4 portrait); `FontMissing` when there is no CJK font."""
    font = font or report_font()
    pdf = _ReportPDF(orientation="portrait", unit="mm", format="A4")
    pdf.footer_text = footer
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(14, 14, 14)
    pdf.add_font(FONT_FAMILY, fname=font.path, collection_font_number=font.index)
    pdf.set_title(title)
    for key, value in (metadata or {}).items():
        if key == "author":
            pdf.set_author(str(value))
        elif key == "subject":
            pdf.set_subject(str(value))
    pdf.set_creator("wage-arrears joint command hub")
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=16)
    pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.multi_cell(0, 5, subtitle, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in sections:
        _section(pdf, section)
    return bytes(pdf.output())


def _section(pdf: FPDF, section: Section) -> None:
    pdf.ln(4)
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.set_text_color(20, 60, 120)
    pdf.multi_cell(0, 7, section.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT_FAMILY, size=8.5)
    if not section.columns:
        pdf.multi_cell(
            0, 5, section.text or section.empty or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        return
    if not section.rows:
        pdf.multi_cell(0, 5, section.empty or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    with pdf.table(
        col_widths=tuple(section.widths) if section.widths else None,
        text_align="LEFT",
        line_height=4.6,
        padding=1,
        cell_fill_color=(240, 243, 248),
        cell_fill_mode=TableCellFillMode.ROWS,
        headings_style=FontFace(emphasis="", fill_color=(214, 224, 240)),
        first_row_as_headings=True,
    ) as table:
        for row_values in (section.columns, *section.rows):
            row = table.row()
            for value in row_values:
                row.cell(value if value else "—")
