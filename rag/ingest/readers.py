"""Load source files into :class:`Document` records.

One reader per file suffix (see :data:`READERS`); each returns the extracted text
(and, for paged formats, page start offsets). All text is normalised to Unicode NFC
so offsets are stable whatever form the file was saved in.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

from rag.errors import CorpusError, UnreadableFileError
from rag.ingest.dates import (
    document_date,
    front_matter,
    front_matter_field,
    html_date,
    pdf_date,
)
from rag.types import Document


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a reader returns: the text, optional page start offsets, and the date the
    format's metadata gives (ISO, "" when it has none)."""

    text: str
    pages: tuple[tuple[int, int], ...] = ()
    date: str = ""


Reader = Callable[[Path], Extracted]


def normalize(text: str) -> str:
    """NFC-normalise and unify line endings; offsets are defined on this form."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _wide_text(data: bytes) -> str | None:
    """``data`` decoded as UTF-16/UTF-32 when it is that (a BOM, or BOM-less UTF-16 whose
    every other byte is NUL, as Windows "Unicode" files are); None otherwise.

    Text in these encodings is full of NUL bytes, which would otherwise make it look
    binary. Decoding is strict, the result must hold no NUL character, and at least a
    fifth of it must be ASCII/Latin-1 (spaces, digits, newlines, punctuation): random
    bytes that happen to start with "\\xff\\xfe" are not taken for text.
    """
    codec = next((c for bom, c in _BOMS if data.startswith(bom)), None)
    if codec is None and len(data) >= 2 and len(data) % 2 == 0:
        head = data[:8192]
        even, odd = head[0::2], head[1::2]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            codec = "utf-16-le"
        elif even.count(0) >= 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            codec = "utf-16-be"
    if codec is None:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    if "\x00" in text or sum(ord(c) < 0x100 for c in text) < 0.2 * len(text):
        return None
    return text


def read_text_file(path: Path) -> Extracted:
    """Plain text / Markdown: strict UTF-8 (a BOM is dropped), or UTF-16/UTF-32."""
    data = _read_bytes(path)
    wide = _wide_text(data)
    if wide is not None:
        return Extracted(normalize(wide))
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


class _MainTextParser(HTMLParser):
    """Collect the main text of an HTML page as paragraphs (see :func:`read_html`)."""

    # Dropped with everything inside them (<head> holds only these, so it needs no entry).
    SKIP = frozenset(
        {"script", "style", "title", "nav", "header", "footer", "aside", "form", "noscript"}
        | {"template", "svg", "iframe", "object", "button", "select"}
    )
    # Each of these starts and ends a paragraph.
    BLOCK = frozenset(
        {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd"}
        | {"table", "thead", "tbody", "tr", "blockquote", "pre", "section", "article", "main"}
        | {"figure", "figcaption", "hr", "address", "details", "summary", "body", "html"}
    )
    MAIN = frozenset({"main", "article"})
    VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0  # depth inside dropped elements
        self.pre = 0  # depth inside <pre>
        self.main = 0  # depth inside <main>/<article>
        self.all: list[list[str]] = [[]]  # paragraphs of the whole page
        self.main_paras: list[list[str]] = [[]]  # paragraphs inside <main>/<article>

    def _break(self) -> None:
        for paras in (self.all, self.main_paras):
            if paras[-1]:
                paras.append([])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._data("\n")
        elif tag in ("td", "th"):
            self._data(" ")
        elif tag in self.BLOCK:
            self._break()
        if tag == "pre":
            self.pre += 1
        if tag in self.MAIN:
            self.main += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.SKIP:
            self.handle_starttag(tag, attrs)
            if tag not in self.VOID:
                self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag in self.BLOCK:
            self._break()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in self.MAIN:
            self.main = max(0, self.main - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._data(data if self.pre else re.sub(r"\s+", " ", data))

    def _data(self, text: str) -> None:
        self.all[-1].append(text)
        if self.main:
            self.main_paras[-1].append(text)

    def text(self) -> str:
        paras = self.main_paras if any(p for p in self.main_paras) else self.all
        out = []
        for parts in paras:
            lines = [" ".join(line.split()) for line in "".join(parts).split("\n")]
            para = "\n".join(line for line in lines if line)
            if para:
                out.append(para)
        return "\n\n".join(out)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:]+)""", re.I)


def read_html(path: Path) -> Extracted:
    """HTML: the main text only (no scripts, styles, navigation, headers, footers or forms).

    Block elements (paragraphs, headings, list items, ...) become paragraph breaks
    ("\\n\\n"), ``<br>`` a line break; character references are unescaped. When the
    page has ``<main>`` or ``<article>`` elements, only their text is kept.
    """
    data = _read_bytes(path)
    wide = _wide_text(data)
    if wide is None and b"\x00" in data[:8192]:
        raise UnreadableFileError(f"{path}: looks like a binary file, not HTML")
    try:
        markup = wide if wide is not None else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        m = _META_CHARSET.search(data[:4096])
        try:
            markup = data.decode(m.group(1).decode("ascii")) if m else ""
        except (LookupError, UnicodeDecodeError):
            markup = ""
        if not markup:
            raise UnreadableFileError(
                f"{path}: not valid UTF-8 and no usable <meta charset>; re-save it as UTF-8"
            ) from None
    parser = _MainTextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception as exc:  # html.parser is lenient; this is a safety net
        raise UnreadableFileError(f"{path}: cannot parse the HTML ({exc})") from None
    return Extracted(normalize(parser.text()), date=html_date(markup))


