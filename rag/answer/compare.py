"""Comparable values: what two sources give for one question, and whether they differ.

The typed spans of :mod:`rag.answer.spans` made comparable (:func:`make_value`): money and
figures with their unit (abbreviations spelt out, :func:`unit_key`: "24 km" and "22
kilometres" measure alike), dates as (year, month, day), names as their words. Two values
*conflict* (:func:`conflict`) when they are of one kind and unit and differ; a value a
sentence gives only as a former state ("was due to close on 30 May, to 27 June") is
recognised by :func:`former`. Used by :mod:`rag.answer.supporting`, :mod:`rag.answer.disagree`
and :mod:`rag.answer.recency`; no word of any corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.answer.qtypes import count_focus, question_type
from rag.answer.spans import MONTHS, WORD_NUMBERS, Span, value_spans
from rag.text import STOPWORDS, fold, stem

MIN_NAME_SIMILARITY = 0.75  # two spellings of one name: similar, not equal


@dataclass(frozen=True, slots=True)
class Value:
    """The value a sentence gives for the question: its span and a comparison key."""

    span: Span
    kind: str  # money | percent | quantity | number | date | name
    key: tuple  # what two values must share to be compared (currency, unit, ...)
    amount: tuple  # what they must differ in to conflict (the figure, the date, the name)


_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9}
_MONTH_NO = {
    m: i
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ],
        start=1,
    )
    for m in names.split()
}
_MONTH_RE = re.compile(rf"\b({MONTHS})\b\.?", re.I)
_YEAR_RE = re.compile(r"\b(1[5-9]\d{2}|20\d{2})\b")
_DAY_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\b")
_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
NAME_KINDS = frozenset({"person", "name", "org", "place"})


def _figure(text: str) -> float | None:
    m = _NUM.search(text)
    if not m:
        return None
    try:
        return float(m.group().replace(",", ""))
    except ValueError:
        return None


def _scale(text: str) -> float:
    m = re.search(r"\d\s*(thousand|million|billion|bn|m|k)\b", text, re.I)
    return _SCALES[m.group(1).lower()] if m else 1.0


_CURRENCIES = {
    "£": "gbp",
    "pound": "gbp",
    "pounds": "gbp",
    "sterling": "gbp",
    "gbp": "gbp",
    "$": "usd",
    "us$": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "usd": "usd",
    "€": "eur",
    "euro": "eur",
    "euros": "eur",
    "eur": "eur",
    "¥": "jpy",
    "yen": "jpy",
    "jpy": "jpy",
}
"""Currency symbols, words and codes that name one currency ("£1.2bn", "1.3 billion
pounds", "GBP 4m" are all pounds)."""
_SCALE_WORDS = re.compile(
    r"(?<=\d)\s*(?:thousand|million|billion|bn|m|k)\b|\b(?:thousand|million|billion)\b"
)


def currency_key(text: str) -> str:
    """The currency of an amount, whatever way it is written: "£1.2bn" and "1.3 billion
    pounds" -> "gbp"; an unknown one is kept as written ("kr")."""
    rest = re.sub(r"[\d.,]", " ", _SCALE_WORDS.sub(" ", fold(text)))
    words = re.findall(r"us\$|[^\w\s]|[^\W\d_]+", rest)
    known = [_CURRENCIES[w] for w in words if w in _CURRENCIES]
    return known[0] if known else "".join(words)


PERIODS: dict[str, frozenset[int]] = {
    "spring": frozenset({3, 4, 5}),
    "summer": frozenset({6, 7, 8}),
    "autumn": frozenset({9, 10, 11}),
    "fall": frozenset({9, 10, 11}),
    "winter": frozenset({12, 1, 2}),
    "early": frozenset({1, 2, 3, 4}),
    "mid": frozenset({5, 6, 7, 8}),
    "late": frozenset({9, 10, 11, 12}),
    "end": frozenset({10, 11, 12}),
    "first half": frozenset(range(1, 7)),
    "second half": frozenset(range(7, 13)),
    "h1": frozenset(range(1, 7)),
    "h2": frozenset(range(7, 13)),
    "q1": frozenset({1, 2, 3}),
    "q2": frozenset({4, 5, 6}),
    "q3": frozenset({7, 8, 9}),
    "q4": frozenset({10, 11, 12}),
    "first quarter": frozenset({1, 2, 3}),
    "second quarter": frozenset({4, 5, 6}),
    "third quarter": frozenset({7, 8, 9}),
    "fourth quarter": frozenset({10, 11, 12}),
}
"""The months a part of a year spans ("autumn 2027", "mid-2026", "Q3 2026", "the first half
of 2026"): "spring 2026" and "autumn 2026" are different dates, "September 2026" is within
"autumn 2026"."""
_PERIOD_NAMES = "|".join(
    sorted((re.escape(p).replace(r"\ ", r"\s+") for p in PERIODS), key=len, reverse=True)
)
_PERIOD_BEFORE = re.compile(
    rf"\b(?P<period>{_PERIOD_NAMES})(?:\s*-\s*|\s+of\s+(?:the\s+)?|\s+)$", re.I
)
_PERIOD_IN = re.compile(rf"\b(?P<period>{_PERIOD_NAMES})\b", re.I)


def with_period(sentence: str, span: Span) -> Span:
    """A date span that gives a year alone, widened to the part of the year written before
    it ("2027" of "in autumn 2027" -> "autumn 2027"; "mid-2026"; "the spring of 2026");
    other spans unchanged."""
    if span.kind != "date" or _MONTH_RE.search(span.text) or not _YEAR_RE.search(span.text):
        return span
    m = _PERIOD_BEFORE.search(sentence[max(0, span.start - 24) : span.start])
    if m is None:
        return span
    start = span.start - (min(span.start, 24) - m.start())
    return Span(start, span.end, span.kind, sentence[start : span.end])


def _date_parts(text: str) -> tuple[int | None, int | None, int | None, frozenset[int]] | None:
    """(year, month, day, months of the named part of the year) of a date span, unknown
    parts None (no part named: empty); None when it is no calendar date ("spring" alone,
    "Monday")."""
    m = _ISO_RE.match(text.strip())
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3)), frozenset()
    month_m = _MONTH_RE.search(text)
    year_m = _YEAR_RE.search(text)
    month = _MONTH_NO.get(month_m.group(1).lower()) if month_m else None
    year = int(year_m.group(1)) if year_m else None
    rest = _YEAR_RE.sub(" ", text)
    day_m = _DAY_RE.search(rest) if month else None
    day = int(day_m.group(1)) if day_m and 1 <= int(day_m.group(1)) <= 31 else None
    if month is None and year is None:
        return None
    period = _PERIOD_IN.search(text) if month is None else None
    part = PERIODS[re.sub(r"\s+", " ", period.group("period").lower())] if period else frozenset()
    return year, month, day, part


