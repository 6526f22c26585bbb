"""What pins a question's answer down, and whether a sentence's value is bound to it.

A near miss is a sentence about the same topic that holds another thing: another year,
another ordinal event ("the 17th meeting" for "the 16th"), another member of a series
("Class C" for "Class B", "HC-2" for "HC-3"), another group ("Vietnamese visitors" for
"Chinese tourists"). These helpers find the question's *qualifiers* (numbers, ordinals,
years, names, codes, series letters), the value a sentence offers for the asked kind,
and whether a rival qualifier of the same shape stands where the asked one should.
(Rival and dropped modifiers of a noun, and the post a who-question asks about, are read
by :mod:`rag.answer.noun_phrases`.)

Nothing here names a word of one corpus: shapes are digits, ordinals, capitals and
word order, the same for any documents.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

from rag.answer.bounds import labelled_numbers
from rag.answer.qtypes import asks_money
from rag.answer.spans import (
    MONTHS,
    WEEKDAYS,
    Span,
    answer_values,
    asked_names,
    stated_numbers,
    value_spans,
)
from rag.text import STOPWORDS, fold, tokenize

_WORD = re.compile(r"[\w’'](?:[\w’'.\-–]|,(?=\d{3}))*")  # "1,182" is one word
_ORDINAL_TOKEN = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_YEAR = re.compile(r"^(?:1[5-9]|20)\d{2}$")


@dataclass(frozen=True, slots=True)
class Word:
    """A word of a sentence with its offsets and its folded, stemmed terms."""

    start: int
    end: int
    text: str
    terms: tuple[str, ...]


@lru_cache(maxsize=8192)
def words(sentence: str) -> tuple[Word, ...]:
    """The sentence's words in order (cached: candidates are scored for many questions)."""
    out = []
    for m in _WORD.finditer(sentence):
        text = m.group().rstrip(".")
        out.append(Word(m.start(), m.start() + len(text), text, tuple(tokenize(text))))
    return tuple(out)


def shape(token: str) -> str:
    """The shape of a qualifier token: ``ordinal``, ``year``, ``number``, ``letter`` or
    ``name`` (a year is not compared with a count, nor an ordinal with a year)."""
    if _ORDINAL_TOKEN.match(token):
        return "ordinal"
    if _YEAR.match(token):
        return "year"
    if token.replace(".", "").isdigit():
        return "number"
    if len(token) == 1 and token.isalpha():
        return "letter"
    return "name"


def number_of(token: str) -> str:
    """ "16th" -> "16"; other tokens unchanged."""
    m = _ORDINAL_TOKEN.match(token)
    return m.group(1) if m else token


@lru_cache(maxsize=4096)
def question_qualifiers(question: str) -> frozenset[str]:
    """Folded tokens that pin the answer down: numbers, ordinals and years the question
    states (a dotted one by its pieces), and the terms of its names, codes and series
    letters."""
    nums = stated_numbers(question)
    toks = set(tokenize(question))
    out = {t for t in toks if number_of(t) in nums and shape(t) != "name"}
    # a dotted number ("version 4.2", "1.5 bar") is read as its pieces ("4", "2"), each
    # then compared in its slot: "4.0" and "4.1" are rivals of the asked "4.2"
    out |= {t for n in nums if "." in n for t in tokenize(n) if t.isdigit()}
    letters = {fold(m.group(1)) for m in _SERIES.finditer(question)}  # "Class A": "a"
    return frozenset(out | letters | {t for t in asked_names(question) if t not in STOPWORDS})


_SERIES = re.compile(r"\b[A-Za-z]+\s+((?!I\b)[A-Z])\b(?!['’])")  # not the asker's "I"


def pick_value(
    qtype: str,
    question: str,
    sentence: str,
    focus: list[str] | tuple[str, ...] = (),
    margin: float = 0.0,
) -> Span | None:
    """The value of the asked kind that the sentence offers as the answer: of its values
    (minus what the question states), the one with most question terms close by (in its
    own clause, before it most), the counted thing's terms (``focus``) counting double;
    ties go to the first. None when no value leads the next one by ``margin``."""
    single, scores = _value_scores(qtype, question, sentence, tuple(focus))
    if single is not None or not scores:
        return single
    if len(scores) > 1 and scores[0][0] - scores[1][0] < margin:
        return None  # no value stands out: the whole sentence answers better
    return scores[0][1]


