"""General span typing and sentence cleaning for the extractive answerer.

Nothing here names a word of one corpus or one genre: the patterns are English number,
date, money and name shapes (layout, headings, labels and datelines, is read by
:mod:`rag.answer.layout`), so the same code serves news, manuals, regulations, reports and
encyclopedic text.

* :func:`value_spans` finds typed values in a sentence: ``money``, ``percent``,
  ``quantity`` (a number with its unit), ``number``, ``date`` (a date keeps its year:
  "June 26, 2023"), ``time``, ``person``, ``org``, ``place``, and ``code`` for the year
  of a name ("Regulation 2024"), which answers no question type.
* :func:`asked_names` / :func:`stated_numbers` are what a question pins its answer to
  (entities, codes, years, counts); the abstention model checks that the answer's
  sentence, or its immediate context, holds them.

Chinese (and Japanese) text writes no spaces and glues numbers to their units ("86万吨",
"2025年1月", "312亿元"), so regex word boundaries never fire there. A sentence
holding Han characters is also read with CJK shapes (:data:`_CJK_KINDS`: a number with
its magnitude 万/亿 and the measure word after it, 年月日 dates, 元 money, full-width
percent). Text without
Han characters takes exactly the code paths it took before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from rag.answer.layout import HAN_RANGE
from rag.answer.ranges import NUM as _NUM
from rag.answer.ranges import RANGED as _RANGED
from rag.answer.ranges import range_start
from rag.lang import (
    CJK_UNITS,
    HAN_NUMBER,
    HAN_PERCENT,
    HAN_PERSONS,
    HAN_QUANTITY,
    VI_VALUE_PATTERNS,
    cjk_share,
    detect_language,
)
from rag.text import ITEM_NUMBER, STOPWORDS, fold, stem, tokenize

MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"\b(?:(?:{WEEKDAYS}),?\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\.?"
    rf"(?:,?\s+\d{{4}})?|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d)(?:,?\s+\d{{4}})?|"
    rf"(?:{MONTHS})\.?\s+\d{{4}}|(?:{MONTHS})\b|\d{{4}}-\d{{2}}-\d{{2}})"
    r"|\b\d{1,2}([/.])\d{1,2}\1\d{4}\b|\b\d{4}/\d{1,2}/\d{1,2}\b"  # 14/01/2026, 2026/01/14
    r"|\bthe \d{1,2}(?:st|nd|rd|th)(?= (?:day )?of (?:each|every|the|a) month\b)"
    rf"|\b(?:{WEEKDAYS}),?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?![:.,]?\d|\s*(?:%|[ap]\.?m\b|to\b))"
    rf"|\b(?:{WEEKDAYS})s?\b|\b(?:spring|summer|autumn|fall|winter)\b"
    r"|\b(?:1[5-9]|20)\d{2}s?\b|\b(?:in|by|since|until|from|before|after) \d{4}\b",
    re.I,
)
_TIME = re.compile(
    r"\b\d{1,2}(?:[:.]\d{2})?\s*[ap]\.?m\b\.?|\b\d{1,2}:\d{2}\b|\b(?:noon|midnight)\b", re.I
)
_SCALE = r"(?:\s*(?:million|billion|thousand|bn|m|k)\b)?"
_MONEY = re.compile(
    rf"[$€£¥]\s?{_NUM}{_SCALE}|\b{_NUM}{_SCALE}\s*(?:euros?|dollars?|pounds?|yen|yuan|"
    rf"francs?|crowns?|kronor|rupees?|cents?|pence|(?-i:[A-Z]{{3}}))\b",
    re.I,
)
_PERCENT = re.compile(rf"\b{_NUM}\s*(?:%|per\s?cent\b|percent\b|percentage points?\b)", re.I)
_QUANTITY = re.compile(  # "96 kg", "50 minutes", "2,900 square metres", "617 Class B"
    rf"(?<![\w.]){_NUM}\s*(?:°\s?[CF]|[%²³]|(?:square|cubic)\s+[a-zA-Z]+\b|"
    rf"[A-Z][a-z]+\s[A-Z]\b(?![\w-])|(?!(?:to|and|or)\b)[a-zA-Z]+\b(?:\([A-Za-z]\))?)"
)

_NUMBER = re.compile(rf"(?<![\w.]){_NUM}(?![\w.])")
_PATH = re.compile(  # a file path or web address: where a file or page is, one span
    r"(?<![\w/\\])(?:[A-Za-z]:\\[^\s,;]*|~?/[\w.-]+(?:/[\w.*-]+)+|https?://[^\s,;]+)(?<![.:])"
)

# CJK shapes: a number is bounded by what is not a Latin letter or digit (Han characters
# may touch it), then an optional magnitude (万 ten thousand, 亿 hundred million) and an
# approximation (多, 余: "more than").
_HAS_HAN = re.compile(f"[{HAN_RANGE}]")
_CJK_NUM = rf"(?<![0-9A-Za-z.,]){_NUM}(?:[万亿千百]+)?(?:多|余)?"
_CJK_MONEY = re.compile(
    rf"[$€£¥￥]\s?{_CJK_NUM}|(?:人民币|美元|欧元)\s?{_CJK_NUM}元?|"
    rf"{_CJK_NUM}\s?(?:元|美元|欧元|英镑|日元|韩元|港元|澳元|越南盾|人民币|越盾)"
)
_CJK_PERCENT = re.compile(
    rf"{_CJK_NUM}\s?[%％]|百分之[0-9.零〇一二两三四五六七八九十百]+|"
    rf"{_CJK_NUM}\s?个百分点"
)
_CJK_DATE = re.compile(
    r"(?<![0-9A-Za-z.])(?:\d{4}年(?:\d{1,2}月(?:\d{1,2}[日号])?)?|\d{1,2}月\d{1,2}[日号]|"
    r"\d{1,2}月)(?:[初底中末]|上旬|中旬|下旬)?|(?:今|明|去|前|后)年(?:[初底末]|上半年|下半年)?|"
    r"星期[一二三四五六日天]|周[一二三四五六日](?![年期])"
)
_CJK_TIME = re.compile(
    r"(?<![0-9A-Za-z.])\d{1,2}[:：]\d{2}(?!\d)|(?:上午|下午|凌晨|晚上|早上|中午)?"
    r"(?<![0-9A-Za-z.])\d{1,2}[点时](?:\d{1,2}分|半)?(?![间候期])"
)
_CJK_QUANTITY = re.compile(  # "86万吨", "12条", "4.6万人次", "11个小时", "2400人"
    rf"{_CJK_NUM}\s?(?:个)?(?:{CJK_UNITS}|[{HAN_RANGE}])"
)
_CJK_NUMBER = re.compile(rf"{_CJK_NUM}(?![0-9A-Za-z])")
_CJK_KINDS = (
    ("money", _CJK_MONEY),
    ("percent", _CJK_PERCENT),
    ("percent", HAN_PERCENT),
    ("date", _CJK_DATE),
    ("time", _CJK_TIME),
    ("quantity", _CJK_QUANTITY),
    ("quantity", HAN_QUANTITY),
    ("number", _CJK_NUMBER),
    ("number", HAN_NUMBER),
    *(("person", pattern) for pattern in HAN_PERSONS),
)
"""Typed values of Chinese text, tried (before the Latin shapes) only in sentences
holding Han characters; a date is found before a quantity, so "2025年" is a date."""
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_ORDINAL_WORDS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
WORD_NUMBERS = {w: i for i, w in enumerate(_NUMBER_WORDS.split())}
WORD_NUMBERS.update(
    thirty=30, forty=40, fifty=50, sixty=60, seventy=70, eighty=80, ninety=90, hundred=100
)
ORDINALS = {w: i + 1 for i, w in enumerate(_ORDINAL_WORDS.split())}
_WORD_NUMBER = re.compile(r"\b(" + "|".join([*WORD_NUMBERS, *ORDINALS]) + r")\b", re.I)
# Capital letters only: the range À-Ỹ also holds every lowercase Vietnamese vowel, so a
# name run could start inside "chợ" at "ợ"; and never inside a word.
_UPPER = "".join(c for c in map(chr, range(0xC0, 0x1EF9)) if c.isupper())
_CAP = rf"(?<![\w’'\-–])[A-Z{_UPPER}][\w’'\-–]*"
_NAME_RUN = re.compile(rf"{_CAP}(?:\s+(?:de\s+|van\s+|von\s+|&\s+)?{_CAP})*")
_ORG_WORD = re.compile(  # generic English words that end an organisation's name
    r"\b(?:Ltd|Limited|Inc|Corp|Company|Co|Group|Works|Council|Association|Board|Office|"
    r"Fund|Bank|Trust|Agency|Authority|Department|Ministry|Service|University|College|"
    r"School|Library|Laboratory|Institute|Society|Union|Cooperative|Committee|Panel|"
    r"Commission|Court|Foundation|Club|Federation|Party|Partners|Sons|Ferries|Industries|"
    r"Command|Corps|Force|Forces|Guard|Police|Army|Navy|Region|Province|County|City|"
    r"Centre|Center|Hospital|Clinic|Unit|Charity|Team|Museum|Theatre|Church|Inspectorate|"
    r"Stores|Brothers|Daughters|Engineering|Fisheries|Services|Network|Bureau|Government|"
    r"Survey|Station|Programme|Program|Observatory|Project)\b"
)
_PLACE_WORD = re.compile(  # generic English words that end a place's name
    r"\b(?:Street|Road|Lane|Avenue|Square|Row|Quay|Bridge|Park|Field|Farm|Wood|Meadow|"
    r"Valley|Bay|Harbour|Point|Island|River|Brook|Hill|Beach|Coast|Lake)$"
)
_CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b")
_HONORIFIC = re.compile(r"^(?:Mr|Mrs|Ms|Dr|Prof|Sir|Dame|Lady|Lord)\.?$")


@dataclass(frozen=True, slots=True)
class Span:
    """A typed value inside a sentence: offsets, kind and text."""

    start: int
    end: int
    kind: str
    text: str


def value_spans(sentence: str) -> list[Span]:
    """Typed values of ``sentence``, in order (a copy of the cached :func:`_value_spans`)."""
    return list(_value_spans(sentence))


@lru_cache(maxsize=16384)
def _value_spans(sentence: str) -> tuple[Span, ...]:
    """Typed values of ``sentence``, longest first where they overlap.

    Money, percentages and dates are found before bare numbers, so "38.6 million euros"
    is one money span and "March 14, 2025" one date span (its year is never cut off).
    """
    found: list[Span] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, pattern: re.Pattern[str]) -> None:
        for m in pattern.finditer(sentence):
            a, b = m.span()
            if kind == "date" and m.group().islower() and _MONTH_ONLY.fullmatch(m.group()):
                continue  # "may", "march": a verb, not a month
            if kind in _RANGED:  # "50 to 70%", "between 5 and 15 °C": one value
                a = range_start(sentence, a, m.group(), taken)
            if b > a and not any(a < y and x < b for x, y in taken):
                named = (
                    kind == "date"
                    and m.group().isdigit()
                    and (
                        _NAMED_YEAR.search(sentence[:a])
                        or _CODE_PART.search(sentence[:a])  # "HARS-R-2026-01": a code's digits
                    )
                )
                # "Regulation 2024": the year of a name, not a date (kept from bare numbers)
                found.append(Span(a, b, "code" if named else kind, sentence[a:b]))
                taken.append((a, b))

    kinds: tuple[tuple[str, re.Pattern[str]], ...] = (
        ("place", _PATH),  # "C:\\ProgramData\\logs": not a place "C" and two names
        ("money", _MONEY),
        ("percent", _PERCENT),
        ("time", _TIME),
        ("date", _DATE),
        ("quantity", _QUANTITY),
        ("number", _NUMBER),
    )
    if _HAS_HAN.search(sentence):  # Chinese: numbers glued to their units ("86万吨")
        # first in a Chinese sentence; after the Latin shapes in an English one that
        # quotes a Chinese name, so "40 kg" there stays one quantity
        kinds = _CJK_KINDS + kinds if is_cjk_sentence(sentence) else kinds + _CJK_KINDS
    elif detect_language(sentence) == "vi":  # "4,6 km", "tháng 10 năm 2025", "960 tỷ đồng"
        kinds = VI_VALUE_PATTERNS + kinds
    for kind, pattern in kinds:
        add(kind, pattern)
    for m in _WORD_NUMBER.finditer(sentence):
        if not any(m.start() < y and x < m.end() for x, y in taken):
            unit = _UNIT_AFTER.match(sentence, m.end())
            if unit and fold(unit.group(1)) not in STOPWORDS and m.group().lower() in WORD_NUMBERS:
                end = unit.end()  # "seven years", "two weeks": a quantity in words
                found.append(Span(m.start(), end, "quantity", sentence[m.start() : end]))
            else:
                found.append(Span(m.start(), m.end(), "number", m.group()))
    found += _name_spans(sentence, taken)
    return tuple(sorted(found, key=lambda s: s.start))


def _name_spans(sentence: str, taken: list[tuple[int, int]]) -> list[Span]:
    """Runs of capitalised words typed as person, organisation or place."""
    out = []
    for m in _NAME_RUN.finditer(sentence):
        a, b = m.span()
        text = m.group()
        words = text.split()
        if any(a < y and x < b for x, y in taken) or _MONTH_WORD.fullmatch(text):
            continue
        if len(words) == 1 and (a == 0 or sentence[max(0, a - 2) : a].strip() in {".", "!", "?"}):
            continue  # a capitalised first word is not a name by itself
        if not tokenize(text):
            continue  # "The", "It": a stop word, capitalised
        if _ORG_WORD.search(text):
            kind = "org"
        elif len(words) == 1 and _THE_END.search(sentence[:a]) and sentence.startswith(" of ", b):
            kind = "name"  # "the Mayor of Saint-Orvel": a title, not a place
        elif _PLACE_WORD.search(text) or _PLACE_BEFORE.search(sentence[:a]):
            kind = "place"  # "Fenwick Road", "Calder Bay"; "in Brenmoor"
        elif len(words) >= 2 and _INDEFINITE_END.search(sentence[:a]):
            kind = "name"  # "designated a Special Protection Area": a kind of thing, no one
        elif len(words) >= 2 or _HONORIFIC.match(sentence[max(0, a - 5) : a].strip()):
            kind = "person"
        else:
            kind = "name"
        out.append(Span(a, b, kind, text))
    return out


_THE_END = re.compile(r"\bthe\s+$", re.I)
_PLACE_BEFORE = re.compile(r"\b(?:in|at|from|to|near|of|across|outside)\s+(?:the\s+)?$")
_INDEFINITE_END = re.compile(r"\ban?\s+$", re.I)
_NAMED_YEAR = re.compile(
    r"(?<![.!?:]\s)(?<!^)\b(?!(?:In|On|By|Since|From|Until|Before|After)\s)[A-Z][a-z]+\s$"
)
_CODE_PART = re.compile(r"\b[A-Z0-9][A-Z0-9]*-$")
"""A code's part before a year-like number ("FSA-", "R-"): the number is no date."""
_MONTH_WORD = re.compile(rf"(?i:{MONTHS}|{WEEKDAYS})")
_UNIT_AFTER = re.compile(r"\s+([a-z]+)\b")
_MONTH_ONLY = re.compile(rf"(?:{MONTHS})\.?")

