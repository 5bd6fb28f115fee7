"""Evidence files attached to checklist steps: what is accepted.

Files are stored under MEDIA_ROOT but never served from it: the room serves each one
through a view that checks the reader may see the incident.
"""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from incidents.errors import Invalid

# The formats field officers send (photographs, scans, office documents), recognised by
# their first bytes as well as their name, so a renamed program is refused.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
}
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _error(message: str) -> Invalid:
    return Invalid(message, [{"field": "attachment", "message": message}])


def attachment_check(upload: UploadedFile) -> None:
    """`Invalid` unless `upload` is a PDF, image or office file within the size limit."""
    limit = settings.CHECKLIST_ATTACHMENT_MAX_BYTES
    if upload.size is None or upload.size == 0:
        raise _error(_("The file is empty."))
    if upload.size > limit:
        raise _error(_("The file is too large (limit %(mb)d MB).") % {"mb": limit // (1024 * 1024)})
    suffix = PurePath(upload.name or "").suffix.lower()
    if suffix not in SIGNATURES:
        raise _error(_("Attach a PDF, JPEG, PNG, DOCX or XLSX file."))
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not any(head.startswith(sig) for sig in SIGNATURES[suffix]):
        raise _error(_("The file's content does not match its name."))


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")
