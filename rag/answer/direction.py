"""A reversed direction: the question asks for a flow one way, the sentence states it the other.

"How much is moved from the reserve into the surplus account?" answered by "the budget
moves 120,000 euros from the surplus account into the reserve" is a near miss that keeps
every word of the question: only the two ends of the movement swap. Word coverage cannot
see it; the prepositions that mark the ends can. English marks a source with *from* and
a goal with *to*, *into*, *towards* or *onto*; what follows each (its noun phrase) names
the end. Nothing here names a word of one corpus.
"""

from __future__ import annotations

from functools import lru_cache

from rag.answer.qualifiers import Word, words
from rag.text import STOPWORDS, fold

_SOURCE = frozenset({"from"})
_GOAL = frozenset({"to", "into", "towards", "toward", "onto"})
_SKIP = frozenset({"the", "a", "an", "its", "their", "his", "her", "our", "your", "this"})
_MAX_PHRASE = 5  # words of a noun phrase after the preposition
Ends = tuple[tuple[str, frozenset[str]], ...]


def _phrase(ws: tuple[Word, ...], i: int, text: str) -> frozenset[str]:
    """The content terms of the noun phrase that starts at word ``i``: determiners skipped,
    then words joined by spaces or hyphens only, up to a stop word or punctuation."""
    while i < len(ws) and fold(ws[i].text) in _SKIP:
        i += 1
    terms: list[str] = []
    prev: Word | None = None
    for w in ws[i : i + _MAX_PHRASE]:
        if prev is not None and text[prev.end : w.start].strip(" -"):
            break  # a comma, a dash or a bracket ends the phrase
        if not w.terms or fold(w.text) in STOPWORDS:
            break
        terms.extend(w.terms)
        prev = w
    return frozenset(terms)


@lru_cache(maxsize=4096)
def ends(text: str) -> Ends:
    """The marked ends of a movement in ``text``: ("source" | "goal", terms) pairs."""
    ws = words(text)
    out = []
    for i, w in enumerate(ws):
        word = fold(w.text)
        role = "source" if word in _SOURCE else "goal" if word in _GOAL else ""
        if role:
            terms = _phrase(ws, i + 1, text)
            if terms:
                out.append((role, terms))
    return tuple(out)


def reversed_direction(question: str, sentence: str) -> bool:
    """Does the sentence name one of the question's ends at the opposite end, and never
    at the asked one? ("pipe ... to Cullerby" asked, "from Cullerby to the town" found)."""
    asked = ends(question)
    if not asked:
        return False
    found = ends(sentence)
    for role, terms in asked:
        same = any(r == role and terms & t for r, t in found)
        swapped = any(r != role and terms & t for r, t in found)
        if swapped and not same:
            return True
    return False