ANSWER_KINDS: dict[str, frozenset[str]] = {
    "number": frozenset({"money", "percent", "quantity", "number"}),
    "measure": frozenset({"quantity", "percent", "money", "time"}),
    "date": frozenset({"date", "time"}),
    "person": frozenset({"person", "name", "org"}),
    "org": frozenset({"org", "name", "person"}),
    "place": frozenset({"place", "org", "name", "person"}),
}
"""Which span kinds answer which question type (see :func:`rag.answer.extractive.question_type`)."""


_TIME_ASKED = re.compile(r"\b(?:what|which) times?\b|\bat what hour\b", re.I)


def answer_values(qtype: str, sentence: str, question: str) -> list[Span]:
    """Spans of ``sentence`` of the kind ``qtype`` asks for, minus what the question states
    (for "What time ...?" only clock times: a weekday or a season is no time of day)."""
    kinds = ANSWER_KINDS.get(qtype)
    if not kinds:
        return []
    if qtype == "date" and _TIME_ASKED.search(question):
        kinds = frozenset({"time"})  # "What time ...?" asks for a clock time, not "Friday"
    asked = set(tokenize(question))
    out = []
    for s, toks, relative, last in _sentence_values(sentence):
        if s.kind not in kinds and not (qtype == "date" and relative):
            continue
        if toks and toks <= asked:
            continue  # the question's own "in 2025" or "Port Aldwick" is not the answer
        if s.kind in {"org", "place"} and _names_the_topic(last, toks, asked):
            continue  # "the Tarrach Field Station" for "Who runs the field station?"
        out.append(s)
    return out


