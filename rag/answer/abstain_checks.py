"""Abstention checks that compare a question with a candidate sentence and its nearby terms.

Each of these reads one kind of near miss for :func:`rag.answer.abstain.features`: the
asked post, weekday or month, money, the part of a total, a name the question asks about
that another name stands in for, an acronym spelled out, a modifier dropped from the
asked noun; weighed, where they weigh, by the corpus IDF of
:class:`rag.answer.abstain.CorpusStats`. They read the question, the sentence and sets of
terms only (the checks that look up the sentence's context in its document stay in
:mod:`rag.answer.abstain`), and were split from there so that module holds the model,
its fitting and the feature vector. Nothing here names a word of one corpus.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.answer.noun_phrases import asked_role
from rag.answer.qualifiers import calendar_words, number_of
from rag.answer.spans import modifier_pairs, stated_numbers, value_spans
from rag.text import STOPWORDS, fold, tokenize
from rag.text import names as text_names

if TYPE_CHECKING:
    from rag.answer.abstain import CorpusStats


def role_missing(question: str, near: set[str], stats: CorpusStats) -> float:
    """IDF-weighted share of the asked post's terms (:func:`asked_role`) that the sentence
    and its context lack (0 for other questions)."""
    terms = set(asked_role(question))
    if not terms:
        return 0.0
    w = {t: stats.idf(t) for t in sorted(terms)}
    held = {t for t in terms if t in near or _SAME_RANK.get(t, "") in near}
    return sum(v for t, v in w.items() if t not in held) / (sum(w.values()) or 1.0)


_SAME_RANK = {"deputy": "vice", "vice": "deputy"}
"""English words for the same second rank: "her deputy" is the "Vice-Chair"."""


def calendar_rival(question: str, sentence: str, near: set[str]) -> bool:
    """The question names a weekday or month (or a season, or an alpha or beta stage)
    that the sentence and its context lack, and the sentence names another one of the
    same class: a closed class, so the other one is a rival."""
    asked = calendar_words(question)
    said = calendar_words(sentence)
    if {a for a in asked if not set(tokenize(a)) <= near} and said - asked:
        return True
    for pattern in _CLOSED:  # seasons, release stages: in lower case too
        asked, said = _members(pattern, question), _members(pattern, sentence)
        if {a for a in asked if not set(tokenize(a)) <= near} and said - asked:
            return True
    return False


def _members(pattern: re.Pattern[str], text: str) -> set[str]:
    """The members of one closed class that ``text`` names ("summers" -> "summer")."""
    return {fold(m.group()).removesuffix("s") for m in pattern.finditer(text)}


_CLOSED = (
    re.compile(r"\b(?:spring|summer|autumn|winter)s?\b", re.I),
    re.compile(r"\b(?:alpha|beta)\b", re.I),
)
"""Closed classes besides months and weekdays: another member named is a rival."""


def holds_money(sentence: str) -> bool:
    """Does the sentence name an amount of money (or a share of one, a percentage)?"""
    return any(v.kind in {"money", "percent"} for v in value_spans(sentence))


_PARTITIVE = re.compile(r"\bhow (?:many|much) of\b", re.I)


def partitive_missing(question: str, focus: list[str], near: set[str], stats: CorpusStats) -> float:
    """A question for part of a total ("How many of the doctors are consultants?"): the
    IDF of the rarest term that names the part (outside the counted thing) that the
    sentence and its context lack. A total that is not broken down does not answer it."""
    if not focus or not _PARTITIVE.search(question):
        return 0.0
    rest = [t for t in tokenize(question) if t not in focus and not number_of(t).isdigit()]
    return max((stats.idf(t) for t in rest if t not in near), default=0.0)


def letter_words(question: str, letter: str) -> list[str]:
    """The words a series letter follows in the question ("Class" for "Class A")."""
    return [m.group(1) for m in re.finditer(rf"\b([A-Za-z]+)\s+{letter}\b", question, re.I)]


@lru_cache(maxsize=4096)
def plain_numbers(text: str) -> frozenset[str]:
    """Numbers of ``text`` outside codes ("HX-40", "R32" hold none), ordinals as digits
    (cached: a sentence and its context are checked for many questions)."""
    return frozenset(stated_numbers(_CODE_TOKEN.sub(" ", text)))


_CODE_TOKEN = re.compile(r"\b[A-Za-z]+[-–]?\d[\w-]*|\b\d+[A-Za-z]+\d[\w-]*")


_PRONOUN_SUBJECT = re.compile(r"^\W*(?:he|she|they|it|its|his|her|their|this|these|both)\b", re.I)


def name_rival(
    question: str, qtype: str, asked: set[str], sentence: str, own: set[str], qterms: set[str]
) -> float:
    """Share of the question's names (terms of two letters or more) that the sentence and
    its heading lack, when the sentence names someone or something the question does not:
    the same statement made about another harbour, firm or person ("Fishing crews from
    Port Aldwick will be allowed to land 1,850 tonnes" for "How many tonnes may Kessock
    Harbour land?"). 0 for a who-question, whose answer is a name the question lacks, and
    for a sentence whose subject is a pronoun ("He emphasised ..."): who it is, and so
    what is said of whom, is named before it."""
    if qtype == "person" or _PRONOUN_SUBJECT.match(sentence):
        return 0.0
    terms = {t for t in asked if t not in STOPWORDS and len(t) > 1}
    missing = terms - own
    if not missing or not any(not set(tokenize(n)) & qterms for n in text_names(sentence)):
        return 0.0
    return len(missing) / len(terms)


_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")


def spelled_out(question: str, sentence: str) -> set[str]:
    """The folded acronyms of the question ("QA", "CEO") whose words the sentence spells
    out, one word per letter in a row ("quality assurance", "chief executive officer"):
    the name is there, written in full."""
    acronyms = {m.group() for m in _ACRONYM.finditer(question)}
    if not acronyms:
        return set()
    words = re.findall(r"[A-Za-z][\w'-]*", sentence)
    runs = {  # the initials of each run of content words, as long as an acronym
        "".join(w[0] for w in run).lower()
        for n in {len(a) for a in acronyms}
        for run in (words[i : i + n] for i in range(len(words) - n + 1))
        if not any(fold(w) in STOPWORDS for w in run)
    }
    return {
        t
        for a in acronyms
        if a.lower() in runs and not re.search(rf"\b{a}\b", sentence)
        for t in tokenize(a)
    }


def names_missing_idf(names: set[str], own: set[str], stats: CorpusStats) -> float:
    """IDF-weighted share of the question's name terms that the sentence (and its heading
    or title) lacks: a missing rare name says more than a missing common one."""
    if not names:
        return 0.0
    w = {t: stats.idf(t) for t in sorted(names)}
    return sum(v for t, v in w.items() if t not in own) / (sum(w.values()) or 1.0)


def modifier_missing(
    question: str, sentence: str, sent: set[str], own: set[str], stats: CorpusStats
) -> float:
    """The IDF of the rarest modifier the question puts on a noun that the sentence has
    without it (0 when none)."""
    pairs = modifier_pairs(question)
    return min(1.0, max((stats.idf(m) for m, h in pairs if h in sent and m not in own), default=0))


def asked_numbers(question: str) -> set[str]:
    """The numbers a question states that a sentence answering it should hold: those of
    :func:`stated_numbers`, less a 1 written only as the pronoun "one" ("the third one",
    "the only one whose budget falls"), which counts nothing."""
    nums = stated_numbers(question)
    if "1" in nums and not _ONE_AS_NUMBER.search(_PRONOUN_ONE.sub(" ", question)):
        nums.discard("1")
    return nums


_PRONOUN_ONE = re.compile(
    r"\bone\b(?=\s*(?:[?.,;!]|$|whose\b|that\b|which\b|who\b|of\b|in\b|on\b|at\b))", re.I
)
_ONE_AS_NUMBER = re.compile(r"(?<![\d.,])1(?![\d.,])|\b(?:one|first|1st)\b", re.I)
