"""Load source files into :class:`Document` records.

One reader per file suffix (see :data:`READERS`); each returns the extracted text
(and, for paged formats, page start offsets). All text is normalised to Unicode NFC
so offsets are stable whatever form the file was saved in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError, UnreadableFileError
from .types import Document


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a reader returns: the text and optional page start offsets."""

    text: str
    pages: tuple[tuple[int, int], ...] = ()


Reader = Callable[[Path], Extracted]


def normalize(text: str) -> str:
    """NFC-normalise and unify line endings; offsets are defined on this form."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def read_text_file(path: Path) -> Extracted:
    """Plain text / Markdown: strict UTF-8 (a BOM is dropped)."""
    data = _read_bytes(path)
    if b"\x00" in data[:8192]:
        raise UnreadableFileError(
            f"{path}: looks like a binary file, not text; remove it or convert it"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            f"{path}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8 or remove it"
        ) from None
    return Extracted(normalize(text))


READERS: dict[str, Reader] = {".txt": read_text_file, ".md": read_text_file}
"""Suffix -> reader. Add HTML/PDF/DOCX readers here; the rest of the flow is unchanged."""


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


_DATELINE = re.compile(r"^\s*(?P<place>[^\W\d_a-zà-ỹ][^\n—–:]{0,60}?)\s*[—–]\s+", re.UNICODE)
_BYLINE = re.compile(r"[—–]\s*(?P<byline>[A-Z][A-Za-z/&.\- ]{1,40})\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘(])")


def _dateline(text: str) -> str:
    m = _DATELINE.match(text)
    if m and m.group("place").upper() == m.group("place"):
        return m.group("place").strip()
    return ""


def derive_metadata(text: str, fallback_title: str) -> tuple[str, str, str]:
    """(title, dateline, byline) from an article's text.

    The title is the first sentence without its dateline ("LẠNG SƠN — "), cut at a
    word boundary to at most 120 characters; news files have no separate title line.
    """
    dateline = _dateline(text)
    body = _DATELINE.sub("", text, count=1) if dateline else text
    first_line = body.strip().split("\n", 1)[0].strip()
    # A Markdown heading or a short first line is a real title.
    heading = first_line.lstrip("#").strip()
    if first_line.startswith("#") or (0 < len(heading) <= 100 and not heading.endswith(".")):
        title = heading
    else:
        title = _SENTENCE_END.split(first_line, maxsplit=1)[0]
    if len(title) > 120:
        title = title[:120].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    m = _BYLINE.search(text.rstrip())
    byline = m.group("byline").strip() if m else ""
    return (title or fallback_title), dateline, byline


def content_id(text: str) -> str:
    """Stable document id: a hash of the normalised text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_document(path: Path, root: Path) -> Document:
    """Read one file with the reader for its suffix."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableFileError(
            f"{path}: unsupported file type {path.suffix!r} (supported: {', '.join(supported_suffixes())})"
        )
    extracted = reader(path)
    if not extracted.text.strip():
        raise UnreadableFileError(f"{path}: the file has no text")
    title, dateline, byline = derive_metadata(extracted.text, path.stem)
    return Document(
        doc_id=content_id(extracted.text),
        source=relative_source(path, root),
        title=title,
        text=extracted.text,
        dateline=dateline,
        byline=byline,
        pages=extracted.pages,
    )


def relative_source(path: Path, root: Path) -> str:
    """Path shown to users: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The files of a corpus folder that a reader handles, sorted, hidden files skipped."""
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist; create it or set RAG_CORPUS_DIR"
        )
    files = [
        p
        for p in sorted(corpus_dir.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    ]
    return files


def load_corpus(
    corpus_dir: Path | Sequence[Path],
    root: Path,
    *,
    skip_errors: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[Document]:
    """Load every supported file under ``corpus_dir`` (one folder or several).

    A file that cannot be read raises :class:`UnreadableFileError` naming it, unless
    ``skip_errors`` is set, in which case it is reported through ``warn`` and skipped.
    Files with unsupported suffixes are always skipped (reported through ``warn``).
    """
    dirs = [corpus_dir] if isinstance(corpus_dir, Path) else list(corpus_dir)
    docs: list[Document] = []
    for path in (p for d in dirs for p in corpus_files(d)):
        if path.suffix.lower() not in READERS:
            if warn:
                warn(f"skipped {path.name}: unsupported type {path.suffix or '(none)'}")
            continue
        try:
            docs.append(load_document(path, root))
        except UnreadableFileError as exc:
            if not skip_errors:
                raise
            if warn:
                warn(f"skipped: {exc}")
    if not docs:
        raise CorpusError(
            f"no readable documents ({', '.join(supported_suffixes())}) in "
            f"{', '.join(str(d) for d in dirs)}; "
            "add some files or set RAG_CORPUS_DIR"
        )
    return _dedupe(docs, warn)


def _dedupe(docs: Iterable[Document], warn: Callable[[str], None] | None) -> list[Document]:
    seen: dict[str, Document] = {}
    for d in docs:
        if d.doc_id in seen:
            if warn:
                warn(f"skipped {d.source}: same text as {seen[d.doc_id].source}")
            continue
        seen[d.doc_id] = d
    return list(seen.values())
