"""Loading the corpus: NFC text, metadata, and clear errors for unreadable files."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rag.errors import CorpusError, UnreadableFileError
from rag.ingest.readers import load_corpus
from tests.conftest import ROOT, SEEDS


def test_seed_metadata() -> None:
    docs = {d.source: d for d in load_corpus(SEEDS, ROOT)}
    doc = docs["seeds/000_8472d08a1f509d74.txt"]
    assert doc.dateline == "LẠNG SƠN"
    assert doc.byline == "VNA/VNS"
    assert doc.title.startswith("Border guard forces from the northern province of Lạng Sơn")
    assert "—" not in doc.title
    assert doc.length == len(doc.text) > 3000
    assert len(doc.doc_id) == 16
    assert doc.text == unicodedata.normalize("NFC", doc.text)


def test_nfd_file_is_normalised_to_nfc(tmp_path: Path) -> None:
    text = "HÀ NỘI — Hữu Nghị gate reopened on Monday. More followed."
    (tmp_path / "a.txt").write_text(unicodedata.normalize("NFD", text), "utf-8")
    (doc,) = load_corpus(tmp_path, tmp_path)
    assert doc.text == text
    assert doc.source == "a.txt"
    assert doc.dateline == "HÀ NỘI"
    assert doc.title == "Hữu Nghị gate reopened on Monday."


def test_markdown_heading_is_the_title(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text("# Smart gates\n\nThe pilot runs at Hữu Nghị.", "utf-8")
    (doc,) = load_corpus(tmp_path, tmp_path)
    assert doc.title == "Smart gates"


def test_a_chinese_news_file_is_titled_by_its_first_sentence(tmp_path: Path) -> None:
    """As an English news file: a first line of two Chinese sentences (。 ends a
    sentence, no space after it) was taken whole as the title."""
    text = "凭祥 — 友谊关口岸今年进出口货物86万吨。海关表示增长明显。\n\n第二段。"
    (tmp_path / "zh.txt").write_text(text, "utf-8")
    (doc,) = load_corpus(tmp_path, tmp_path)
    assert (doc.dateline, doc.title) == ("凭祥", "友谊关口岸今年进出口货物86万吨。")
    (tmp_path / "zh.txt").write_text("# 口岸通关\n\n友谊关口岸今年进出口货物86万吨。", "utf-8")
    (doc,) = load_corpus(tmp_path, tmp_path)
    assert doc.title == "口岸通关"


def test_markdown_front_matter_gives_the_title_not_its_fence(tmp_path: Path) -> None:
    """A Markdown file opening with front matter was titled "---" (its first line)."""
    text = '---\ntitle: "Harbour toll rises"\ndate: 2025-04-09\n---\n\n# Tolls\n\nThe toll rose.'
    (tmp_path / "a.md").write_text(text, "utf-8")
    (doc,) = load_corpus(tmp_path, tmp_path)
    assert (doc.title, doc.date, doc.text) == ("Harbour toll rises", "2025-04-09", text)
    (tmp_path / "a.md").write_text(
        "---\ndate: 2025-04-09\n---\n\n# Tolls\n\nThe toll rose.", "utf-8"
    )
    (doc,) = load_corpus(tmp_path, tmp_path)
    assert doc.title == "Tolls"  # no title field: the heading after it


def test_same_text_twice_is_indexed_once(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("Same article text.", "utf-8")
    warnings: list[str] = []
    assert len(load_corpus(tmp_path, tmp_path, warn=warnings.append)) == 1
    assert "same text" in warnings[0]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "latin1.txt",
            "Lạng Sơn".encode("cp1258", errors="replace") + b"\xff\xfe",
            "not valid UTF-8",
        ),
        ("blob.txt", b"\x00\x01\x02binary", "binary"),
        ("empty.txt", b"   \n", "no text"),
    ],
)
def test_unreadable_file_names_the_file(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    (tmp_path / "good.txt").write_text("A good article.", "utf-8")
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UnreadableFileError, match=message) as err:
        load_corpus(tmp_path, tmp_path)
    assert name in str(err.value)
    warnings: list[str] = []
    docs = load_corpus(tmp_path, tmp_path, skip_errors=True, warn=warnings.append)
    assert [d.source for d in docs] == ["good.txt"]
    assert warnings


def test_empty_or_missing_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no readable documents"):
        load_corpus(tmp_path, tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope", tmp_path)


def test_unsupported_suffix_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Text.", "utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    warnings: list[str] = []
    assert len(load_corpus(tmp_path, tmp_path, warn=warnings.append)) == 1
    assert "unsupported" in warnings[0]
