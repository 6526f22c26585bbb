"""Chunking and sentence splitting: offsets always point back at the exact text."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.ingest.chunking import answer_spans, chunk_document, chunk_spans
from rag.ingest.readers import load_corpus, normalize
from rag.text import fold, numbers, sentence_spans, tokenize
from tests.conftest import ROOT, SEEDS


def test_every_seed_chunk_round_trips() -> None:
    docs = load_corpus(SEEDS, ROOT)
    assert len(docs) == 2
    for doc in docs:
        chunks = chunk_document(doc, chunk_size=600, overlap=1)
        assert len(chunks) >= 5
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert c.text == c.text.strip()
        # consecutive chunks overlap or touch: nothing between them is lost
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert b.start <= a.end or not doc.text[a.end : b.start].strip()


def test_chunks_hold_whole_sentences() -> None:
    doc = load_corpus(SEEDS, ROOT)[0]
    sentence_starts = {a for a, _ in sentence_spans(doc.text)}
    for c in chunk_document(doc, 600, 1):
        assert c.start in sentence_starts


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Border Section No. 7 handled 221 cases. Col. Zhu spoke. Then it ended."
    spans = [text[a:b] for a, b in sentence_spans(text)]
    assert spans == ["Border Section No. 7 handled 221 cases.", "Col. Zhu spoke.", "Then it ended."]


def test_byline_is_not_a_quotable_sentence() -> None:
    text = "Guangxi hosted 150,000 visitors, with potential still ahead. — VNA/VNS"
    spans = [text[a:b] for a, b in answer_spans(text)]
    assert spans == ["Guangxi hosted 150,000 visitors, with potential still ahead."]


def test_folding_matches_text_typed_without_diacritics() -> None:
    assert fold("Hữu Nghị") == "huu nghi"
    assert fold("Đào Quốc Thạo") == "dao quoc thao"
    assert tokenize("Lạng Sơn") == tokenize("Lang Son")
    assert numbers("1,182 people and 94 suspects") == [1182.0, 94.0]


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000),
    st.integers(20, 800),
    st.integers(0, 3),
)
def test_offsets_round_trip_for_any_unicode(raw: str, size: int, overlap: int) -> None:
    text = normalize(raw)
    for a, b in chunk_spans(text, size, overlap):
        assert 0 <= a < b <= len(text)
        assert text[a:b].strip() == text[a:b]
    covered = set()
    for a, b in sentence_spans(text):
        covered.update(range(a, b))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@given(st.text(alphabet="abc .!?\n\u0301\u0323\u05d0\u0627 ", max_size=500))
def test_combining_marks_and_rtl(raw: str) -> None:
    text = unicodedata.normalize("NFC", raw)
    for a, b in chunk_spans(text, 50, 1):
        assert text[a:b] and text[a:b] == text[a:b].strip()


def test_a_numbered_list_item_is_a_sentence_of_its_own_and_its_marker_ends_nothing() -> None:
    """ "4. Corvan (...)\\n5. Dunmore ...": an item without a full stop was joined to the
    next item's marker ("... 2022)\\n5."), and an answer quoted "5" from it."""
    from rag.answer.layout import content_span
    from rag.answer.spans import stated_numbers
    from rag.text import sentence_spans

    text = "Varieties:\n\n4. Corvan (released 2022)\n5. Dunmore: the highest yield. It won.\n"
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got == [
        "Varieties:",
        "4. Corvan (released 2022)",
        "5. Dunmore: the highest yield.",
        "It won.",
    ]
    x, _, _ = content_span("4. Corvan (released 2022)")
    assert "4. Corvan (released 2022)"[x:] == "Corvan (released 2022)"  # quoted without "4."
    assert stated_numbers("4. Corvan (released 2022)") == {"2022"}
    plain = "We sowed 5.\nThen it rained."
    assert [plain[a:b] for a, b in sentence_spans(plain)] == ["We sowed 5.", "Then it rained."]
