"""A range written as one value: "50 to 70%", "between 5 and 15 °C", "12 to 15 days".

The span typing of :mod:`rag.answer.spans` finds a value by its shape ("70%", "15 °C");
the number before it that opens a range ("50 to ") belongs to it, or the answer would
lead with half the value and type the other half as a quantity of "to". Nothing here
names a word of one corpus.
"""

from __future__ import annotations

import re

from rag.text import STOPWORDS, fold

NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
"""A number as written: digits with thousands commas and decimals ("2,900", "4.52")."""


def range_start(sentence: str, a: int, value: str, taken: list[tuple[int, int]]) -> int:
    """Where the value at ``a`` starts when a range's first number stands right before it
    (:data:`_RANGE_BEFORE`), rising to it, and the value ends in a unit; else ``a``."""
    r = _RANGE_BEFORE.search(sentence, 0, a)
    if r is None or not _unit_word(value) or any(r.start() < y and x < a for x, y in taken):
        return a
    high = _NUMBER_IN.search(value)
    low = float(r.group("low").replace(",", ""))
    rising = high is not None and low < float(high.group().replace(",", ""))
    return r.start() if rising else a  # not "27 and 0.8 million" of "2026/27 and 0.8 ..."


_NUMBER_IN = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _unit_word(value: str) -> bool:
    """Does a value end in a unit: a symbol ("°C", "%", "m²"), an abbreviation ("km",
    "kg") or a plural ("days", "tonnes")? Not a stop word or a verb taken for one ("6 it"
    of "grades 5 and 6 it lasts", "4 serve" of "grades 1 to 4 serve")."""
    last = value.split()[-1] if value.split() else ""
    if not last.isalpha():
        return True  # "15 °C", "70%", "2,900 m²", "£8"
    return fold(last) not in STOPWORDS and (len(last) <= 3 or last.endswith("s"))


RANGED = frozenset({"money", "percent", "quantity", "time"})
"""The value kinds a range can be of (a date range stays two dates)."""
_RANGE_BEFORE = re.compile(
    rf"(?<![\w.,/])(?!(?:1[5-9]|20)\d\d\b)[$€£¥]?(?P<low>{NUM})\s*(?:to|and|-|–)\s*$"
)
"""The first number of a range right before a value ("50 to " of "50 to 70%", "5 and "
of "between 5 and 15 °C", "£5–" of "£5–£8"): the range is one value, not a bare number
and a cut-off one. A year is no range's start ("2024 and 12 percent")."""