@lru_cache(maxsize=16384)
def _sentence_values(sentence: str) -> tuple[tuple[Span, frozenset[str], bool, str], ...]:
    """The sentence's typed values with what :func:`answer_values` reads of each that
    depends on the sentence alone: its term set, whether it is a relative point in time,
    and its last term ("" when it has none). Cached per sentence: a candidate is typed
    for many questions, and for several question types within one."""
    out = []
    for s in _value_spans(sentence):
        words = tokenize(s.text)
        out.append((s, frozenset(words), _relative_time(sentence, s), words[-1] if words else ""))
    return tuple(out)


_TIME_UNIT = re.compile(r"(?:minute|hour|day|week|month|year)s?$", re.I)
_RELATIVE = re.compile(r"\s+(?:after|before|from|of|later|earlier|into)\b", re.I)


def _relative_time(sentence: str, span: Span) -> bool:
    """Is a quantity of time a point in time, counted from an event ("12 months after
    commissioning", "within 21 days of the decision")? It answers "when", as a date does."""
    return (
        span.kind == "quantity"
        and _TIME_UNIT.search(span.text) is not None
        and _RELATIVE.match(sentence, span.end) is not None
    )


def _names_the_topic(last: str, toks: frozenset[str], asked: set[str]) -> bool:
    """Is an organisation's or place's name the question's own topic: its head noun asked
    (``last``, the name's last term) and most of its words too ("Tarrach Seabird Monitoring
    Programme" for "Who started the seabird monitoring programme?"; not "Brenmoor
    Hospital" for "Which hospital ...?")."""
    return bool(last) and last in asked and 2 * len(toks & asked) > len(toks)