def make_value(span: Span) -> Value | None:
    """The comparable form of a typed span (None: nothing to compare, e.g. a weekday)."""
    text = span.text
    if span.kind == "money":
        figure = _figure(text)
        if figure is None:
            return None
        return Value(span, "money", ("money", currency_key(text)), (figure * _scale(text),))
    if span.kind == "percent":
        figure = _figure(text)
        return None if figure is None else Value(span, "percent", ("percent",), (figure,))
    if span.kind == "quantity" and not _NUM.search(text):
        return _word_quantity(span)
    if span.kind in {"quantity", "number"}:
        figure = _figure(text)
        if figure is None:
            return None
        words = re.findall(r"[^\W\d_]+|°\s?[CF]|%", text[_NUM.search(text).end() :])  # type: ignore[union-attr]
        words = [w for w in words if fold(w) not in _SCALES]
        unit = fold(words[0]) if words else ""
        if unit in STOPWORDS or not unit:
            return Value(span, "number", ("number",), (figure,))
        return Value(span, "quantity", ("quantity", unit_key(unit)), (figure,))
    if span.kind == "date":
        parts = _date_parts(text)
        return None if parts is None else Value(span, "date", ("date",), parts)
    if span.kind in NAME_KINDS:
        return Value(span, "name", ("name",), tuple(fold(text).split()))
    return None


