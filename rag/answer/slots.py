"""The noun phrases prepositions attach to a question and a sentence: near misses in them.

A reversed direction: "How much is moved from the reserve into the surplus account?"
answered by "the budget moves 120,000 euros from the surplus account into the reserve"
keeps every word of the question; only the two ends of the movement swap. Word coverage
cannot see it; the prepositions that mark the ends can. English marks a source with
*from* and a goal with *to*, *into*, *towards* or *onto*; what follows each (its noun
phrase) names the end.

A reversed comparison: "How much more memory does it use?" over "it uses 22 percent less
memory": the comparative before the asked noun turned into its opposite.

A rival filler: "How long is the warranty on the fan motor?" over "The warranty on the
compressor is seven years": the same preposition after the same word, another noun after
it, and the asked one nowhere near.

A rival version: "Until when does version 4.2 receive security fixes?" over "Version 4.0
therefore receives security fixes until 3 February 2027"; likewise a numbered label ("grade
7" over the row "Grade 5 | £2,500 | 7 days"). Nothing here names a word of one corpus.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.answer.bounds import labels
from rag.answer.qualifiers import Word, words
from rag.text import STOPWORDS, fold, is_table_row, tokenize

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


_LEAVE = frozenset({"leave", "leaves", "leaving", "left", "depart", "departs", "departing"})
"""Verbs whose object is where a journey starts ("leave the hospital for Wrenfold")."""


@lru_cache(maxsize=4096)
def ends(text: str) -> Ends:
    """The marked ends of a movement in ``text``: ("source" | "goal", terms) pairs. Besides
    *from* and *to*, a verb of leaving marks its object as the source and a *for* after it
    the goal ("leave the hospital for Wrenfold"), and in a table row's cell "Wrenfold to
    Caddick Heath Hospital" what stands before *to* is the source."""
    ws = words(text)
    row = is_table_row(text)
    out = []
    for i, w in enumerate(ws):
        word = fold(w.text)
        role = "source" if word in _SOURCE else "goal" if word in _GOAL else ""
        if role:
            terms = _phrase(ws, i + 1, text)
            if terms:
                out.append((role, terms))
            if row and word in _GOAL and (before := _phrase_before(ws, i, text)):
                out.append(("source", before))
        elif word in _LEAVE:
            terms = _phrase(ws, i + 1, text)
            if terms:
                out.append(("source", terms))
                j = next(
                    (k for k in range(i + 1, min(len(ws), i + 8)) if fold(ws[k].text) == "for"), 0
                )
                goal = _phrase(ws, j + 1, text) if j else frozenset()
                if goal:
                    out.append(("goal", goal))
    return tuple(out)


def _phrase_before(ws: tuple[Word, ...], i: int, text: str) -> frozenset[str]:
    """The content terms of the words just before word ``i`` in its table cell (up to a
    "|" or another mark): "Wrenfold" in "| Wrenfold to Caddick Heath Hospital |"."""
    terms: list[str] = []
    k = i - 1
    while k >= 0 and not text[ws[k].end : ws[k + 1].start].strip(" -") and len(terms) < 8:
        if not ws[k].terms or fold(ws[k].text) in STOPWORDS:
            break
        terms.extend(ws[k].terms)
        k -= 1
    return frozenset(terms)


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


_SLOT_PREPOSITIONS = frozenset({"on", "for", "towards", "toward", "to", "into", "at", "in"})
_SLOT_PREPOSITIONS |= {"between", "with", "about", "from", "by", "under", "over", "against"}
_ANCHOR_WORDS = 3  # content words before the preposition that tie it to its noun


Slots = tuple[tuple[str, frozenset[str], frozenset[str], bool], ...]


@lru_cache(maxsize=4096)
def _slots(text: str) -> Slots:
    """(preposition, anchor terms, filler terms, surely a noun) for each preposition of
    ``text``: the anchor is the content words just before it ("warranty" in "the warranty
    on the fan motor"), the filler the noun phrase after it ("fan motor"); a filler after
    an article or with a capital, or after any preposition but *to*, is surely a noun phrase
    (*to* alone also takes a verb: "to replace"; "appeals against revocations" is a noun)."""
    ws = words(text)
    out = []
    for i, w in enumerate(ws):
        word = fold(w.text)
        if word not in _SLOT_PREPOSITIONS:
            continue
        left = [
            v
            for v in ws[max(0, i - 6) : i]
            if v.terms and fold(v.text) not in STOPWORDS and not any(c.isdigit() for c in v.text)
        ]
        anchor = frozenset(t for v in left[-_ANCHOR_WORDS:] for t in v.terms)
        filler = _phrase(ws, i + 1, text)
        if filler & _PART_OF_TIME:  # "at the end of September": a time, no place or party
            continue
        nxt = ws[i + 1].text if i + 1 < len(ws) else ""
        noun = word != "to" or fold(nxt) in _SKIP or nxt[:1].isupper()
        noun = noun and not all(t.isdigit() for t in filler)  # "at £63,400": an amount
        if anchor and filler:
            out.append((word, anchor, filler, noun))
    return tuple(out)