# ---------------------------------------------------------------- CJK answer values

CJK_SENTENCE_SHARE = 0.3
"""Share of CJK letters that makes a sentence Chinese text (not English quoting a name)."""


def is_cjk_sentence(sentence: str) -> bool:
    """Whether a sentence is Chinese (or Japanese) text, read with the CJK rules below:
    at least :data:`CJK_SENTENCE_SHARE` of its non-space characters are CJK letters."""
    return _HAS_HAN.search(sentence) is not None and cjk_share(sentence) >= CJK_SENTENCE_SHARE


# ---------------------------------------------------------------- what a question pins down


_PLAIN_CAPS = frozenset(
    ["ok", "okay", "yes", "no", "not", "never", "always", "only", "must", "safe", "please"]
)
"""English words written in capitals for emphasis, not acronyms ("Is it OK to ...?")."""


def asked_names(question: str) -> set[str]:
    """Folded terms of the names and codes a question mentions ("Kessock Harbour",
    "HC-3", "W05", "Class D"): its answer must be about them."""
    out: set[str] = set()
    for span in _name_spans(question, []):
        text = _FIRST_PERSON_WORD.sub(" ", span.text).strip()  # "Once I've": the asker
        if not text:
            continue  # "I", "I've": the asker, no name
        if not (text.isupper() and fold(text) in _PLAIN_CAPS):
            out.update(tokenize(text))  # "OK", "NEVER": a plain word in capitals
    for m in _CODE.finditer(question):
        out.update(tokenize(m.group()))
    # "class D", "zone B": a capital letter naming one of a series (numbers: stated_numbers)
    for m in _SERIES_LETTER.finditer(question):
        if m.group(2) != "I":  # "Can I ...?": the asker
            out.add(fold(m.group(2)))
    return out


