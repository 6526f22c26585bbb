"""The names a question asks about, and whether a document writes them.

Used by :class:`rag.retrieve.routing.RoutedRetriever`: a passage in the question's own
language can be checked for the names the question asks about (across languages it
cannot: "Dongxing" is 东兴), and one whose document names none of them is about
something else, however close its vector.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from rag.text import fold
from rag.types import Hit

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_JOINER = re.compile(r"[ \t]|\s*[-–]\s*")


def name_phrases(question: str) -> list[str]:
    """The runs of capitalised words of ``question`` ("Hekou", "Lũng Phìn Shan",
    "Nanning–Hanoi", "People's Committee"; a possessive "'s" dropped): what it names, in
    any script with capitals. The first word alone is left out (a sentence starts with a
    capital). Chinese has no capitals: none."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(question)]
    runs: list[list[tuple[int, int, str]]] = []
    for w in words:
        if not w[2][:1].isupper():
            continue
        if runs and _JOINER.fullmatch(question[runs[-1][-1][1] : w[0]]):
            runs[-1].append(w)
        else:
            runs.append([w])
    out = []
    for run in runs:
        if run[0][0] == words[0][0] and len(run) == 1:
            continue
        text = re.sub(r"['’]s$", "", question[run[0][0] : run[-1][1]])
        if text not in out:
            out.append(text)
    return out


def names_held(asked: Sequence[str], text: str) -> bool:
    """Whether ``text`` writes one of the ``asked`` names: as written (case aside, tone
    marks and diacritics kept: folded, "Hải Hà" would be found in "hai bên"), or folded
    when the question wrote it without diacritics ("Lang Son" for "Lạng Sơn")."""
    plain = unicodedata.normalize("NFC", text).lower()
    folded: str | None = None
    for name in asked:
        key = unicodedata.normalize("NFC", name).lower()
        if _holds_phrase(key, plain):
            return True
        if key.isascii():
            folded = fold(text) if folded is None else folded
            if _holds_phrase(key, folded):
                return True
    return False


def _holds_phrase(phrase: str, text: str) -> bool:
    """``phrase`` in ``text`` as whole words."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


TAIL_BELOW = 3
"""Hits of the named lists below which nameless hits fill the results up to k: one or two
named passages may be passing mentions, so the tail then still offers the best of the
rest."""


def nameless_last(
    merge: Callable[[Sequence[Sequence[Hit]], int, int], list[Hit]],
    lists: Sequence[Sequence[Hit]],
    tail: Sequence[Hit],
    k: int,
    rrf_k: int = 60,
) -> list[Hit]:
    """The top ``k`` of ``lists`` merged by ``merge``; the ``tail`` (hits in the
    question's language whose document names none of the names it asks about:
    ``RoutedRetriever._naming`` in :mod:`rag.retrieve.routing`) only when the lists hold
    fewer than :data:`TAIL_BELOW` hits, in its order, up to ``k``. A passage about another
    market is no answer to a question naming this one, and as a candidate its sentences,
    scored against the question in its own language, outrank the right sentence in
    another language (e5 stands same-language text out further). The tail alone is
    merged when no list has a hit."""
    if not any(lists):
        return merge([tail], k, rrf_k) if tail else []
    merged = merge(lists, k, rrf_k)
    if len(merged) >= TAIL_BELOW:
        return merged
    return merged + [
        Hit(rank, h.chunk, h.dense_score, h.bm25_score, 1.0 / (rrf_k + rank))
        for rank, h in enumerate(tail[: max(0, k - len(merged))], start=len(merged) + 1)
    ]