PDF_MAX_PAGE_CONTENT_BYTES = 2_000_000
"""Most drawing instructions one PDF page may hold once decompressed (a dense text page
holds ~50-200 kB). Text extraction costs ~2.5 s per MB, so a 7 kB file whose
FlateDecode stream inflates to megabytes of text operators would tie up a worker."""
PDF_MAX_CONTENT_BYTES = 16_000_000
"""Most decompressed page content in one PDF (~1,000 pages of ordinary text)."""
_PDF_LIMITS = {  # pypdf's own per-stream limits, tightened to match
    "zlib_maximum_output_length": 4 * PDF_MAX_PAGE_CONTENT_BYTES,
    "lzw_maximum_output_length": 4 * PDF_MAX_PAGE_CONTENT_BYTES,
    "run_length_maximum_output_length": 4 * PDF_MAX_PAGE_CONTENT_BYTES,
    "brotli_maximum_output_length": 4 * PDF_MAX_PAGE_CONTENT_BYTES,
    "stream_parsing_work_maximum_count": 500_000,
    "xform_maximum_invocations_per_extraction": 500,
}


def _pdf_limits() -> contextlib.AbstractContextManager[object]:
    """pypdf's resource limits for one read (a context variable: other threads unaffected)."""
    try:
        from pypdf import Configuration, apply_configuration
    except ImportError:  # pypdf < 7: its default limits (75 MB per stream) still apply
        return contextlib.nullcontext()
    known = {k: v for k, v in _PDF_LIMITS.items() if hasattr(Configuration, k)}
    return apply_configuration(**known)


def _check_pdf_size(path: Path, reader: object) -> None:
    """Refuse a PDF whose pages inflate to more content than any real text document holds."""
    total = 0
    for number, page in enumerate(reader.pages, start=1):  # type: ignore[attr-defined]
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        total += size
        if size > PDF_MAX_PAGE_CONTENT_BYTES or total > PDF_MAX_CONTENT_BYTES:
            what = f"page {number} holds" if size > PDF_MAX_PAGE_CONTENT_BYTES else "the pages hold"
            limit = (
                PDF_MAX_PAGE_CONTENT_BYTES
                if size > PDF_MAX_PAGE_CONTENT_BYTES
                else PDF_MAX_CONTENT_BYTES
            )
            raise UnreadableFileError(
                f"{path}: {what} over {limit / 1e6:g} MB of drawing instructions once "
                "decompressed (a decompression bomb, or not a text document); "
                "split the PDF or save it as text"
            )


def _decrypt_pdf(path: Path, reader: object) -> None:
    """Open an encrypted PDF that anyone may read (an empty user password: only editing
    or printing is restricted); refuse one that needs a password, saying so."""
    if not reader.is_encrypted:  # type: ignore[attr-defined]
        return
    from pypdf.errors import DependencyError

    try:
        opened = reader.decrypt("")  # type: ignore[attr-defined]
    except DependencyError:
        raise UnreadableFileError(
            f"{path}: the PDF is encrypted with AES, which needs the `cryptography` package "
            "on the server; save it without encryption"
        ) from None
    if not opened:
        raise UnreadableFileError(
            f"{path}: the PDF needs a password to open; save a copy without a password"
        )


def read_pdf(path: Path) -> Extracted:
    """PDF (text layer, via pypdf): pages joined by a blank line, page start offsets kept.

    ``Extracted.pages`` holds ``(page_number, start_offset)`` for every page with text
    (page numbers start at 1); scanned pages without a text layer contribute nothing.
    Decompression is bounded (:data:`PDF_MAX_PAGE_CONTENT_BYTES`,
    :data:`PDF_MAX_CONTENT_BYTES`): a "zip bomb" PDF is refused, not inflated.
    """
    import logging

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    data = _read_bytes(path)
    if not data.startswith(b"%PDF"):
        raise UnreadableFileError(f"{path}: not a PDF file (no %PDF header)")
    try:
        with _pdf_limits():
            reader = PdfReader(BytesIO(data))
            _decrypt_pdf(path, reader)
            _check_pdf_size(path, reader)
            texts = [page.extract_text() or "" for page in reader.pages]
            created = pdf_date((reader.metadata or {}).get("/CreationDate"))
    except UnreadableFileError:
        raise
    except LimitReachedError:
        raise UnreadableFileError(
            f"{path}: a stream in the PDF decompresses to more than "
            f"{_PDF_LIMITS['zlib_maximum_output_length'] / 1e6:g} MB (a decompression bomb?); "
            "not indexed"
        ) from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise UnreadableFileError(f"{path}: cannot read the PDF ({exc})") from None
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, raw in enumerate(texts, start=1):
        text = "\n".join(line.rstrip() for line in normalize(raw).strip().split("\n"))
        if not text:
            continue
        if parts:
            offset += 2  # the "\n\n" joining pages
        pages.append((number, offset))
        parts.append(text)
        offset += len(text)
    return Extracted("\n\n".join(parts), tuple(pages), created)