_FIRST_PERSON_WORD = re.compile(r"\bI(?:['’](?:ve|m|d|ll))?(?![\w'’])")
_SERIES_LETTER = re.compile(r"\b([A-Za-z]+)\s+([A-Z])\b(?!['’])")


_STATED = re.compile(r"(?:(?<=\s)[−-])?(?<![\w.])\d[\d,]*(?:\.\d+)?")
_STATED_CJK = re.compile(  # a Han character may touch the number: "在2026年", "企业9家"
    rf"(?:(?<=\s)[−-])?(?<![^\W{HAN_RANGE}])(?<!\.)\d[\d,]*(?:\.\d+)?"
)


def stated_numbers(text: str, *, words: bool = True) -> set[str]:
    """Numbers written in digits or words ("ten", "third", "1880s"), as strings of digits;
    with ``words=False`` digits only (what a text in another language can be checked for:
    "three quarters" is 前三季度 in Chinese). A new set each call (callers may change it)."""
    return set(_stated_numbers(text, words))


@lru_cache(maxsize=16384)
def _stated_numbers(text: str, words: bool) -> frozenset[str]:
    """:func:`stated_numbers`, cached: the abstention features and the many-article checks
    read the same sentences (and documents) for every question they answer."""
    text = _LIST_MARKER.sub("", text)  # "4. Corvan ...": an item's place, not a number it states
    pattern = _STATED_CJK if _HAS_HAN.search(text) else _STATED
    out = {n.replace(",", "").replace("−", "-") for n in pattern.findall(text)}
    out |= {re.sub(r"s$", "", n) for n in re.findall(r"\b\d{3,4}s\b", text)}
    for m in _WORD_NUMBER.finditer(text) if words else ():
        w = m.group().lower()
        out.add(str(WORD_NUMBERS.get(w, ORDINALS.get(w))))
    return frozenset(n.rstrip("0").rstrip(".") if "." in n else n for n in out)


