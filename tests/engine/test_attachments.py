"""Attachments are what their content says, not their name: real files in a temporary folder."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tui.domain import AttachmentKind
from tui.services.attachments import MAX_ATTACHMENT, AttachmentError, read_attachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\0" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 40
GIF = b"GIF89a" + b"\0" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\0" * 40
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("a.png", PNG, "image/png"),
        ("b.jpg", JPEG, "image/jpeg"),
        ("c.gif", GIF, "image/gif"),
        ("d.webp", WEBP, "image/webp"),
        ("picture-without-extension", PNG, "image/png"),  # the content decides
        ("wrongly-named.gif", PNG, "image/png"),
    ],
)
def test_images_are_recognised_by_their_bytes(
    tmp_path: Path, name: str, data: bytes, mime: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    attachment = read_attachment(str(path))
    assert (attachment.kind, attachment.mime_type, attachment.data) == (
        AttachmentKind.IMAGE,
        mime,
        data,
    )


def test_a_pdf_and_text_documents_are_attached_as_files(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(PDF)
    (tmp_path / "notes.md").write_text("# Notes\n\nCafé ☕\n", encoding="utf-8")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    pdf = read_attachment(str(tmp_path / "report.pdf"))
    assert (pdf.kind, pdf.mime_type) == (AttachmentKind.FILE, "application/pdf")
    notes = read_attachment(str(tmp_path / "notes.md"))
    assert (notes.kind, notes.mime_type) == (AttachmentKind.FILE, "text/markdown")
    assert read_attachment(str(tmp_path / "data.csv")).mime_type == "text/csv"


def test_an_executable_named_like_an_image_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.png"
    shutil.copyfile(sys.executable, fake)  # a real ELF (or Mach-O) binary
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(fake))
    message = str(caught.value)
    assert "holiday.png" in message and "its name says image/png, but it is not" in message
    assert "PNG, JPEG, GIF and WebP images, PDF and text documents" in message
    if sys.platform.startswith("linux"):
        assert "ELF" in message


def test_text_or_random_bytes_named_png_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "diagram.png"
    text.write_text("not an image at all\n")
    with pytest.raises(AttachmentError, match="it looks like text"):
        read_attachment(str(text))
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(AttachmentError, match="binary data"):
        read_attachment(str(noise))


def test_only_the_size_limit_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as file:
        file.write(PNG)
        file.truncate(MAX_ATTACHMENT + 1)  # sparse: no 20 MB written
    with pytest.raises(AttachmentError, match="larger than 20 MB"):
        read_attachment(str(big))


def test_a_pipe_a_folder_and_an_empty_file_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.png"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    with pytest.raises(AttachmentError, match="not a regular file"):
        read_attachment(str(fifo))
    with pytest.raises(AttachmentError, match="it is a folder"):
        read_attachment(str(tmp_path))
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(AttachmentError, match="empty"):
        read_attachment(str(tmp_path / "empty.pdf"))


def test_a_hostile_file_name_is_shown_inert(tmp_path: Path) -> None:
    name = "evil\x1b]0;PWN\x07.png"
    (tmp_path / name).write_text("text")
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path / name))
    assert "\x1b" not in str(caught.value) and "␛]0;PWN␇" in str(caught.value)