@lru_cache(maxsize=8192)
def _value_scores(
    qtype: str, question: str, sentence: str, focus_terms: tuple[str, ...]
) -> tuple[Span | None, tuple[tuple[float, Span], ...]]:
    """:func:`pick_value`'s scoring, cached (the answer's value-first lead, the abstention
    features and a two-part pick score the same sentence for the same question): (the
    value when there is only one, else None; the values with their scores, best first)."""
    qterms = set(tokenize(question))
    values = [v for v in answer_values(qtype, sentence, question) if not _restates(v, qterms)]
    if not values:
        return None, ()
    if len(values) == 1:
        return values[0], ()
    focus = {*focus_terms, *asked_names(question)}  # "How many of those were Class B licences?"
    whole = _PART_OF.search(question)
    if whole:  # the part's terms pick its value; the whole's noun is next to both counts
        focus = (focus - set(tokenize(whole.group(1)))) | asked_names(question)
    ws = words(sentence)
    clause, counts = _layout(sentence)
    starts = [w.start for w in ws]
    primary = "money" if qtype == "number" and asks_money(question) else _PRIMARY.get(qtype)
    # "How many of the new trees go into Hobb's Wood?" asks for a part: the whole's
    # count ("240 young trees") is not the answer for being next to the counted noun
    counted = qtype in {"number", "measure"} and not _PART_OF.search(question)
    head = _count_head(question, focus) if counted else ""
    years = {t for t in question_qualifiers(question) if shape(t) == "year"}
    if not {t for w in ws for t in w.terms if shape(t) == "year"} - years:
        years = set()  # no other year in the sentence: nothing to bind against
    scores = []
    for v in values:
        lo = max(0, bisect_right(starts, v.start) - 1)
        hi = max(lo, bisect_left(starts, v.end) - 1)
        if not ws or ws[lo].end <= v.start:
            lo += 1
        if lo > hi or lo >= len(ws):
            continue
        score = 10.0 if v.kind == primary else 0.0
        unit = {t for w in ws[lo + 1 : lo + 3] for t in w.terms}
        if head and head in unit:
            score += 3.0  # "65 cases": the counted thing right after the number
        if years and v.kind != "date":  # "7 centres at the start of 2026, up from 5 in 2025"
            score += _year_binding(years, ws, clause, lo, hi)
        for i in range(max(0, lo - 8), min(len(ws), hi + 9)):
            w = ws[i]
            if lo <= i <= hi and v.kind not in _COUNTS:
                continue  # a name's own words do not say it is the answer
            gap = max(1, lo - i if i < lo else i - hi)
            # the words of its own clause count, those before it (who, what) the most
            weight = (1.0 if clause[i] == clause[lo] else 0.2) * (1.5 if i < lo else 1.0)
            for t in w.terms:  # a term the sentence repeats says less about which value
                if t in focus:
                    score += 2.0 * weight / gap / counts[t]
                elif t in qterms:
                    score += weight / gap / counts[t]
        scores.append((score, v))
    scores.sort(key=lambda sv: -sv[0])
    return None, tuple(scores)


def _year_binding(
    years: set[str], ws: tuple[Word, ...], clause: tuple[int, ...], lo: int, hi: int
) -> float:
    """+4 when the value's clause names a year the question asks about, -4 when it names
    only other years: "How many centres did it have in 2025?" over "At the start of 2026
    it has 7 centres, up from 5 at the start of 2025" binds 5, not 7."""
    own = {
        t
        for i, w in enumerate(ws)
        if clause[i] == clause[lo] and not lo <= i <= hi
        for t in w.terms
        if shape(t) == "year"
    }
    if own & years:
        return 4.0
    return -4.0 if own else 0.0