_LIST_MARKER = re.compile(rf"^[ \t]*{ITEM_NUMBER.pattern}", re.M)
""":data:`rag.text.ITEM_NUMBER` at any line's start, indented or not ("4. ", "2) ")."""


def capital_qualifiers(text: str) -> dict[str, set[str]]:
    """For each capitalised word, the capitalised words right before it, with only a space
    between ("Deputy Mayor" -> {"mayor": {"deputy"}}; "" when none): a title asked at
    one rank is not answered by another."""
    return {k: set(v) for k, v in _capital_qualifiers(text).items()}


@lru_cache(maxsize=8192)
def _capital_qualifiers(text: str) -> Mapping[str, frozenset[str]]:
    """:func:`capital_qualifiers`, cached and read-only (the gate checks the same sentences
    for many questions)."""
    out: dict[str, set[str]] = {}
    prev, prev_end = "", -2
    for m in re.finditer(r"[\w’'-]+", text):
        word = m.group()
        if word[:1].isupper():
            joined = (
                prev[:1].isupper()
                and text[prev_end : m.start()] == " "
                and fold(prev) not in STOPWORDS
            )
            out.setdefault(_key(word), set()).add(_key(prev) if joined else "")
        prev, prev_end = word, m.end()
    return MappingProxyType({k: frozenset(v) for k, v in out.items()})


