"""Reading an image or a document from disk to attach it to the next message."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from tui.domain import Attachment, AttachmentKind

MAX_ATTACHMENT = 20 * 1024 * 1024
"""Providers refuse larger inline files; better to say so before sending anything."""


class AttachmentError(ValueError):
    """A file that cannot be attached; the message says which and why."""


def read_attachment(path_text: str) -> Attachment:
    """An image or document from disk, checked before anything is sent."""
    path = Path(path_text).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AttachmentError(f"cannot attach {path_text}: no such file") from None
    except IsADirectoryError:
        raise AttachmentError(f"cannot attach {path_text}: it is a folder") from None
    except OSError as exc:
        raise AttachmentError(f"cannot attach {path_text}: {exc.strerror}") from None
    if len(data) > MAX_ATTACHMENT:
        raise AttachmentError(f"cannot attach {path_text}: larger than 20 MB")
    if not data:
        raise AttachmentError(f"cannot attach {path_text}: the file is empty")
    mime, _ = mimetypes.guess_type(path.name)
    mime = mime or "application/octet-stream"
    kind = AttachmentKind.IMAGE if mime.startswith("image/") else AttachmentKind.FILE
    return Attachment(kind=kind, name=path.name, mime_type=mime, data=data)