_COUNTS = frozenset({"quantity", "money", "percent", "number"})
_PART_OF = re.compile(
    r"\bhow (?:many|much) of (?:the |those |these |its |their |our |your )?"
    r"((?:[\w'-]+ ){0,3}?[\w'-]+s)\b",
    re.I,
)
"""A question asking for a part of a counted whole, with the whole's noun phrase
("How many of the new trees go into Hobb's Wood?" -> "new trees")."""


def _restates(value: Span, qterms: set[str]) -> bool:
    """Is a name value mostly the question's own words ("Lang Son–Guangxi" for "the
    commander of the Lang Son Border Guard")? It is what is asked about, not the answer."""
    if value.kind not in {"person", "org", "place", "name"}:
        return False
    own = set(tokenize(value.text))
    return bool(own) and len(own & qterms) * 2 >= len(own)


def _count_head(question: str, focus: set[str]) -> str:
    """The counted thing's head noun: the first of its terms that a stop word or the end
    follows ("how many smuggling cases across border gates" -> "case")."""
    qws = words(question)
    for i, w in enumerate(qws):
        if w.terms and w.terms[-1] in focus:
            nxt = qws[i + 1].text if i + 1 < len(qws) else ""
            if not nxt or fold(nxt) in STOPWORDS:
                return w.terms[-1]
    return ""


@lru_cache(maxsize=4096)
def _layout(sentence: str) -> tuple[tuple[int, ...], dict[str, int]]:
    """For each word, the number of the clause it is in (cut at , ; : and dashes), and
    how often each term occurs in the sentence (cached: read-only)."""
    ws = words(sentence)
    out, k = [], 0
    counts: dict[str, int] = {}
    for i, w in enumerate(ws):
        if i and _CLAUSE_END.search(sentence[ws[i - 1].end : w.start]):
            k += 1
        out.append(k)
        for t in w.terms:
            counts[t] = counts.get(t, 0) + 1
    return tuple(out), counts


_PRIMARY = {"place": "place", "person": "person", "org": "org", "date": "date"}
"""The span kind that answers a question type best ("which city": a place before an
organisation's name)."""


def rival_bound(question: str, sentence: str, value: Span | None, near: set[str]) -> bool:
    """Is the sentence's answer tied to a rival of one of the question's qualifiers?

    * The asked qualifier is missing from the sentence and its context (``near``), and the
      sentence holds one of the same shape in the same slot: "Class C" for "Class B",
      "in 2024" for "in 2023", "HC-2" for "HC-3", "phase 2" for "phase 3".
    * Or both are in the sentence, and the answer ``value`` stands nearer the rival: "the
      16th meeting and the 17th meeting in Nanning" for "Where was the 16th meeting?".
    """
    quals = question_qualifiers(question)
    ws = words(sentence)
    sent_terms = [t for w in ws for t in w.terms]
    numeric = {q for q in quals if shape(q) in {"ordinal", "year", "number", "letter"}}
    for q in numeric:
        rivals = _rivals(q, question, ws)
        if not rivals or (
            q not in sent_terms and labelled_numbers({number_of(q)}, sentence, question)
        ):
            continue  # none, or "grades 1 to 4" holds the asked "grade 3"
        if q not in sent_terms and number_of(q) not in near and q not in near:
            return True
        if value is not None and q in sent_terms and _nearer(value, rivals, q, ws):
            return True
    return False


def _rivals(q: str, question: str, ws: tuple[Word, ...]) -> list[int]:
    """Indexes of the sentence's words holding a qualifier of ``q``'s shape but another
    value, in ``q``'s slot: after the same word ("Class _", "phase _", "HC-_"), before
    the same word ("_ meeting"), or, for years and ordinals, anywhere."""
    qs = shape(q)
    qws = words(question)
    before = after = ""
    for i, w in enumerate(qws):
        if q in w.terms:
            before = _head(qws, i - 1)
            after = _head(qws, i + 1)
            if len(w.terms) > 1 and w.terms.index(q) > 0:  # "HC-3": the code's prefix
                before = w.terms[w.terms.index(q) - 1]
            break
    out = []
    for i, w in enumerate(ws):
        for k, t in enumerate(w.terms):
            if t == q or shape(t) != qs:
                continue
            prev = w.terms[k - 1] if k > 0 else _head(ws, i - 1)
            nxt = w.terms[k + 1] if k + 1 < len(w.terms) else _head(ws, i + 1)
            if qs in {"year", "ordinal"} or (before and prev == before) or (after and nxt == after):
                out.append(i)
    return out