def _word_quantity(span: Span) -> Value | None:
    """A count written in words ("eight operating theatres", "ten weeks"): its figure and
    the unit word after it, comparable with "6 operating theatres"; None for other words."""
    words = re.findall(r"[^\W\d_]+", fold(span.text))
    if len(words) < 2 or words[0] not in WORD_NUMBERS or words[1] in STOPWORDS:
        return None
    return Value(
        span, "quantity", ("quantity", unit_key(words[1])), (float(WORD_NUMBERS[words[0]]),)
    )


_UNIT_ALIASES = {
    "km": "kilometre",
    "kilometer": "kilometre",
    "cm": "centimetre",
    "mm": "millimetre",
    "meter": "metre",
    "mi": "mile",
    "ft": "foot",
    "feet": "foot",
    "kg": "kilogram",
    "kilo": "kilogram",
    "g": "gram",
    "t": "tonne",
    "ton": "tonne",
    "l": "litre",
    "liter": "litre",
    "ml": "millilitre",
    "ha": "hectare",
    "kw": "kilowatt",
    "mw": "megawatt",
    "gw": "gigawatt",
    "kwh": "kilowatt-hour",
    "mwh": "megawatt-hour",
    "gwh": "gigawatt-hour",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "yr": "year",
    "yrs": "year",
}
"""Standard abbreviations and spellings of units (any domain): "24 km" and "22 kilometres"
measure the same thing."""


def _measure_units() -> frozenset[str]:
    """Unit keys of the standard units of measurement (:data:`_UNIT_ALIASES`, both the
    abbreviations and the words, and the common units of time)."""
    words = {*_UNIT_ALIASES, *_UNIT_ALIASES.values()}
    words |= {"second", "minute", "hour", "day", "week", "month", "year", "percent", "degree"}
    words |= {"metre", "mile", "inch", "yard", "acre"}
    return frozenset(unit_key(w) for w in words)


def unit_key(word: str) -> str:
    """The comparable form of a unit word: folded, stemmed, abbreviations spelt out
    ("km", "kilometers", "kilometres" -> one key)."""
    w = stem(fold(word))
    return stem(_UNIT_ALIASES.get(w, _UNIT_ALIASES.get(fold(word), w)))


MEASURE_KEYS = _measure_units()
"""Unit keys (:func:`unit_key`) of units that measure (a length, a power, a time): a figure
in one is no count of a thing under another name. The raw measure words of all three
languages, for the words after "how many" / "bao nhiêu" / "多少", are
:data:`rag.answer.counted.MEASURE_UNITS`."""


def _name_tail(value: Value) -> str:
    return " ".join(value.amount[-2:])


def conflict(a: Value, b: Value, question: str = "") -> bool:
    """Do ``a`` and ``b`` give different values for the same thing?

    Figures: the same kind and unit (or a unit that is the question's counted thing),
    different amounts. Dates: a known part (year, month, day) differs where both have it.
    Names: two spellings of one name (similar, not equal; the role words before them are
    not compared).
    """
    if a.kind == "date" and b.kind == "date":
        return _comparable_dates(a, b) and (
            any(
                x is not None and y is not None and x != y
                for x, y in zip(a.amount[:3], b.amount[:3], strict=True)
            )
            or not _months(a) & _months(b)
        )
    if a.kind == "name" and b.kind == "name":
        x, y = _name_tail(a), _name_tail(b)
        if x == y or _within(x, b) or _within(y, a):  # "Halvorsen" is "Marit Halvorsen"
            return False
        return SequenceMatcher(None, x, y).ratio() >= MIN_NAME_SIMILARITY
    if a.key != b.key and not _counted_alike(a, b, question):
        return False
    return abs(a.amount[0] - b.amount[0]) > 1e-9 * max(abs(a.amount[0]), 1.0)


def _within(tail: str, value: Value) -> bool:
    """Are the words of ``tail`` a run of whole words of ``value``'s name ("Castellan" is
    not within "Priya Castellane": a spelling, not a shorter form)?"""
    words, inner = tail.split(), tuple(fold(value.span.text).split())
    n = len(words)
    return any(tuple(words) == inner[i : i + n] for i in range(len(inner) - n + 1))