@lru_cache(maxsize=8192)
def _word_keys(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The :func:`_key` of every word of ``text``, and of its lower-case words (cached)."""
    found = re.findall(r"[\w’'-]+", text)
    return frozenset(_key(w) for w in found), frozenset(_key(w) for w in found if w.islower())


def modifier_pairs(question: str) -> list[tuple[str, str]]:
    """Adjacent content words of a question, (modifier, head) as folded stems: "deputy
    head" -> ("deputy", "head"), "Class B licences" -> ("class", "b"), ("b", "licence")."""
    words = _WORDS.findall(fold(question))
    out = []
    for m, h in zip(words, words[1:], strict=False):
        if m not in STOPWORDS and h not in STOPWORDS:
            out.append((stem(m), stem(h)))
    return out


_WORDS = re.compile(r"[a-z0-9]+")


def _ranked_title(word: str, q_quals: Mapping[str, frozenset[str]]) -> bool:
    """Does the question put one capitalised qualifier, itself opening the name, before
    ``word`` ("Vice Chairman", "Party Secretary"; not "Calder Bay Fisheries")?"""
    quals = q_quals.get(word, {""}) - {""}
    return bool(quals) and all(q_quals.get(q, {""}) == {""} for q in quals)


@lru_cache(maxsize=8192)
def _titles(sentence: str) -> frozenset[str]:
    """Capitalised words used as a title in ``sentence``: before a name or after a comma
    that follows one ("Wei Tao, Chairman of ..."). Cached per sentence."""
    out = {_key(m.group(1)) for m in re.finditer(r",\s+(?:and\s+)?([A-ZÀ-ỸĐ][\w’'-]*)", sentence)}
    out |= {_key(m.group(1)) for m in re.finditer(r"\band\s+([A-ZÀ-ỸĐ][\w’'-]*)\s+of\b", sentence)}
    return frozenset(out)


def _titles_name(word: str, sentence: str, q_words: frozenset[str]) -> bool:
    """Is ``word`` used as a title right before a person's name that the question does not
    give ("Mayor Helen Ostrander"), not inside an organisation's name ("Border Guard
    Command")?"""
    return any(
        title == word and first not in q_words and plain
        for title, first, plain in _title_pairs(sentence)
    )


_BEFORE_CAPITALS = re.compile(r"([\w’'-]+)\s+(?=([A-ZÀ-ỸĐ][\w’'-]*(?:\s+[A-ZÀ-ỸĐ][\w’'-]*)*))")


@lru_cache(maxsize=8192)
def _title_pairs(sentence: str) -> tuple[tuple[str, str, bool], ...]:
    """Each word followed by a run of capitalised words in ``sentence``: (its key, the key
    of the run's first word, whether neither is an organisation's word). What
    :func:`_titles_name` reads, cached per sentence (the gate asks it for many questions)."""
    return tuple(
        (
            _key(m.group(1)),
            _key(m.group(2).split()[0]),
            not _ORG_WORD.search(m.group(2)) and not _ORG_WORD.search(m.group(1)),
        )
        for m in _BEFORE_CAPITALS.finditer(sentence)
    )


def _key(word: str) -> str:
    """A word folded for comparison, possessive and apostrophe style removed."""
    return fold(word).replace("’", "'").removesuffix("'s")


def qualifier_mismatch(question: str, sentence: str) -> bool:
    """A title the question asks about appears in the sentence only under a qualifier the
    question does not use: "the mayor" asked, only "Deputy Mayor X" named; or "the Party
    Secretary" asked and only "Deputy Secretary" named. Whoever it names holds another rank.

    Only words the question writes in lower case ("the mayor", checked where the sentence
    uses them as a title before a name) or under a capitalised qualifier ("Party
    Secretary") are checked, so names ("Walter Ostrander") are not.
    """
    q_quals = _capital_qualifiers(question[:1].lower() + question[1:])
    q_words, lower = _word_keys(question)
    modifiers = {m for m, _ in modifier_pairs(question)}  # "safety" of "the safety notice"
    for word, quals in _capital_qualifiers(sentence).items():
        if word in _FUNCTION or (word in lower and stem(word) in modifiers):
            continue  # a word that qualifies another noun of the question asks no title
        if word in lower:
            if not _titles_name(word, sentence, q_words):
                continue  # "the Border Guard Command": part of a name, not a title
            allowed = {""} | q_words
        elif _ranked_title(word, q_quals) and (quals - {""} or word in _titles(sentence)):
            # "Party Secretary" asked, "Deputy Secretary" found; "Vice Chairman" asked,
            # only "Chairman" found
            allowed = q_quals[word] | q_words
        else:
            continue
        if not quals & allowed:
            return True
    s_words, lower_s = _word_keys(sentence)
    for word in q_quals:  # "Vice Chair" asked, only "the board's chair" (no vice) found
        if _ORG_WORD.fullmatch(word.title()):
            continue  # "Housing Office" asked, "the office" found: the same organisation
        if _ranked_title(word, q_quals) and word in lower_s and not q_quals[word] & s_words:
            return True
    return False


_FUNCTION = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "for",
        "to",
        "by",
        "and",
        "or",
        "is",
        "was",
        "are",
        "were",
        "who",
        "what",
        "which",
        "whom",
        "whose",
        "how",
        "when",
        "where",
        "why",
        "does",
        "did",
        "do",
        "has",
        "have",
        "had",
        "its",
        "their",
        "his",
        "her",
    ]
)
