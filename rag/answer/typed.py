"""Does a sentence hold the kind of value a question asks for?

The type match is one of the answerer's three scores (with meaning and wording): a
"how many" question's sentence holds a number near the counted thing, a "who" question's
a person's or an organisation's name, a "when" question's a date (a day when a day is
asked, a year when a year is), a question asking for money an amount, "how big" an area or
a volume, a why-question a reason, a list question an enumeration, a question for a phone
number or an email address one of those. English question words
and span shapes only (:mod:`rag.answer.spans`); nothing here names a word of one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rag.answer.cjk import counted_missing
from rag.answer.counted import kind_member
from rag.answer.factoid import _is_number
from rag.answer.layout import FIELD_LINE
from rag.answer.lists import asks_for_list, enumerated
from rag.answer.qtypes import asks_contact, asks_money
from rag.answer.reasons import asks_why, gives_reason
from rag.answer.spans import ANSWER_KINDS, MONTHS, WEEKDAYS, answer_values
from rag.text import tokenize

TYPED = 0.6
"""The type match from which a candidate holds a value of the asked kind (see _type_match)."""


def _type_match(qtype: str, question: str, sentence: str, focus: Sequence[str]) -> float:
    """:func:`_typed`, cached: one question scores the same sentence again in its
    two-part rankings, its shortening and the many-article checks' wider search."""
    return _typed(qtype, question, sentence, tuple(focus))


@lru_cache(maxsize=16384)
def _typed(qtype: str, question: str, sentence: str, focus: tuple[str, ...]) -> float:
    """1.0 when the sentence holds the asked-for kind of value (see :mod:`rag.answer.spans`: a
    number near the counted thing, a person's name, a date, a place), 0.0 when it holds
    none, 0.5 for open questions; values the question itself states do not count."""
    contact = asks_contact(question)  # a phone number or an email address asked
    if contact:
        return 1.0 if _CONTACT[contact].search(sentence) else 0.0
    if qtype not in ANSWER_KINDS:  # a list asked: a sentence that enumerates holds one
        if asks_why(question):  # a reason asked: a sentence that gives one
            return 1.0 if gives_reason(sentence) else 0.5
        if asks_for_list(question) and (enumerated(sentence) or _INTRODUCES.search(sentence)):
            return 1.0  # it enumerates, or it introduces the list after it ("caused by:")
        return 0.5
    values = answer_values(qtype, sentence, question)
    if qtype == "number":
        if not values:
            return 0.0
        if asks_money(question) and not {v.kind for v in values} & _amounts(question):
            # an amount of money asked: a count or a duration is none; a share of an
            # amount ("7 percent of basic pay") states one, relative to what it is of
            return TYPED if _SHARE_OF.search(sentence) else 0.0
        missing = counted_missing(question, sentence)  # by the question language's rule
        if missing is None:  # English: the counted thing near the number
            return 0.4 if focus and not _number_near(sentence, focus) else 1.0
        # Chinese or Vietnamese: lowered, not demoted below the candidates in another
        # language, where nothing can be checked (they would win by default)
        return TYPED if missing else 1.0
    if qtype == "measure":
        dimension = _dimension(question)
        if values and dimension is not None and not any(dimension.search(v.text) for v in values):
            return 0.4  # "how steep": a gradient, not "up to 4 seconds"
        if (
            values
            and _SIZE_ASKED.search(question)
            and not any(_AREA.search(v.text) for v in values)
        ):
            return 0.4 if all(_LENGTH.search(v.text) for v in values) else 1.0  # a distance
        return 1.0 if values else 0.0
    kinds = {v.kind for v in values}
    if qtype in {"person", "org"}:
        return 1.0 if kinds & {"person", "org"} else (0.6 if kinds else 0.0)
    if qtype == "date" and _YEAR_ASKED.search(question):
        return 1.0 if any(_YEAR.search(v.text) for v in values) else 0.0
    if qtype == "date" and _DAY_ASKED.search(question):  # a day, not just a year or month
        return 1.0 if any(_DAY.search(v.text) for v in values) else 0.2
    return 1.0 if values else 0.2


