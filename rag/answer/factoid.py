"""Factoid answers, the asked value first (issue 15): "113 hotline calls — … making 113
hotline calls". The value is picked by :mod:`rag.answer.qualifiers` (Chinese by
:mod:`rag.answer.cjk`); here it becomes the answer's lead, whole ("June 26, 2023", "6.40
a.m."), with up to :data:`FACTOID_WORDS` words of its sentence after a dash; and a second
sentence is judged on whether it holds another such value (:func:`_holds_value`)."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.answer.citations import ends_with_abbreviation
from rag.answer.cjk import cjk_pick_value, cjk_value_window
from rag.answer.followup import split_context
from rag.answer.qtypes import count_focus, question_type, several_counts
from rag.answer.qualifiers import pick_value, value_window, words
from rag.answer.spans import ANSWER_KINDS, WORD_NUMBERS, Span, answer_values, is_cjk_sentence
from rag.text import STOPWORDS, fold, tokenize

_CLAUSE_CUT = re.compile(r",\s+(?:as well as\s+|while\s+|and\s+)?|;\s+")


def _clauses(sentence: str) -> list[tuple[int, int]]:
    """Clause spans of a sentence, cut at commas and semicolons."""
    return list(_clause_spans(sentence))


@lru_cache(maxsize=16384)
def _clause_spans(sentence: str) -> tuple[tuple[int, int], ...]:
    """:func:`_clauses`, cached (long sentences are cut for every question they meet)."""
    spans, a = [], 0
    for m in _CLAUSE_CUT.finditer(sentence):
        spans.append((a, m.start()))
        a = m.end()
    spans.append((a, len(sentence)))
    return tuple((x, y) for x, y in spans if y > x)


def _is_number(word: str) -> bool:
    """A number written in digits or as a word ("46", "eleven")."""
    return word.isdigit() or word in WORD_NUMBERS


VALUE_MARGIN = 0.5
"""How far the chosen value's nearness score must lead the next value's (else the whole
sentence is given: "paid 22 million euros, ... contributed 11.4 million euros")."""
FACTOID_WORDS = 20
"""Words of the source sentence quoted after a factoid's value (the answer stays under ~25)."""


def value_first(sentence: str, question: str) -> str | None:
    """A factoid's answer, the asked value first: "113 hotline calls — … exchanging 679
    official letters and making 113 hotline calls"; the words after the dash are the
    source sentence around the value (at most :data:`FACTOID_WORDS`), which the citation
    then quotes whole. None when the question is not a factoid (what, why, yes/no), asks
    for several counts at once, or the sentence holds no value of the asked kind."""
    found = _factoid_value(sentence, question)
    if found is None:
        return None
    value, focus = found
    cjk = is_cjk_sentence(sentence)
    window = (
        cjk_value_window(sentence, value) if cjk else value_window(sentence, value, FACTOID_WORDS)
    )
    at = window.find(value.text)
    stop = _quote_stop(window, max(at, 0) + len(value.text))
    if stop:  # a label line or a second sentence inside the span ("... 40 °C.\nAuto")
        window = window[: stop.start()]
    lead = _lead(sentence, value, focus)
    if fold(window).lstrip("… ").startswith(fold(lead)):
        return window
    # no "…" after the dash: it would end the claim there, and the dash says it is a quote
    return f"{lead[:1].upper()}{lead[1:]} — {window.removeprefix('… ')}"


def row_value_first(row: str, typing: str, question: str) -> str | None:
    """A factoid answer from a table row: the value is chosen on the row read with its
    column names (``typing``: "3,412 2024/25 Complaints received; 2,987 2025/26 ...", so
    the asked year's column is found), and led by its cell and column name: "2,987
    (2025/26) — Complaints received | 3,412 | 2,987". None when no value stands out or
    the cells and the typing do not pair up."""
    found = _factoid_value(typing, question)
    if found is None:
        return None
    value = found[0]
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    typed = typing.rstrip(".").split("; ")
    if len(cells) != len(typed):
        return None
    pos = 0
    for i, (cell, text) in enumerate(zip(cells, typed, strict=True)):
        if pos <= value.start < pos + len(text):
            if i == 0:
                return None  # the row's own name is what it is about, not its value
            column = text[len(cell) :].strip() if text.startswith(cell) else ""
            column = column.removesuffix(cells[0]).strip()
            # a column name with a figure ("2025/26") is not in the quoted row: the
            # verifier would find the claim's figure unsupported
            named = column and not any(c.isdigit() for c in column)
            lead = f"{cell} ({column})" if named and any(c.isdigit() for c in cell) else cell
            return f"{lead[:1].upper()}{lead[1:]} — {' | '.join(cells)}"
        pos += len(text) + 2
    return None