def rival_filler(question: str, sentence: str, near: set[str]) -> bool:
    """Does the sentence fill the question's slot with another noun? The same preposition
    after the same word ("warranty on ..."), the asked filler ("the fan motor") nowhere in
    the sentence or its context (``near``: its terms and those around it), another noun
    phrase there ("the compressor"): the sentence is about another part, place or party
    than the one asked about."""
    asked = _slots(question)
    if not asked:
        return False
    found = _slots(sentence)
    for prep, anchor, filler, _ in asked:
        if filler & near or filler & _OPEN:
            continue  # held, or an open filler ("to another job"): any noun fills it
        if any(
            p == prep and noun and anchor & a and not _same_filler(filler, f)
            for p, a, f, noun in found
        ):
            return True
    return False


_PART_OF_TIME = frozenset(tokenize("end start beginning middle close"))
"""A filler that is a part of a time ("at the end of September", "at the start of the
season"): it says when, it names nothing a rival could replace."""
_OPEN = frozenset({"another", "any", "other", "different"})
"""Words that leave a filler open: "move to another job" names no job a rival could be."""


def _same_filler(asked: frozenset[str], found: frozenset[str]) -> bool:
    """Do two fillers share a word, or a shortening of one ("an ad" and "an advertisement",
    "info" and "information": one word starts the other, two letters at least)?"""
    return bool(asked & found) or any(
        min(len(a), len(f)) >= 2 and (f.startswith(a) or a.startswith(f))
        for a in asked
        for f in found
    )


_OPPOSITES = (
    ("more", "less"),
    ("more", "fewer"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("greater", "smaller"),
    ("longer", "shorter"),
    ("faster", "slower"),
    ("earlier", "later"),
    ("increase", "decrease"),
    ("rise", "fall"),
)
_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)


@lru_cache(maxsize=4096)
def _compared(text: str) -> frozenset[tuple[str, str]]:
    """(comparative, the content word after it) pairs: "more memory", "lower fees"."""
    ws = words(text)
    out = set()
    for i, w in enumerate(ws[:-1]):
        word = fold(w.text)
        if word in _OPPOSITE:
            nxt = next(
                (v for v in ws[i + 1 : i + 3] if v.terms and fold(v.text) not in STOPWORDS), None
            )
            if nxt is not None:
                out.add((word, nxt.terms[0]))
    return frozenset(out)


def reversed_comparison(question: str, sentence: str) -> bool:
    """Does the sentence state the opposite comparison about the asked noun ("22 percent
    less memory" for "How much more memory ...?"), and never the asked one?"""
    asked = _compared(question)
    if not asked:
        return False
    found = _compared(sentence)
    return any((w, n) not in found and any((o, n) in found for o in _OPPOSITE[w]) for w, n in asked)


_DOTTED = re.compile(r"(?<![\w.])(\d+)\.(\d+(?:\.\d+)*)(?![\w.]*\d)")


def rival_version(question: str, sentence: str) -> bool:
    """A dotted number the question asks about ("version 4.2", "section 7.0") that the
    sentence does not hold, while it holds another one under the same first number
    ("Version 4.0 therefore receives security fixes until ..."): the sentence names its
    own version, whatever its document's title or heading lists, so it answers for that
    one."""
    if rival_label(question, sentence):
        return True
    asked = {m.group() for m in _DOTTED.finditer(question)}
    if not asked:
        return False
    held = {m.group() for m in _DOTTED.finditer(sentence)}
    return any(
        a not in held and any(h.split(".")[0] == a.split(".")[0] and h != a for h in held)
        for a in asked
    )


def rival_label(question: str, sentence: str) -> bool:
    """A numbered label the question asks about ("grade 7", "phase 3", "severity 2") that
    the sentence gives another number and never the asked one, its lists and ranges read
    ("grades 1 to 4", "grades 5 and 6"): the row "Grade 5 | £2,500 | 7 days" answers for
    grade 5, not grade 7, though it holds a 7."""
    asked = labels(question)
    if not asked:
        return False
    held = labels(sentence)
    return any(
        nums.isdisjoint(held.get(noun, ())) and held.get(noun) for noun, nums in asked.items()
    )