_CONTACT = {
    "phone": re.compile(
        r"(?<![\d,.])(?:\+\d{1,3}[ -]?)?\(?0?\d{2,5}\)?(?:[ -]\d{2,4}){1,3}(?![\d,.])"
        r"|\b(?:extension|ext\.?) \d{3,5}\b",
        re.I,
    ),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
}
"""A phone number (digit groups, "0345 280 6110", "+44 20 7946 0000", "extension 4420")
and an email address, as a sentence writes them."""
_INTRODUCES = re.compile(r":\s*$")
"""A sentence ending in a colon introduces what follows it: a list's items."""
_SIZE_ASKED = re.compile(r"\bhow (?:big|large)\b", re.I)  # an area or a volume, no distance
_AREA = re.compile(r"\bsquare\b|²|\bhectares?\b|\bacres?\b|\bha\b|\blitres?\b|\bm3\b", re.I)
_LENGTH_WORDS = r"(?:kilo|centi|milli)?met(?:re|er)s?|km|m|cm|mm|miles?|feet|ft"
_LENGTH = re.compile(rf"\b(?:{_LENGTH_WORDS})$", re.I)


_DIMENSIONS: dict[str, re.Pattern[str]] = {
    "steep": re.compile(r"%|\bper\s?cent\b|\bpercent\b|\bdegrees?\b|°(?!\s?[CF])|\bin \d", re.I),
    "temperature": re.compile(r"°|\bdegrees?\b|\bcelsius\b|\bfahrenheit\b", re.I),
    "speed": re.compile(  # or how soon: "answer a call within 30 minutes"
        r"/h\b|\bmph\b|\bknots?\b|\bper (?:hour|second|minute)\b|/s\b"
        r"|\b(?:seconds?|minutes?|hours?|days?|weeks?)\b",
        re.I,
    ),
    "weight": re.compile(
        r"\b(?:k?g|kilo(?:gram)?s?|grams?|tonnes?|tons?|pounds?|lbs?|stone)\b", re.I
    ),
    "loudness": re.compile(r"\bdB|\bdecibels?\b", re.I),
    "length": re.compile(rf"\b(?:{_LENGTH_WORDS}|foot|inch(?:es)?)\b", re.I),
}
_DIMENSION_ASKED = re.compile(
    r"\bhow (?P<steep>steep)|\bhow (?P<temperature>hot|cold|warm)|\bhow (?P<speed>fast)"
    r"|\bhow (?P<weight>heavy)|\bhow (?P<loudness>loud)|\bhow (?P<length>deep|tall|wide|thick|far|narrow)\b",
    re.I,
)
"""A measure asked by its adjective, whose unit tells the dimension: "how steep" a
gradient, "how hot" a temperature, "how heavy" a weight, "how fast" a speed or a time.
("How long", "how high" and "how old" are left out: a time or a length, a level or a
price, an age or a date.)"""


def _dimension(question: str) -> re.Pattern[str] | None:
    """The unit pattern of the dimension the question asks by its adjective, if any."""
    m = _DIMENSION_ASKED.search(question)
    return _DIMENSIONS[m.lastgroup] if m and m.lastgroup else None


def locates(sentence: str) -> bool:
    """Does the sentence say where something is: a locative phrase ("on the label under
    the carry handle", "in a frost-free room", "at Ferry Lane") whose object is no time
    ("on Thursday 21 January", "in May 2026", "at 14:00")? A where-question's answer
    needs one, or a place's name."""
    return any(not _TIME_OBJECT.match(sentence, m.end()) for m in _LOCATIVE.finditer(sentence))


_LOCATIVE = re.compile(
    r"\b(?:in|on|at|under|inside|behind|near|above|below|beside|outside|into|onto|from|"
    r"next to|opposite|along|across|between|through|beneath|upstream of|downstream of)\s+",
    re.I,
)
_TIME_OBJECT = re.compile(
    rf"(?:(?:the|a|an|this|that|each|every|its|their)\s+)?(?:\d{{1,2}}[:.]\d\d|\d{{4}}\b|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})|\d{{1,2}}\s*[ap]\.?m\b|(?:{MONTHS}|{WEEKDAYS})\b|"
    r"(?:spring|summer|autumn|winter|morning|afternoon|evening|night|weekend|week|month|"
    r"year|day|time|end|start|beginning|past|future|meantime|moment|same time|least|most|"
    r"first|last|once|total|all)\b)",
    re.I,
)
"""What makes a preposition's object a time or an amount, not a place."""


def _amounts(question: str) -> frozenset[str]:
    """The value kinds that tell an amount of money asked: money, and a percentage where a
    share of an amount or a change is asked ("How much of that did the fund pay?", "By how
    much did the board raise the fees?")."""
    return _MONEY_AND_SHARE if _SHARE_ASKED.search(question) else _MONEY_ONLY


