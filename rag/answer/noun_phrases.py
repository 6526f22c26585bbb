"""Noun phrases of a question read against a sentence: rival and dropped modifiers, asked posts.

A sentence can name the asked noun under another modifier ("the county roads department"
for "the county education department"), or drop the modifier that picks out whom the
question means ("the chief nurse" for "the deputy chief nurse"); a "who is the X?"
question names a post that whoever answers must hold. These readers of word order and
noun-phrase shape were split from :mod:`rag.answer.qualifiers` (whose :class:`Word`
tokens they read) to keep that module about the question's qualifiers and the value bound
to them. Nothing here names a word of one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from rag.answer.qualifiers import Word, words
from rag.answer.spans import stated_numbers
from rag.text import STOPWORDS, fold, tokenize

# ------------------------------------------------------- another entity of the same kind


def _content(w: Word) -> bool:
    """A word that carries meaning: it has terms and is not a stop word."""
    return bool(w.terms) and fold(w.text) not in STOPWORDS


def _noun_like(w: Word) -> bool:
    """A content word that can be part of a noun phrase: not a preposition, an adverb in
    -ly, or a number (a number is a qualifier, compared by
    :func:`rag.answer.qualifiers.rival_bound`)."""
    return bool(w.terms) and _noun_like_text(w.text)


@lru_cache(maxsize=8192)
def _noun_like_text(text: str) -> bool:
    """:func:`_noun_like` on a word's text (cached: the same words recur)."""
    t = fold(text)
    return (
        t not in STOPWORDS
        and t not in _PREPOSITIONS
        and not t.endswith("ly")
        and not stated_numbers(text)
    )


def _joined(text: str, a: Word, b: Word) -> bool:
    """Are two words adjacent in one phrase (only spaces or a hyphen between them)?"""
    return not text[a.end : b.start].strip(" -–")


def modifier_rivals(question: str, sentence: str, context: str = "") -> list[str]:
    """The question's modifiers that the sentence replaces with another one on the same
    head noun: "the county education department" asked, "the county roads department"
    found; "the staff car park" asked, "the visitor car park" in the sentence before;
    "the eye clinic" asked, "the cardiology clinic". The head is looked up in the
    sentence, else in its ``context`` (the sentences around it). A modifier the sentence
    holds anywhere does not count, nor one found before the head within three words."""
    qws = words(question)
    qterms = set(tokenize(question))
    sent_terms = _word_terms(sentence)
    out = []
    for k in range(len(qws) - 1):
        m, h = qws[k], qws[k + 1]
        if not (_noun_like(m) and _noun_like(h) and _joined(question, m, h)):
            continue
        if _head_goes_on(question, qws, k + 1, (sentence, context)):
            continue  # the head ends the phrase ("the staff car park": car park, staff car)
        mod, head = m.terms[-1], h.terms[0]
        if mod in sent_terms:
            continue
        for text in (sentence, context):
            ws = words(text)
            at = _first_positions(text).get(head, ())
            if not at:
                continue
            asked = any(mod in w.terms for i in at for w in ws[max(0, i - 3) : i])
            rival = any(
                i > 0
                and _content(ws[i - 1])
                and _joined(text, ws[i - 1], ws[i])
                and not set(ws[i - 1].terms) & qterms
                for i in at
            )
            if rival and not asked:
                out.append(mod)
            break  # the sentence's own use of the head decides when it has one
    return out


def _head_goes_on(question: str, qws: tuple[Word, ...], i: int, texts: tuple[str, ...]) -> bool:
    """Does the noun phrase go on past word ``i`` of the question? It does when two more
    joined content words follow, or when the next one follows it in the sentence too ("car
    park" in "the staff car park"); one word the sentence does not join to it is taken for
    the verb ("the dermatology clinic run": clinic is the head)."""
    if i + 1 >= len(qws) or not (_content(qws[i + 1]) and _joined(question, qws[i], qws[i + 1])):
        return False
    if i + 2 < len(qws) and _content(qws[i + 2]) and _joined(question, qws[i + 1], qws[i + 2]):
        return True
    head, nxt = qws[i].terms[0], qws[i + 1].terms[:1]
    return bool(nxt) and any((head, nxt[0]) in _joined_firsts(text) for text in texts)


@lru_cache(maxsize=8192)
def _word_terms(text: str) -> frozenset[str]:
    """Every term of the words of ``text`` (cached per sentence: asked of many questions)."""
    return frozenset(t for w in words(text) for t in w.terms)