def _head(ws: tuple[Word, ...], i: int) -> str:
    """The first content term of word ``i`` ("" out of range or for a stop word)."""
    if 0 <= i < len(ws) and ws[i].terms and fold(ws[i].text) not in STOPWORDS:
        return ws[i].terms[0]
    return ""


def _nearer(value: Span, rivals: list[int], q: str, ws: tuple[Word, ...]) -> bool:
    """Does ``value`` stand closer (in words) to a rival than to the asked qualifier?"""
    at = [i for i, w in enumerate(ws) if w.start < value.end and value.start < w.end]
    if not at:
        return False
    asked = [i for i, w in enumerate(ws) if q in w.terms]

    def dist(i: int) -> int:
        return min(abs(i - j) for j in at)

    return min(dist(i) for i in rivals) < min(dist(i) for i in asked)


def focus_conflict(question: str, sentence: str, value: Span | None, focus: list[str]) -> bool:
    """A counted thing qualified by another name or letter: "how many Chinese tourists"
    asked, "150,000 Vietnamese visitors" found; "how many Class B licences", "133 Class
    C licences". The words right after the sentence's number name a group that the
    question does not, and the question's own qualifier is not among them."""
    if value is None or not focus or value.kind == "money":
        return False  # "€4.00 in the Kestrelnet app": money counts nothing named after it
    q_caps = {t for t in asked_names(question) if t in focus}
    if not q_caps:
        return False
    ws = words(sentence)
    first = next((i for i, w in enumerate(ws) if w.end > value.start), len(ws))
    while first < len(ws) and any(c.isdigit() for c in ws[first].text):
        first += 1  # the number itself: "150,000", "1.5"
    after = list(ws[first : first + 3])
    phrase = {t for w in after for t in w.terms}
    if q_caps <= phrase:
        return False
    q_terms = set(tokenize(question))
    return any(
        (w.text[:1].isupper() or (len(w.text) == 1 and w.text.isalpha()))
        and any(t not in q_terms for t in w.terms)
        for w in after
    )


_KIN = {
    **dict.fromkeys(("person", "org", "place", "name"), "name"),
    **dict.fromkeys(("number", "quantity", "money", "percent"), "count"),
    **dict.fromkeys(("date", "time"), "date"),
}
"""Span kinds that may stand in one list ("in Brenmoor, Skelby and Garth": a place, then
names)."""
LIST_ITEM_WORDS = 7
"""The longest clause read as an item of a list that the value's clause opens."""


def _through_list(
    ws: tuple[Word, ...],
    bounds: list[int],
    m: int,
    a: int,
    b: int,
    max_words: int,
    kin: list[int],
) -> int:
    """The window's last word, moved to the end of a list that the value's clause opens
    ("in 1987, 2003, 2013 and 2023"; "led jointly by Captain Hugh Tennant, a retired naval
    officer, and the ornithologist Margaret Orr"): the short clauses after it up to the one
    with "and"/"or", when that one holds a value of the same kind (``kin``: where such
    values start) and they fit in half as many words again. Cutting there would drop part
    of the answer; "42 computers, and opens until 6 p.m." goes on to another matter."""
    for j in range(m + 1, len(bounds) - 1):
        item = ws[bounds[j] + 1 : bounds[j + 1] + 1]
        if len(item) > LIST_ITEM_WORDS or bounds[j + 1] - a + 1 > max_words * 3 // 2:
            return b
        if any(fold(w.text) in {"and", "or"} for w in item):
            same = any(item[0].start <= x < item[-1].end for x in kin)
            return bounds[j + 1] if same else b
    return b


