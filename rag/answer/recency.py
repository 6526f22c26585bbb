"""Questions about the latest or current state: prefer the newest supporting source.

"What is the water level now?", "Who is currently the chief executive?", "Is the ban
still on?" ask for the state of things as of the newest document, not whichever article
ranks first. For such questions (:func:`asks_latest`, wording cues in
:data:`rag.prompts.RECENCY_CUES`):

1. retrieval is widened to documents dated after the newest one it found
   (:func:`widen`), so a newer article that ranked below the cut-off is still read;
2. among the sentences that answer the question about as well as the best one
   (:func:`rag.answer.disagree.supporting`), the one from the newest dated document
   answers (:func:`prefer_newest`);
3. the answer says that source's date ("As of 3 Mar 2026 (the newest source): ...",
   :func:`state_date`); a generative answer that cites only older sources gets the
   newest supporting sentence added, cited and dated (:func:`settle`).

Documents of unknown date never count as newest. Used by :mod:`rag.answer.assistant`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from rag import prompts
from rag.answer.citations import Source
from rag.answer.disagree import DateOf, answer_value, cite_sentence, show_date, supporting
from rag.answer.extractive import (
    STRICT_TYPES,
    VALUE_TYPES,
    ExtractiveDraft,
    Scored,
    question_type,
    shorten,
)
from rag.answer.followup import split_context
from rag.retrieve.retriever import SearchResult
from rag.types import Answer, Document, Hit

_CUES = re.compile(prompts.RECENCY_CUES, re.I)
SEMANTIC_MARGIN = 0.10  # a current-state sentence is this close in meaning to the best one
LEXICAL_SHARE = 0.4  # ... with this share of its question-term coverage
MIN_TYPED = 0.6  # ... and, for value questions, holds a value of the asked kind


def asks_latest(question: str) -> bool:
    """Does the question ask for the latest or current state ("now", "latest", "still")?"""
    return bool(_CUES.search(split_context(question)[0]))


def widen(
    search: Callable[[list[str]], SearchResult],
    found: SearchResult,
    docs: Sequence[Document],
    allowed: Sequence[str] | None,
) -> SearchResult:
    """``found`` plus the best passages of the documents dated after the best passage's
    (within ``allowed``); ``search(sources)`` runs the same query on those only."""
    by_source = {d.source: d for d in docs}
    dates = [by_source[h.chunk.source].date for h in found.hits if h.chunk.source in by_source]
    # newer than the best passage's article (else the newest retrieved): an article between
    # the two may hold the current state in words the question ranks lower
    newest = dates[0] if dates and dates[0] else max((d for d in dates if d), default="")
    pool = set(allowed) if allowed is not None else None
    newer = [
        d.source for d in docs if d.date and d.date > newest and (pool is None or d.source in pool)
    ]
    if not newer or not found.hits:
        return found
    extra = search(newer)
    seen = {h.chunk.chunk_id for h in found.hits}
    hits = list(found.hits)
    for h in extra.hits:
        if h.chunk.chunk_id not in seen:
            seen.add(h.chunk.chunk_id)
            hits.append(Hit(len(hits) + 1, h.chunk, h.dense_score, h.bm25_score, h.score))
    return replace(found, hits=hits)


def current_support(question: str, candidates: Sequence[Scored]) -> list[Scored]:
    """Sentences that answer ``question`` about as well as the best one: close to the
    best in meaning, with a good share of its wording, and (for questions asking for a
    value) holding one (a calendar date, a figure); plus the value-bearing sentences of
    :func:`rag.answer.disagree.supporting`."""
    if not candidates:
        return []
    qtype = question_type(question)
    strict = qtype in STRICT_TYPES
    pool = [
        s
        for s in candidates
        if not strict
        or (
            s.typed >= MIN_TYPED
            and (qtype not in VALUE_TYPES or answer_value(qtype, s.chunk.text, question))
        )
    ]
    if not pool:
        return supporting(question, candidates)
    top_sem = max(s.semantic for s in pool)
    top_lex = max(s.lexical for s in pool)
    near = [
        s
        for s in pool
        if s.semantic >= top_sem - SEMANTIC_MARGIN and s.lexical >= LEXICAL_SHARE * top_lex
    ]
    seen = {s.chunk.chunk_id for s in near}
    return near + [s for s in supporting(question, candidates) if s.chunk.chunk_id not in seen]


def newest_support(question: str, candidates: Sequence[Scored], date_of: DateOf) -> Scored | None:
    """The supporting sentence from the newest dated document (ties: the better scored);
    None when none of them is dated."""
    dated = [s for s in current_support(question, candidates) if date_of(s.chunk.doc_id)]
    if not dated:
        return None
    return max(dated, key=lambda s: (date_of(s.chunk.doc_id), s.score))


def prefer_newest(draft: ExtractiveDraft, date_of: DateOf) -> tuple[ExtractiveDraft, str]:
    """For a "latest" question, the draft answered by the newest supporting sentence, and
    that sentence's publication date ("" when the question does not ask for the latest
    state, it has two parts, the answer's own source is undated (nothing says it is
    older) or no supporting sentence is dated)."""
    if draft.parts or not asks_latest(draft.question) or not draft.sources:
        return draft, ""
    if not date_of(draft.sources[0].chunk.doc_id):
        return draft, ""  # an undated answer may be the newest: nothing says it is older
    primary = split_context(draft.question)[0]
    pick = newest_support(primary, draft.candidates, date_of)
    if pick is None:
        return draft, ""
    date = date_of(pick.chunk.doc_id)
    if draft.sources and date_of(draft.sources[0].chunk.doc_id) >= date:
        return draft, date  # the answer already comes from the newest source
    text = f"{shorten(pick.chunk.text, primary)} [1]"
    return replace(draft, text=text, sources=[Source(1, pick.chunk, pick.score)], best=pick), date


def state_date(answer: Answer, date: str) -> None:
    """Put the newest source's date before the verified answer (not on an abstention)."""
    if date and answer.answer and not answer.abstained:
        answer.answer = f"{prompts.AS_OF.format(date=show_date(date))} {answer.answer}"


def cited_date(answer: Answer, date_of_source: Callable[[str], str]) -> str:
    """The newest publication date among the answer's citations ("" when none is dated):
    what a generative answer to a "latest" question is as of."""
    return max((date_of_source(c.source) for c in answer.citations), default="")


def settle(answer: Answer, question: str, candidates: Sequence[Scored], date_of: DateOf) -> None:
    """After verification (any backend): a "latest" answer whose newest cited source is
    the newest supporting one states its date; one that cites only older sources (a
    generative model may) gets the newest supporting sentence added, cited, with its
    date. An answer citing only undated sources is left as it is."""
    if answer.abstained or not answer.answer:
        return
    cited = cited_date(answer, date_of)
    if not cited:
        return
    pick = newest_support(split_context(question)[0], candidates, date_of)
    newest = date_of(pick.chunk.doc_id) if pick is not None else ""
    if pick is None or newest <= cited:
        state_date(answer, cited)
        return
    n = cite_sentence(answer, pick)
    quote = shorten(pick.chunk.text, split_context(question)[0]).rstrip(" .")
    answer.answer = (
        f"{answer.answer} {prompts.NEWER_SOURCE.format(n=n, date=show_date(newest), quote=quote)}"
    )