_MONEY_ONLY = frozenset({"money"})
_MONEY_AND_SHARE = frozenset({"money", "percent"})
_SHARE_ASKED = re.compile(
    r"\bhow much of\b|\bby how much\b|\bhow much (?:more|less)\b|"
    r"\b(?:share|percentage|percent|proportion)\b",
    re.I,
)
_SHARE_OF = re.compile(
    r"(?:%|\bper\s?cent|\bpercent)\s+of\s+(?:(?:the|your|their|its|his|her|my|our)\s+)?\w", re.I
)
"""A percentage of something: a share of an amount, an amount in its own right."""
_YEAR_ASKED = re.compile(r"\b(?:what|which|in what|the) year\b", re.I)
_YEAR = re.compile(r"\b\d{4}\b")
_DAY_ASKED = re.compile(r"\b(?:what|which|on what) (?:week)?days?\b|\bday of the week\b", re.I)
_DAY = re.compile(rf"\b(?:{WEEKDAYS})|\b\d{{1,2}}(?:st|nd|rd|th)?\b(?!\d)", re.I)


def _number_near(sentence: str, focus: Sequence[str], window: int = 4) -> bool:
    """Is a number within ``window`` words before (or 2 after) one of the counted thing's terms?"""
    numbers, stems, words = _numbers_and_stems(sentence)
    for i in numbers:
        near = [*range(i + 1, min(len(words), i + 1 + window)), *range(max(0, i - 2), i)]
        if any(_names(t, stems[j], words[j]) for t in focus for j in near):
            return True
    colon = sentence.find(":")  # "Rainfall, April to July 2025: 138 mm": the key
    field = FIELD_LINE.match(sentence.lstrip("*_#- "))  # markup aside: "**Plan**: €3.00"
    if field and _AMOUNT_START.match(sentence[colon + 1 :].lstrip()):
        _, key_stems, key_words = _numbers_and_stems(sentence[:colon])  # names the amount
        return any(
            _names(t, s, w) for t in focus for s, w in zip(key_stems, key_words, strict=True)
        )
    return False


_AMOUNT_START = re.compile(
    r"(?:(?:about|around|approximately|nearly|almost|over|under|up to|at least|at most|"
    r"more than|less than|fewer than)\s+)?[$€£¥]?\d",
    re.I,
)
"""A value that is an amount, not a code ("1,920", "at least 45 days", "£6,550"; not
"HARS-R-2026-01")."""


def _names(term: str, stem: str, word: str) -> bool:
    """Does a sentence word (its stem, and as written) name the counted term: the same
    stem, a compound that begins with it ("rainfall" for "rain"), or things of the kind
    it names ("visitors" for "people"; "one person" counts no people)?"""
    return (
        stem == term
        or (len(term) >= 4 and len(stem) - len(term) >= 4 and stem.startswith(term))
        or kind_member(term, word)  # "88 visitors" for "How many people"
    )


@lru_cache(maxsize=16384)
def _numbers_and_stems(
    sentence: str,
) -> tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...]]:
    """The positions of a sentence's number words, the stem of each of its words (stop
    words kept) and the words, cached: the same sentences are checked for many questions."""
    words = tokenize(sentence, keep_stopwords=True)
    stems = tuple(tokenize(w)[0] if tokenize(w) else w for w in words)
    years = frozenset(_YEAR_WRITTEN.findall(sentence))
    return (
        tuple(i for i, w in enumerate(words) if _is_number(w) and not _in_date(words, i, years)),
        stems,
        tuple(words),
    )


_CALENDAR = frozenset(f"{MONTHS}|{WEEKDAYS}".split("|"))


_YEAR_WRITTEN = re.compile(r"(?<![\d,.])(?:1[5-9]|20)\d\d(?![\d,]|\.\d)")
"""A year as written: four digits, no thousands comma ("1,500 mm" is no year)."""


def _in_date(words: Sequence[str], i: int, years: frozenset[str]) -> bool:
    """Is number word ``i`` part of a date, not a count: a year (in ``years``, as the
    sentence writes them: "January 2026 thousands of customers" counts nothing), or a day
    beside a month or weekday ("Monday 19")."""
    if words[i] in years:
        return True
    return any(0 <= j < len(words) and words[j] in _CALENDAR for j in (i - 1, i + 1))
