"""Binding a "when" question's date to the event the question asks about.

A sentence can be about the question's subject and still date another event: for "When
was the original dam finished?", "The cost of raising the dam has been revised to £168
million, £26 million more than the figure given when the plan was announced in January"
is about the dam (MiniLM rates it 0.63), but its date belongs to "the plan was
announced" (that clause alone rates 0.12), while "The dam was completed in 1958" rates
0.50 as a whole and 0.67 as its clause. Demoting every date in a clause without the
question's words was tried and lost right answers whose date stands in a clause of its
own ("Starting April 1, ..."), so this is a weighed feature, not a rule:

* each date of the asked kind is read with the clause it stands in (:func:`date_clause`),
  grown by its neighbour when it is too short to say anything ("Starting April 1");
* a sentence's meaning score for a date question blends its own similarity with the
  best similarity of one of its date clauses (:data:`DATE_BINDING`): a date bound to
  the asked event keeps the sentence's score, a date of another event lowers it.

Clauses are cut at commas and semicolons (the answerer's own cut); Chinese and Japanese
sentences are left alone (they are read by :mod:`rag.answer.cjk`). No word of any corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.answer.spans import answer_values, is_cjk_sentence

DATE_BINDING = 0.5
"""The weight of the best date clause's similarity in a date question's meaning score."""
MIN_CLAUSE = 40  # characters: a shorter clause is read with its neighbour
_CUT = re.compile(r",\s+(?:as well as\s+|while\s+|and\s+)?|;\s+|\s+[—–]\s+")


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """The sentence's clauses, cut at commas, semicolons and dashes."""
    spans, a = [], 0
    for m in _CUT.finditer(sentence):
        spans.append((a, m.start()))
        a = m.end()
    spans.append((a, len(sentence)))
    return [(x, y) for x, y in spans if y > x]


def date_clause(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause holding the span ``start:end``, joined with the clauses on both sides
    while it is shorter than :data:`MIN_CLAUSE` characters ("The bridge, built in 1938,
    carries ..." is read whole: "built in 1938" alone has lost what was built)."""
    spans = clause_spans(sentence)
    i = next((n for n, (a, b) in enumerate(spans) if a <= start < b), None)
    if i is None:
        return 0, len(sentence)
    lo = hi = i
    while spans[hi][1] - spans[lo][0] < MIN_CLAUSE and (lo > 0 or hi < len(spans) - 1):
        lo, hi = max(lo - 1, 0), min(hi + 1, len(spans) - 1)
    return spans[lo][0], max(spans[hi][1], end)


def date_clauses(sentence: str, question: str) -> list[str]:
    """The clauses of ``sentence`` that hold a date of the asked kind; none when one of
    its dates is read with the whole sentence (a one-clause sentence, or "The bridge,
    built in 1938, carries ..."): that date is bound to what the sentence says."""
    if is_cjk_sentence(sentence):
        return []
    out: list[str] = []
    for span in answer_values("date", sentence, question):
        a, b = date_clause(sentence, span.start, span.end)
        if (a, b) == (0, len(sentence)):
            return []
        if sentence[a:b].strip() not in out:
            out.append(sentence[a:b].strip())
    return out


def bind_dates(
    sims: np.ndarray, texts: Sequence[str], question: str, embed, query_vec: np.ndarray
) -> np.ndarray:
    """``sims`` (one per sentence) with each date-bearing sentence's blended with its best
    date clause's similarity to the question (see the module docstring). ``embed`` maps
    texts to unit vectors (cached by the caller's embedder)."""
    pieces = [(i, c) for i, t in enumerate(texts) for c in date_clauses(t, question)]
    if not pieces:
        return sims
    clause_sims = embed([c for _, c in pieces]) @ query_vec
    best = np.full(len(texts), -np.inf, dtype=np.float64)
    for (i, _), sim in zip(pieces, clause_sims.tolist(), strict=True):
        best[i] = max(best[i], sim)
    out = np.asarray(sims, dtype=np.float64).copy()
    bound = np.isfinite(best)
    out[bound] = (1 - DATE_BINDING) * out[bound] + DATE_BINDING * np.minimum(
        best[bound], out[bound]
    )
    return out.astype(np.asarray(sims).dtype)