def _months(value: Value) -> frozenset[int]:
    """The months a date may fall in: its month, the months of the part of the year it
    names ("autumn"), else any."""
    month, part = value.amount[1], value.amount[3]
    return frozenset({month}) if month is not None else part or frozenset(range(1, 13))


def _comparable_dates(a: Value, b: Value) -> bool:
    """Both dates give a year, or both a day of a month ("January" alone pins nothing)."""
    (ya, ma, da, _), (yb, mb, db, _) = a.amount, b.amount
    return (ya is not None and yb is not None) or None not in (ma, da, mb, db)


def _counted_alike(a: Value, b: Value, question: str) -> bool:
    """Two counts of units named differently ("220 people", "180 jobs") count the same
    thing when one of the units is what the question counts ("how many people ...")."""
    if {a.kind, b.kind} - {"quantity", "number"}:
        return False
    focus = {unit_key(t) for t in count_focus(question)}
    units = {k[1] for k in (a.key, b.key) if len(k) > 1}
    if units & MEASURE_KEYS:
        return False  # "450 megawatts" and "410,000 households" measure different things
    return bool(focus & units)


_FORMER = re.compile(
    r"(?:\b(?:was|were|had\s+been)\s+(?:originally\s+|initially\s+|first\s+)?"
    r"(?:due|expected|scheduled|planned|set|meant|supposed|intended|forecast|estimated)\b"
    r"|\b(?:originally|initially|previously|formerly|earlier|original|initial|previous)\b"
    r"|\bfrom(?:\s+the|\s+an?)?)"
    r"[^,;:.()]{0,40}$",
    re.I,
)
"""Wording that gives the value after it as a former state: "which was due to close on
<A>, to <B>", "originally <A>", "the original estimate was <A>", "moved from <A> to <B>"
(general English, any corpus)."""


def former(sentence: str, span: Span) -> bool:
    """Does ``sentence`` give ``span`` only as a former or superseded value (another value
    follows as the current one: "was due to close on 30 May, to 27 June")? Such a value
    is the sentence's answer only when it gives no other."""
    before = sentence[max(0, span.start - 60) : span.start]
    m = _FORMER.search(before)
    if not m:
        return False
    if m.group().lower().startswith("from"):
        return bool(re.match(r"\s+to\b", sentence[span.end :]))
    return True


_ASKS_FORMER = re.compile(
    r"\b(?:previously|formerly|originally|used\s+to|at\s+first|prior\s+to\s+(?:this|the)|"
    r"before\s+(?:this|the|that)\s+(?:edition|change|changes|increase|rise|cut|update|"
    r"version|revision|policy|rule|review)|(?:the|its)\s+(?:old|previous|former|original)\s+"
    r"(?!one\b)\w+|before\s*\?\s*$)",
    re.I,
)
"""A question for a value as it was before a change ("What was the allowance before this
edition?", "What did it used to cost?", "the previous limit")."""


def asks_former(question: str) -> bool:
    """Does the question ask for a former value (:data:`_ASKS_FORMER`)?"""
    return bool(_ASKS_FORMER.search(question))


def states_former(sentence: str) -> bool:
    """Does ``sentence`` give some value as a former state ("rose from £20 to £26",
    "originally due on 30 May")?"""
    return any(former(sentence, v) for v in value_spans(sentence))


def same_value(a: Value, b: Value) -> bool:
    """Do two values state the same thing (one kind and unit; equal figure, compatible
    date, same name)?"""
    if a.kind != b.kind or a.key != b.key:
        return False
    if a.kind == "date":
        return _comparable_dates(a, b) and not conflict(a, b)
    if a.kind == "name":
        return _name_tail(a) == _name_tail(b)
    return a.amount == b.amount


# ---------------------------------------------------------------------------- the asked slot

MONEY_CUE = re.compile(
    r"\b(?:(?:cost|price|budget|spend|pay|worth|fund|fee|charge|bill|invest|investment|revenue"
    r"|income|salar(?:y|ie)|loan)(?:s|es|ed|d|ing)?|spent|paid)\b",
    re.I,
)
"""Ordinary English words (and their inflections: "spending", "funded", "budgets") that ask
for, or state, an amount of money."""

