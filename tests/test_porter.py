"""The word indexes' stemmer (rag.porter): the published Porter algorithm, checked word
for word against NLTK's implementation of it, and what it buys in BM25."""

from __future__ import annotations

import re
from pathlib import Path

from nltk.stem.porter import PorterStemmer

from rag.porter import porter_stem
from rag.store.lexical import BM25Index
from rag.text import index_terms

ROOT = Path(__file__).resolve().parents[1]


def _words() -> set[str]:
    """Every lower-case word of the bundled documents (seeds, suite, cross-lingual)."""
    out: set[str] = set()
    for path in [*ROOT.glob("seeds/*"), *ROOT.glob("eval/**/docs/**/*")]:
        if path.is_file() and path.suffix in {".md", ".txt", ".html", ""}:
            out |= set(re.findall(r"[a-z]+", path.read_text("utf-8", errors="ignore").lower()))
    return out


def test_every_bundled_word_stems_as_nltk_s_original_porter_does() -> None:
    reference = PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)
    words = _words()
    assert len(words) > 3000
    wrong = [(w, porter_stem(w), reference.stem(w)) for w in sorted(words)]
    assert [x for x in wrong if x[1] != x[2]] == []


def test_the_classic_examples() -> None:
    pairs = {
        "caresses": "caress",
        "ponies": "poni",
        "relational": "relat",
        "conditional": "condit",
        "hopping": "hop",
        "filing": "file",
        "generalizations": "gener",
        "oscillators": "oscil",
    }
    assert {w: porter_stem(w) for w in pairs} == pairs


def test_bm25_meets_a_word_in_another_derived_form() -> None:
    texts = [
        "The company pays for mediation by an independent firm in Wenlow Cross.",
        "Mediterranean ferries leave from the north quay every morning.",
        "Claims need the approval of the Finance Director.",
    ]
    bm25 = BM25Index.build(texts)
    _, rows = bm25.search("Where are the mediators based?", 1)
    assert rows.tolist() == [0]
    _, rows = bm25.search("Who has to approve my claim?", 1)
    assert rows.tolist() == [2]
    # numbers, short words and Chinese bigrams pass through as they are
    assert index_terms("Gate 3 opens 友谊关") == ["gate", "3", "open", "友谊", "谊关"]
