"""Numbers bound to what they count, and the bounds a sentence sets: the user's case read
against a rule's thresholds.

A question often states a number with its noun ("across two zones", "I've been here six
years", "My claim comes to £2,100"). A sentence *binds* a number to a noun the same way
("| 2 zones | £3.40 |", "one zone"), and a rule states *bounds* ("over £2,000", "5 to 9
years", "first 8,000 miles"). :func:`number_bindings` reads the first, :func:`holds_binding`
and :func:`bounded_numbers` the second; the ranking (rag.answer.extractive) and the gate's
number features (rag.answer.abstain) use them. A number can also *label* a category
("grade 3", "grades 1 to 4"): :func:`labels` reads those, :func:`labelled_numbers` finds
the asked label held by a range or a list (and rag.answer.slots.rival_label a rival one).
Split from rag.answer.spans (typed spans),
whose number words they share. General English: nothing names a word of one corpus.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.answer.spans import ORDINALS, WORD_NUMBERS
from rag.text import STOPWORDS, fold, stem


def bounded_numbers(numbers: set[str], text: str, question: str) -> set[str]:
    """Those of ``numbers`` (strings of digits, from ``question``) that a bound ``text``
    states holds: "over £2,000" holds a claim of £2,100, "more than 5 years" six years,
    "first 8,000 miles" 6,000, "5 to 9 years" six. A user's own case ("My claim comes to
    £2,100", "I've been here six years") is answered by the rule's threshold, which never
    states the user's number. Only amounts (a number with its noun, unit or currency):
    "grade 5", "severity 2" name a category; and not a number the question itself puts
    in a bound ("falls below 20 percent" asks about that threshold, not another). The
    bound must be on the same thing: "within 30 days" holds no "ten years"."""
    units = {n: noun for n, noun in number_bindings(question)}
    units |= {m.group(2).replace(",", ""): m.group(1) for m in _CURRENCY_NUMBER.finditer(question)}
    out = set()
    for n in numbers & (set(units) - set(_bounds(question))):
        v = float(n)
        if any(
            _holds(v, kind, bound) and unit in ("", units[n])
            for kind, bound, unit in _bounds_of(text)
        ):
            out.add(n)
    return out


def labelled_numbers(numbers: set[str], text: str, question: str) -> set[str]:
    """Those of ``numbers`` that the question puts after a label word ("grade 3", "zone
    2") and that ``text`` holds in a range or a list on the same word ("grades 1 to 4",
    "zones 1-3", "grades 5 and 6"): the rule for a span of categories covers each."""
    asked, held = labels(question), labels(text)
    return {
        n
        for n in numbers
        if n.isdigit()
        and any(int(n) in nums and int(n) in held.get(noun, ()) for noun, nums in asked.items())
    }


@lru_cache(maxsize=8192)
def labels(text: str) -> dict[str, frozenset[int]]:
    """The numbered labels of ``text`` (cached): a word and the numbers after it, a range read
    whole ("grades 1 to 4" -> {"grade": {1, 2, 3, 4}}); years and amounts left out."""
    out: dict[str, set[int]] = {}
    for m in _LABEL.finditer(text):
        noun = fold(m.group(1)).removesuffix("s")
        if noun in STOPWORDS or len(noun) < 3:
            continue
        nums = [int(n) for n in re.findall(r"\d+", m.group(2))]
        if re.search(r"\d\s*(?:to|-|–)\s*\d", m.group(2)) and len(nums) == 2:
            nums = list(range(nums[0], nums[1] + 1)) if nums[1] - nums[0] <= 50 else nums
        out.setdefault(noun, set()).update(nums)
    return {k: frozenset(v) for k, v in out.items()}


_LABEL = re.compile(
    r"\b([A-Za-z]{3,})\s+(\d{1,2}(?:\s*(?:to|-|–|,|and|or)\s*\d{1,2})*)\b(?![.,]?\d|\s*(?:%|percent|"
    r"per\s*cent|days?|weeks?|months?|years?|hours?|minutes?|times)\b)",
    re.I,
)
"""A word and the number (list, range) it labels; not a count of something ("in 7 days")."""


def holds_binding(number: str, noun: str, text: str) -> bool:
    """Does ``text`` bind ``number`` to ``noun``, as it is or inside a range or bound it
    states on that noun ("5 to 9 years" holds six years, "less than 2 years" does not)?"""
    own = number_bindings(text)
    if (number, noun) in own:
        return True
    if not any(n == noun for _, n in own):
        return False
    v = float(number)
    return any(_holds(v, kind, bound) for kind, bound, _ in _bounds_of(text))


def _holds(v: float, kind: str, bound: tuple[float, float]) -> bool:
    lo, hi = bound
    if kind == "lower":
        return v >= lo
    if kind == "upper":
        return v <= hi
    return lo <= v <= hi


@lru_cache(maxsize=8192)
def _bounds(text: str) -> tuple[str, ...]:
    """The numbers of ``text`` that a bound word or a range states."""
    return tuple(
        str(int(x)) if x == int(x) else str(x) for _, b, _ in _bounds_of(text) for x in set(b)
    )


@lru_cache(maxsize=8192)
def _bounds_of(text: str) -> tuple[tuple[str, tuple[float, float], str], ...]:
    """The bounds ``text`` states, each with what it bounds: ("lower", (x, x), unit) for
    "over x", ("upper", (x, x), unit) for "up to x", ("range", (a, b), unit) for "a to b"
    (cached per sentence). The unit is the currency sign before the number, else the stem
    of the word after it ("within 30 days": "day"), else ""."""
    out = []
    for m in _BOUND.finditer(text):
        word, x = m.group(1).lower().split()[0], float(m.group(2).replace(",", ""))
        out.append(("upper" if word in _UPPER_WORDS else "lower", (x, x), _unit(text, m)))
    for m in _RANGE.finditer(text):
        a, b = (float(g.replace(",", "")) for g in m.groups())
        if a < b:
            out.append(("range", (a, b), _unit(text, m)))
    return tuple(out)


def _unit(text: str, m: re.Match[str]) -> str:
    """What the bound ``m`` of ``text`` is on: its currency sign, or the stem of the word
    right after its number, or "" (a bound that ends the phrase: "over £1,500:")."""
    sign = re.search(r"[£$€]", m.group())
    if sign:
        return sign.group()
    after = re.match(r"\s*([A-Za-z]+)", text[m.end() :])
    if after is None or fold(after.group(1)) in STOPWORDS:
        return ""
    return stem(fold(after.group(1)))


_UPPER_WORDS = frozenset({"up", "under", "less", "fewer", "below", "within", "no", "first"})
_BOUND = re.compile(
    r"\b(over|more\s+than|above|exceeding|greater\s+than|after|beyond|from|up\s+to|"
    r"under|less\s+than|fewer\s+than|below|within|at\s+most|at\s+least|no\s+more\s+than|"
    r"first)\s+(?:the\s+|your\s+)?[£$€]?(\d[\d,]*(?:\.\d+)?)(?:st|nd|rd|th)?\b",
    re.I,
)
_RANGE = re.compile(r"(?<![\w.])[£$€]?(\d[\d,]*)\s*(?:to|-|–|and)\s*[£$€]?(\d[\d,]*)(?![\w.])")
_CURRENCY_NUMBER = re.compile(r"([£$€])(\d[\d,]*(?:\.\d+)?)")


def number_bindings(text: str) -> frozenset[tuple[str, str]]:
    """The numbers ``text`` states right before a word, with that word's stem ("two zones",
    "2 zones" -> ("2", "zone")): a question's "across two zones" is held by a sentence that
    binds the same number to the same noun, and contradicted by one that binds another
    ("one zone"). Numbers in digits or words; years are left out (they date a thing)."""
    return _number_bindings(text)


@lru_cache(maxsize=16384)
def _number_bindings(text: str) -> frozenset[tuple[str, str]]:
    """:func:`number_bindings`, cached: the ranking reads each sentence for many questions."""
    out = set()
    for m in _BOUND_NUMBER.finditer(text):
        raw, word = m.group(1).lower(), m.group(2).lower()
        n = WORD_NUMBERS.get(raw, ORDINALS.get(raw)) if raw.isalpha() else raw.replace(",", "")
        if n is None or str(n) == "0" or re.fullmatch(r"1[89]\d\d|20\d\d", raw):
            continue
        if word in STOPWORDS or word.isdigit():
            continue
        out.add((str(n), stem(word)))
    return frozenset(out)


_BOUND_NUMBER = re.compile(
    r"(?<![\w.,£$€])(\d[\d,]*|" + "|".join([*WORD_NUMBERS, *ORDINALS]) + r")\s+([A-Za-z]+)\b", re.I
)