@lru_cache(maxsize=8192)
def _first_positions(text: str) -> Mapping[str, tuple[int, ...]]:
    """For each word's first term, the positions of the words of ``text`` it opens, in
    order (cached per sentence; read-only)."""
    out: dict[str, list[int]] = {}
    for i, w in enumerate(words(text)):
        if w.terms:
            out.setdefault(w.terms[0], []).append(i)
    return MappingProxyType({k: tuple(v) for k, v in out.items()})


@lru_cache(maxsize=8192)
def _joined_firsts(text: str) -> frozenset[tuple[str, str]]:
    """The first terms of each two adjacent words of ``text`` in one phrase (only spaces
    or a hyphen between them): what :func:`_head_goes_on` looks up, cached per sentence."""
    ws = words(text)
    return frozenset(
        (a.terms[0], b.terms[0])
        for a, b in zip(ws, ws[1:], strict=False)
        if a.terms and b.terms and _joined(text, a, b)
    )


_PREPOSITIONS = frozenset(
    {"of", "on", "for", "in", "at", "between", "from", "to", "with", "by", "about", "under"}
    | {"over", "after", "before", "into", "above", "below", "instead", "than", "per"}
    | {"within", "without", "during"}
)


def dropped_modifiers(question: str, sentence: str, near: set[str]) -> list[str]:
    """A modifier of a noun phrase of the question, when the rest of the phrase (its last
    one or two words) stands in the sentence without it and nowhere near it: "the deputy
    chief nurse" asked, "the chief nurse, X" found; "the deputy head" asked, "its head, X" found.
    Whoever the sentence names holds another post."""
    qws = words(question)
    heads = _phrase_heads(sentence)
    out = []
    for run in _noun_runs(qws, question):
        for k in range(len(run) - 1):  # "the new children's assessment unit": children's
            first, rest = run[k].terms[-1], tuple(w.terms[0] for w in run[k + 1 :])
            if first not in near and len(rest) <= 2 and rest in heads:
                out.append(first)
    return out


@lru_cache(maxsize=4096)
def _phrase_heads(sentence: str) -> frozenset[tuple[str, ...]]:
    """The first terms of the sentence's words, one by one and two by two in order."""
    firsts = [w.terms[0] for w in words(sentence) if w.terms]
    return frozenset({(t,) for t in firsts} | set(zip(firsts, firsts[1:], strict=False)))


def _noun_runs(qws: tuple[Word, ...], text: str) -> list[list[Word]]:
    """Runs of two or more joined noun-like words ("deputy chief nurse", "eye clinic")."""
    runs: list[list[Word]] = []
    cur: list[Word] = []
    for w in qws:
        if _noun_like(w) and (not cur or _joined(text, cur[-1], w)):
            cur.append(w)
            continue
        if len(cur) > 1:
            runs.append(cur)
        cur = [w] if _noun_like(w) else []
    if len(cur) > 1:
        runs.append(cur)
    return runs


_WHO_IS = re.compile(
    r"\bwho\s+(?:is|was|are|were|will be)\s+((?:(?:the|a|an|her|his|its|their)\s+)?"
    r"([\w’'-]+(?:\s+[\w’'-]+){0,3}))",
    re.I,
)
_PARTICIPLE = re.compile(r"[a-z]{2,}(?:ing|ed)")


def asked_role(question: str) -> list[str]:
    """The terms of the post a "who is the X?" question asks about ("Who is the deputy
    chief nurse?" -> deputy, chief, nurse; "And who is her deputy?" -> deputy), up to the
    first stop word or preposition: whoever answers must be named as holding it."""
    m = _WHO_IS.search(question)
    if not m:
        return []
    found = words(m.group(2))
    if found and m.group(1) == m.group(2) and _PARTICIPLE.fullmatch(found[0].text):
        return []  # "Who is lending the money?", "Who was elected?": a verb, no post
    owner = bool(found) and m.group(1) == m.group(2) and _POSSESSIVE.search(found[0].text)
    if owner:  # "Who is Kestrelnet's Director of ...?": the post after its owner, capitals
        found = found[1:]  # and all (a post there is a title, no person's name)
    out: list[str] = []
    for w in found:
        if not _noun_like(w) or (w.text[:1].isupper() and not owner):
            break  # "Who is Helen Ostrander?" asks about a name, not a post
        out.extend(w.terms)
    return out


_POSSESSIVE = re.compile(r"['’]s$")