READERS: dict[str, Reader] = {
    ".txt": read_text_file,
    ".md": read_text_file,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
"""Suffix -> reader. Add HTML/PDF/DOCX readers here; the rest of the flow is unchanged."""


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


_DATELINE = re.compile(r"^\s*(?P<place>[^\W\d_a-zà-ỹ][^\n—–:]{0,60}?)\s*[—–]\s+", re.UNICODE)
_BYLINE = re.compile(r"[—–]\s*(?P<byline>[A-Z][A-Z/&.\- ]{1,30})\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘(])|(?<=[。！？])")  # Chinese: no space


def _dateline(text: str) -> str:
    """The place of an article's dateline ("LẠNG SƠN — ", "Quảng Ninh — ", "凭祥 — "), on
    its first line or on the line after a title line, or "".

    The place is in capitals, or in title case (one to four words that each start with a
    capital, the text after the dash a statement starting with one too); Han characters
    have no case.
    """
    lines = [ln for ln in text.lstrip("\ufeff").split("\n") if ln.strip()][:2]
    for k, line in enumerate(lines):
        m = _DATELINE.match(line)
        if m and _is_place(m.group("place").strip(), line[m.end() :]):
            return m.group("place").strip()
        if k == 0 and (line.rstrip().endswith(_ENDS) or len(line) > 120):
            break  # the first line is a sentence, not a title: no dateline below it
    return ""


def _is_place(place: str, rest: str) -> bool:
    """A dateline's place: in capitals (Han characters pass, having no case), or one
    to four title-case words followed by a capitalised statement (see :func:`_dateline`)."""
    if place.upper() == place:
        return True
    words = place.split()
    return (
        0 < len(words) <= 4
        and all(w[0].isupper() for w in words)
        and rest[:1].isupper()
        and _STATEMENT_END.search(rest) is not None  # a title "Lạng Sơn – Guangxi talks" is none
    )


_STATEMENT_END = re.compile(r"[.!?。！？]")


_ENDS = (".", "。", "！", "？")  # a first line ending so is a sentence, not a title


def derive_metadata(text: str, fallback_title: str) -> tuple[str, str, str]:
    """(title, dateline, byline) from an article's text.

    The title is the first sentence without its dateline ("LẠNG SƠN — "), cut at a
    word boundary to at most 120 characters; news files have no separate title line.
    """
    meta, after = front_matter(text)  # Markdown front matter: its title, else what follows
    if meta:
        named = front_matter_field(meta, "title")
        text = text[after:]
        if named:
            m = _BYLINE.search(text.rstrip())
            return named, _dateline(text), (m.group("byline").strip() if m else "")
    dateline = _dateline(text)
    m = _DATELINE.match(text) if dateline else None
    body = text[m.end() :] if m and m.group("place").strip() == dateline else text
    first_line = body.strip().split("\n", 1)[0].strip()
    # A Markdown heading or a short first line is a real title.
    heading = first_line.lstrip("#").strip()
    if first_line.startswith("#") or (0 < len(heading) <= 100 and not heading.endswith(_ENDS)):
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
        date=document_date(extracted.text, extracted.date),
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
    skipped: dict[str, str] | None = None,
) -> list[Document]:
    """Load every supported file under ``corpus_dir`` (one folder or several).

    A file that cannot be read raises :class:`UnreadableFileError` naming it, unless
    ``skip_errors`` is set, in which case it is reported through ``warn`` and skipped.
    Files with unsupported suffixes are always skipped (reported through ``warn``).
    ``skipped``, when given, receives ``source -> reason`` for every unreadable file
    skipped and every file whose text another file already holds (the reason names
    the file by its source, never by its absolute path).
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
            if skipped is not None:
                source = relative_source(path, root)
                reason = str(exc).replace(str(path), "").lstrip(": ") or str(exc)
                skipped[source] = reason
    if not docs:
        raise CorpusError(
            f"no readable documents ({', '.join(supported_suffixes())}) in "
            f"{', '.join(str(d) for d in dirs)}; "
            "add some files or set RAG_CORPUS_DIR"
        )
    return _dedupe(docs, warn, skipped)


def _dedupe(
    docs: Iterable[Document],
    warn: Callable[[str], None] | None,
    skipped: dict[str, str] | None = None,
) -> list[Document]:
    """The documents with distinct texts (the first file of each text is kept)."""
    seen: dict[str, Document] = {}
    for d in docs:
        if d.doc_id in seen:
            if warn:
                warn(f"skipped {d.source}: same text as {seen[d.doc_id].source}")
            if skipped is not None:
                skipped[d.source] = f"same text as {seen[d.doc_id].source}"
            continue
        seen[d.doc_id] = d
    return list(seen.values())
