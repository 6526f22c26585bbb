"""HTML and PDF readers: main text only, NFC, exact offsets, page numbers, clear errors."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rag.app.render import page_of
from rag.errors import UnreadableFileError
from rag.ingest.chunking import chunk_document
from rag.ingest.readers import READERS, load_document, read_html, read_pdf, supported_suffixes

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Site title — do not index</title>
<style>p { color: red }</style>
<script>var stolen = document.cookie; sendHome(stolen);</script>
</head><body>
<header><div class="logo">NewsSite</div><nav><a href="/">Home</a> | <a href="/world">World</a></nav></header>
<aside class="related">Related: celebrity gossip</aside>
<h1>Border   guards &amp; trade</h1>
<p>LẠNG SƠN — The two   border forces made <b>113</b> hotline
calls in 2025.<br>A second line &lt;script&gt;alert(1)&lt;/script&gt; stays as text.</p>
<p>Cafe\u0301 owners &#x2014; and caf&eacute; owners &mdash; welcomed the talks.</p>
<ul><li>First point</li><li>Second point</li></ul>
<noscript>Enable JavaScript</noscript>
<form><label>Subscribe</label><input name="email"><button>Go</button></form>
<footer>Copyright 2025 NewsSite</footer>
</body></html>
"""


def test_readers_registered() -> None:
    for suffix in (".html", ".htm", ".pdf", ".txt", ".md"):
        assert suffix in READERS
        assert suffix in supported_suffixes()


def test_html_main_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    text = read_html(path).text
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Border guards & trade"
    assert paragraphs[1] == (
        "LẠNG SƠN — The two border forces made 113 hotline calls in 2025.\n"
        "A second line <script>alert(1)</script> stays as text."
    )
    assert paragraphs[2] == "Café owners — and café owners — welcomed the talks."
    assert paragraphs[3:] == ["First point", "Second point"]
    for dropped in ("stolen", "color: red", "Site title", "NewsSite", "Home", "gossip"):
        assert dropped not in text
    for dropped in ("Enable JavaScript", "Subscribe", "Copyright"):
        assert dropped not in text
    assert text == unicodedata.normalize("NFC", text)
    assert "e\u0301" not in text  # the decomposed é was composed


def test_html_prefers_main_or_article(tmp_path: Path) -> None:
    path = tmp_path / "a.htm"
    path.write_text(
        "<body><div>Menu stuff</div><article><h2>Title</h2><p>Body text.</p></article>"
        "<div>Cookie banner</div></body>",
        encoding="utf-8",
    )
    assert read_html(path).text == "Title\n\nBody text."


def test_html_unclosed_head_and_legacy_charset(tmp_path: Path) -> None:
    path = tmp_path / "old.html"
    markup = (
        '<html><head><meta charset="windows-1252"><title>T</title><body><p>Caf\xe9 \u2013 ok</p>'
    )
    path.write_bytes(markup.encode("cp1252"))
    assert read_html(path).text == "Café – ok"


def test_html_offsets_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE * 3, encoding="utf-8")
    doc = load_document(path, tmp_path)
    assert doc.source == "page.html"
    assert doc.title == "Border guards & trade"
    chunks = chunk_document(doc, chunk_size=120, overlap=1)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
    quote = "113 hotline calls in 2025."
    start = doc.text.index(quote)
    assert doc.text[start : start + len(quote)] == quote


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.html", b"<html><body><script>only()</script></body></html>"),
        ("binary.html", b"\x00\x01\x02<html>"),
        ("latin.html", b"<p>caf\xe9 without a charset</p>"),
    ],
)
def test_html_bad_files(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFileError, match=name):
        load_document(path, tmp_path)


def _write_pdf(path: Path, pages: list[str]) -> None:
    """A real PDF with a text layer, one page per string ("" = a blank page)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        for text in pages:
            fig = plt.figure(figsize=(8.27, 11.69))
            for i, line in enumerate(text.split("\n") if text else []):
                fig.text(0.08, 0.92 - 0.03 * i, line, fontsize=11)
            pdf.savefig(fig)
            plt.close(fig)


def test_pdf_pages_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _write_pdf(
        path,
        [
            "Border report\nThe forces made 113 hotline calls in 2025.",
            "",  # a page without text
            "Page three: Lạng Sơn and Guangxi held talks.\nThey exchanged 679 letters.",
        ],
    )
    extracted = read_pdf(path)
    text, pages = extracted.text, extracted.pages
    assert [n for n, _ in pages] == [1, 3]
    assert pages[0][1] == 0
    third = pages[1][1]
    assert text[third:].startswith("Page three: Lạng Sơn and Guangxi held talks.")
    assert text[third - 2 : third] == "\n\n"  # pages are joined by a blank line
    assert "113 hotline calls" in text[:third]
    assert text == unicodedata.normalize("NFC", text)

    doc = load_document(path, tmp_path)
    assert doc.pages == pages
    assert doc.meta()["pages"] == [[1, 0], [3, third]]
    at = doc.text.index("679 letters")
    assert page_of(doc, at) == 3
    assert page_of(doc, doc.text.index("113")) == 1
    for c in chunk_document(doc, chunk_size=60, overlap=0):
        assert doc.text[c.start : c.end] == c.text


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("fake.pdf", b"this is not a pdf at all"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF"),
    ],
)
def test_pdf_bad_files(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFileError, match=name):
        load_document(path, tmp_path)


def test_pdf_without_text_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    _write_pdf(path, ["", ""])
    assert read_pdf(path).text == ""
    with pytest.raises(UnreadableFileError, match="no text"):
        load_document(path, tmp_path)


def test_uploads_with_colliding_names_are_kept_apart(tmp_path: Path) -> None:
    from rag.config import Config
    from rag.ingest.uploads import stage_uploads

    config = Config.from_env({"root": tmp_path}, environ={})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "notes.md", tmp_path / "b" / "Notes.md"
    first.write_text("# A\n\nThe first file.", "utf-8")
    second.write_text("# B\n\nThe second file.", "utf-8")
    staged = stage_uploads([first, second], config)
    assert [p.name for p in staged.files] == ["notes.md", "Notes-2.md"]
    assert staged.sources == ["uploads/notes.md", "uploads/Notes-2.md"]
    assert [p.read_text("utf-8") for p in staged.files] == [first.read_text(), second.read_text()]
    staged.commit()
    # a later upload of the same name is a new version of that file; until it is
    # committed the previous version is kept (hidden), and a rollback puts it back
    first.write_text("# A\n\nThe first file, corrected.", "utf-8")
    newer = stage_uploads([first], config)
    assert newer.files[0].read_text("utf-8").endswith("corrected.")
    assert len(newer.backups) == 1 and next(iter(newer.backups.values())).name.startswith(".")
    newer.rollback()
    assert (config.upload_path / "notes.md").read_text("utf-8") == "# A\n\nThe first file."
    assert sorted(p.name for p in config.upload_path.iterdir()) == ["Notes-2.md", "notes.md"]
    stage_uploads([first], config).commit()
    assert (config.upload_path / "notes.md").read_text("utf-8").endswith("corrected.")
    assert sorted(p.name for p in config.upload_path.iterdir()) == ["Notes-2.md", "notes.md"]