_IN_MODIFIER = re.compile(
    r"\b(?:under|within|from|in|into|through|via)\s+(?:[\w’'-]+\s+){0,3}$", re.I
)


def asked_money_cues(question: str) -> set[str]:
    """Stems of the money words that say what a question asks for: not one in a phrase
    that only sets the frame ("What is per-pupil spending under the 2025-26 budget?" asks
    for spending, not the budget; "How much is the budget for 2025-26?" for the budget).
    All of them when every one stands in such a phrase."""
    found = list(MONEY_CUE.finditer(question))
    asked = [m for m in found if not _IN_MODIFIER.search(question[: m.start()])]
    cues = {stem(fold(m.group())) for m in (asked or found)}
    return cues.union(*(family for family in MONEY_FAMILIES if cues & family))


MONEY_FAMILIES = (frozenset(stem(w) for w in ("cost", "price", "bill", "spend", "spent")),)
"""Money words that ask for one amount: "the price of building X" is what X will cost.
Paying and charging are not one family: who pays whom differs ("how much does the firm
pay me" is not "we charge a fee")."""


CUE_WINDOW = 3  # words between the question's own money word and the amount it governs


def priced_by(question: str, sentence: str, span: Span) -> bool:
    """Does an amount stand within :data:`CUE_WINDOW` words after one of the question's own
    money words ("to cost £1.2 billion" for "How much will it cost?"; not "raised £1.2
    billion")? Then the sentence states the amount the question asks for."""
    cues = asked_money_cues(question)
    before = re.findall(r"[\w’'-]+", sentence[: span.start])[-CUE_WINDOW:]
    return bool(cues & {stem(fold(w)) for w in before})


_ATTRIBUTE = re.compile(
    r"\bwhat(?:'s|’s|\s+is|\s+was|\s+will|\s+would)?\s+(?:be\s+)?the\s+"
    r"(?:total\s+|overall\s+|planned\s+)?([^\W\d_]+)\s+of\b",
    re.I,
)
"""An open question for a measured attribute: "What will the capacity of X be?"."""


def asked_attribute(question: str) -> str | None:
    """The attribute an open "what is the X of ..." question asks for ("capacity"), or
    None (a question of another type, or one about a name or a figure already)."""
    if question_type(question) != "other":
        return None
    m = _ATTRIBUTE.search(question)
    return fold(m.group(1)) if m and m.group(1).lower() not in STOPWORDS else None


_UNIT_ADJECTIVE = re.compile(r"(?<![\w.,-])\d[\d,]*(?:\.\d+)?-[^\W\d_]{2,}\b(?!-)")


YEAR_RANGE = re.compile(r"\b(?:1[5-9]|20)\d\d\s?[-–/]\s?(?:\d\d){1,2}\b(?![-–/]\d)")
"""A span of years written as one label ("2025-26", "2025–2026", "2024/25"): a school or
financial year, named as a period, not the date of an event nor a figure."""


def in_year_range(sentence: str, span: Span) -> bool:
    """Does ``span`` lie inside a span of years (:data:`YEAR_RANGE`: the "2025" or "26" of
    "the 2025-26 budget")? Such a span labels a period; it is no date or figure a
    sentence gives for the question."""
    return any(
        m.start() <= span.start and span.end <= m.end() and _rising(m.group())
        for m in YEAR_RANGE.finditer(sentence)
    )


def _rising(text: str) -> bool:
    """Is the second year of a :data:`YEAR_RANGE` match later than the first ("2025-26";
    not the month of "2025-06")?"""
    first, second = re.findall(r"\d+", text)[:2]
    return int(second) > int(first[-len(second) :]) or (len(second) == 4 and second > first)


def unit_adjectives(sentence: str, spans: list[Span]) -> list[Span]:
    """Figures written as an adjective with their unit ("the 480-megawatt project", "a
    24-metre wall"), which the span typing does not read as quantities; not inside a
    span it found."""
    return [
        Span(m.start(), m.end(), "quantity", m.group())
        for m in _UNIT_ADJECTIVE.finditer(sentence)
        if not any(sp.start < m.end() and m.start() < sp.end for sp in spans)
    ]