_STOP = re.compile(r"[.!?]\s|\n")


def _quote_stop(window: str, pos: int) -> re.Match[str] | None:
    """Where a factoid's quote ends after ``pos``: a label line or a second sentence in
    the span ("... 40 °C.\nAuto"); not an abbreviation's full stop that the sentence goes
    on after ("from 6.30 p.m. to 8.30 p.m.", "at 2 a.m. in winter")."""
    for m in _STOP.finditer(window, pos):
        rest = window[m.end() :].lstrip(" \t")
        if (
            m.group() != "\n"
            and ends_with_abbreviation(window[: m.start() + 1])
            and rest[:1].islower() | rest[:1].isdigit()
        ):
            continue
        return m
    return None


def _factoid_value(sentence: str, question: str) -> tuple[Span, list[str]] | None:
    """The value a factoid answer leads with, and the counted thing's terms; None when the
    question is no factoid, asks for several counts at once, or no value stands out."""
    primary = split_context(question)[0]
    qtype = question_type(primary)
    if qtype not in ANSWER_KINDS:
        return None
    focus = count_focus(primary) if qtype == "number" else []
    if several_counts(primary):
        return None  # "how many talks and meetings": each count is in the sentence
    # a follow-up's context ("that class" -> "... Class C ...") helps to choose the value
    cjk = is_cjk_sentence(sentence)  # Chinese: no spaces, so clauses instead of word distances
    value = (
        cjk_pick_value(qtype, question, sentence, VALUE_MARGIN)
        if cjk
        else pick_value(qtype, question, sentence, focus, margin=VALUE_MARGIN)
    )
    if value is None or value.kind not in _FACTOID_KINDS[qtype]:
        return None
    return value, focus


_FACTOID_KINDS = {
    "number": frozenset({"money", "percent", "quantity", "number"}),
    "measure": frozenset({"quantity", "percent", "money", "time"}),
    "date": frozenset({"date", "time"}),
    "person": frozenset({"person"}),
    "org": frozenset({"org"}),
    "place": frozenset({"place"}),
}
"""The value kinds a factoid's answer may lead with (stricter than ranking's: a "who"
question is led by a person's name, not an organisation's)."""


def _holds_value(question: str, sentence: str, terms: set[str]) -> bool:
    """Does ``sentence`` hold a value a factoid answer to ``question`` may lead with (for
    a who/which/where question also a name of no known kind: span typing does not place
    every person, "Head of Midwifery Claire Dunmore"), in a clause with one of ``terms``
    (the asked terms the best sentence lacks)? "Eleven licences received three strikes and
    were revoked" is another answer to "How many licences were revoked?"; "Deputy Mayor
    Colin Brask, who chaired ..., thanked the dock workers who kept the old ferry
    service running" is no other answer to "Who cut the ribbon when the new ferry
    terminal opened?"."""
    qtype = question_type(split_context(question)[0])
    kinds = _FACTOID_KINDS.get(qtype, frozenset())
    if qtype in {"person", "org", "place"}:
        kinds = kinds | {"name"}
    clauses = _clauses(sentence)
    for v in answer_values(qtype, sentence, question):
        if v.kind not in kinds:
            continue
        for a, b in clauses:
            if a <= v.start < b and terms & set(tokenize(sentence[a:b])):
                return True
    return False


def _lead(sentence: str, value: Span, focus: list[str]) -> str:
    """The value as the answer's first words: a count keeps the counted thing after it
    ("113 hotline calls"), a trailing stop word is dropped ("46 the" -> "46")."""
    end = value.end
    if focus:  # up to the last of the counted thing's words among the next three
        after = [w for w in words(sentence) if w.start >= end][:3]
        for w in after:
            if _is_number(fold(w.text).replace(",", "")):
                break  # another value's words ("617 Class B and 407 Class C")
            if set(w.terms) & set(focus):
                end = w.end
    lead = sentence[value.start : end]
    parts = lead.split()
    while len(parts) > 1 and fold(parts[-1]) in STOPWORDS:
        parts.pop()
    return " ".join(parts).rstrip(" ,;:")