def value_window(sentence: str, value: Span, max_words: int = 20) -> str:
    """The words of ``sentence`` around ``value``, at most ``max_words`` of them: the
    clause holding it, widened by whole neighbouring clauses while they fit, else cut to
    words on both sides. The value is never cut ("June 26, 2023" keeps its year); a
    cut at the start is marked with "…"."""
    ws = words(sentence)
    at = [i for i, w in enumerate(ws) if w.start < value.end and value.start < w.end]
    if not at:
        return sentence
    lo, hi = at[0], at[-1]
    cuts = [
        i
        for i in range(len(ws) - 1)
        if not lo <= i < hi and _clause_gap(sentence[ws[i].end : ws[i + 1].start], ws[i], ws[i + 1])
    ]
    bounds = [-1, *cuts, len(ws) - 1]  # clause k: words bounds[k]+1 .. bounds[k+1]
    k = next(j for j in range(len(bounds) - 1) if bounds[j] < lo <= bounds[j + 1])
    m = next(j for j in range(k, len(bounds) - 1) if hi <= bounds[j + 1])  # value's clauses
    a0, b0 = bounds[k] + 1, bounds[m + 1]
    a, b = a0, b0
    if b + 1 <= max_words:
        a = 0  # the sentence's opening fits: it says who or what
    elif b - a + 1 < 6 and k > 0 and b - bounds[k - 1] <= max_words:
        a = bounds[k - 1] + 1  # a short clause ("and making 113 calls"): the one before too
    while b - a + 1 < 8 and m + 2 < len(bounds) and bounds[m + 2] - a + 1 <= max_words:
        m += 1  # too short to read ("Colonel Zhu Xingan"): the clauses after it too
        b = bounds[m + 1]
    if b - a + 1 > max_words:  # one long clause: words on both sides of the value
        room = max(0, max_words - (hi - lo + 1))
        a = max(a0, lo - room // 3)
        b = min(b0, hi + room - (lo - a))
        a = max(a0, min(a, b - max_words + 1))
        while a > a0 and ws[a].text[:1].isupper() and ws[a - 1].text[:1].isupper():
            a -= 1  # never start inside a name ("… Guard and ..." for "Border Guard")
    if b >= hi:
        kin = [x.start for x in value_spans(sentence) if _KIN.get(x.kind) == _KIN.get(value.kind)]
        b = _through_list(ws, bounds, m, a, b, max_words, kin)
    end = max(ws[b].end, value.end) if b >= hi else ws[b].end
    while end < len(sentence) and sentence[end] in "%‰":
        end += 1  # a word ends before "%": "16%" is the value, not "16"
    text = sentence[ws[a].start : end].strip(" ,;:")
    if a > 0:
        text = "… " + text
    return text  # no "…" at the end: the citation marker follows


_CLAUSE_END = re.compile(r"[,;:]|\s[—–]\s")


def _clause_gap(gap: str, left: Word, right: Word) -> bool:
    """Does the text between two words end a clause? Not a colon or comma inside a number
    ("00:05", "3:1"): a quote cut there gave "the last at 00" for "the last at 00:05"."""
    if gap in {":", ",", "."} and left.text[-1:].isdigit() and right.text[:1].isdigit():
        return False
    return bool(_CLAUSE_END.search(gap))


_CALENDAR = re.compile(rf"\b(?:{MONTHS}|{WEEKDAYS}|weekend|weekday)s?\b", re.I)


def calendar_words(text: str, *, weeks: bool = False) -> set[str]:
    """Months and weekdays named with a capital ("October", "Sundays" -> "sunday"; not
    the verb "may"), and with ``weeks`` also weekends and weekdays ("on weekends only"):
    a closed class, so one that a sentence does not name is not what it says."""
    return {
        fold(m.group()).removesuffix("s")
        for m in _CALENDAR.finditer(text)
        if (m.group()[0].isupper() and not m.group().lower().startswith("week"))
        or (weeks and m.group().lower().startswith("week"))
    }
