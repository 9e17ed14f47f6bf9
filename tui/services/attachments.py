"""Reading an image or a document from disk to attach it to the next message.

What a file is comes from its content, never its name: a binary renamed ``photo.png`` is not
sent. Images (PNG, JPEG, GIF, WebP) and PDF documents are recognised by their first bytes
(``puremagic``); a text document (Markdown, CSV, JSON, code, ...) is one that is valid UTF-8
with no NUL byte. Everything else is refused, naming what the file looks like. At most
``MAX_ATTACHMENT`` bytes (and one more, to tell) are read.
"""

from __future__ import annotations

import mimetypes
import stat
from pathlib import Path

from tui.domain import Attachment, AttachmentKind
from tui.safe_text import inert

MAX_ATTACHMENT = 20 * 1024 * 1024
"""Providers refuse larger inline files; better to say so before sending anything."""

IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
}
"""The image formats the providers take, by MIME type."""
DOCUMENT_TYPES = {"application/pdf": "PDF"}
ACCEPTED = "PNG, JPEG, GIF and WebP images, PDF and text documents"
SNIFF_BYTES = 8192
"""How much of the start of a file identifies it."""
_TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".txt": "text/plain",
}


class AttachmentError(ValueError):
    """A file that cannot be attached; the message says which and why."""


def read_attachment(path_text: str) -> Attachment:
    """An image or document from disk, checked before anything is sent."""
    path = Path(path_text).expanduser()
    shown = inert(path_text)
    data = _read_at_most(path, shown)
    if not data:
        raise AttachmentError(f"cannot attach {shown}: the file is empty")
    mime = sniff(data)
    name = path.name  # shown inert wherever it is drawn
    if mime in IMAGE_TYPES:
        return Attachment(kind=AttachmentKind.IMAGE, name=name, mime_type=mime, data=data)
    if mime in DOCUMENT_TYPES:
        return Attachment(kind=AttachmentKind.FILE, name=name, mime_type=mime, data=data)
    claimed, _ = mimetypes.guess_type(path.name)
    text = mime is None and _is_text(data)
    if text and not _names_a_binary_type(claimed):
        text_type = _TEXT_TYPES.get(path.suffix.lower(), "text/plain")
        return Attachment(kind=AttachmentKind.FILE, name=name, mime_type=text_type, data=data)
    looks = "text" if text else describe(data)
    said = f" (its name says {claimed}, but it is not)" if claimed else ""
    raise AttachmentError(
        f"cannot attach {shown}: it looks like {looks}{said}; tui-chat attaches {ACCEPTED}"
    )


def _read_at_most(path: Path, shown: str) -> bytes:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise AttachmentError(f"cannot attach {shown}: it is a folder")
        if not stat.S_ISREG(info.st_mode):  # a pipe or a device would never end
            raise AttachmentError(f"cannot attach {shown}: it is not a regular file")
        if info.st_size > MAX_ATTACHMENT:
            raise AttachmentError(f"cannot attach {shown}: larger than 20 MB")
        with path.open("rb") as file:
            data = file.read(MAX_ATTACHMENT + 1)  # the file may have grown since
    except FileNotFoundError:
        raise AttachmentError(f"cannot attach {shown}: no such file") from None
    except OSError as exc:
        raise AttachmentError(f"cannot attach {shown}: {exc.strerror}") from None
    if len(data) > MAX_ATTACHMENT:
        raise AttachmentError(f"cannot attach {shown}: larger than 20 MB")
    return data


def sniff(data: bytes) -> str | None:
    """The MIME type of an accepted image or document ``data`` starts with, else None."""
    import puremagic

    try:
        matches = puremagic.magic_string(data[:SNIFF_BYTES])
    except (puremagic.PureError, ValueError):
        return None
    for match in matches:
        if match.mime_type in IMAGE_TYPES or match.mime_type in DOCUMENT_TYPES:
            return str(match.mime_type)
    return None


def describe(data: bytes) -> str:
    """What ``data`` looks like, in a few words ("an ELF executable", "binary data")."""
    import puremagic

    try:
        matches = puremagic.magic_string(data[:SNIFF_BYTES])
    except (puremagic.PureError, ValueError):
        matches = []
    if matches and matches[0].name:
        name = inert(str(matches[0].name))
        return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"
    return "binary data"


def _names_a_binary_type(claimed: str | None) -> bool:
    """Whether a file name's type promises something that is not text (``photo.png``)."""
    if claimed is None:
        return False
    binary = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
    return claimed.startswith(binary) or "officedocument" in claimed or "msword" in claimed


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
