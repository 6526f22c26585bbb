"""Questions about the latest or current state: prefer the newest supporting source.

"What is the water level now?", "Who is currently the chief executive?", "Is the ban
still on?" ask for the state of things as of the newest document, not whichever article
ranks first. For such questions (:func:`asks_latest`, wording cues in
:data:`rag.prompts.RECENCY_CUES`):

1. retrieval is widened to documents dated after the newest one it found
   (:func:`widen`), so a newer article that ranked below the cut-off is still read;
2. among the sentences that answer the question about as well as the best one
   (:func:`rag.answer.supporting.supporting`), the one from the newest dated document
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
from rag.answer.compare import Value, conflict, same_value
from rag.answer.disagree import DateOf, cite_sentence, show_date
from rag.answer.draft import ExtractiveDraft, compose, shorten
from rag.answer.extractive import STRICT_TYPES, VALUE_TYPES, Scored, question_type
from rag.answer.followup import split_context
from rag.answer.supporting import (
    answer_value,
    asked_units,
    is_metadata,
    supporting,
    values_of,
)
from rag.retrieve.retriever import SearchResult
from rag.text import STOPWORDS, stem, tokenize
from rag.types import Answer, Document, Hit

_CUES = re.compile(prompts.RECENCY_CUES, re.I)
SEMANTIC_MARGIN = 0.10  # a current-state sentence is this close in meaning to the best one
LEXICAL_SHARE = 0.4  # ... with this share of its question-term coverage
NEWER_MARGIN = 0.25  # a newer sentence added to an answer is this close to the best one
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
    seen = {h.chunk.chunk_id for h in found.hits}
    hits = list(found.hits)
    for group in newest_groups(newer, {d.source: d.date for d in docs}):
        for h in search(group).hits:
            if h.chunk.chunk_id not in seen:
                seen.add(h.chunk.chunk_id)
                hits.append(Hit(len(hits) + 1, h.chunk, h.dense_score, h.bm25_score, h.score))
    return replace(found, hits=hits)


NEWEST_SEARCHES = 3  # searches of ever fewer, ever newer articles after the first


def newest_groups(newer: Sequence[str], date: Callable[[str], str] | dict) -> list[list[str]]:
    """``newer`` (the articles dated after the found ones), then its newest half, quarter,
    ... (at most :data:`NEWEST_SEARCHES` more, down to the newest article alone): each
    search of the same ``k`` reads deeper into fewer articles, so the newest ones'
    passages that rank below the cut-off among all of them (worded unlike the question:
    "completion is planned for June 2028" for "expected to be finished") are still read."""
    get = date.get if isinstance(date, dict) else date
    ordered = sorted(newer, key=lambda s: get(s) or "", reverse=True)
    groups = [list(newer)]
    size = len(ordered) // 2
    while size >= 1 and len(groups) <= NEWEST_SEARCHES:
        groups.append(ordered[:size])
        size //= 2
    return groups


def current_support(question: str, candidates: Sequence[Scored]) -> list[Scored]:
    """Sentences that answer ``question`` about as well as the best one: close to the
    best in meaning, with a good share of its wording, and (for questions asking for a
    value) holding one (a calendar date, a figure); plus the value-bearing sentences of
    :func:`rag.answer.supporting.supporting`."""
    candidates = [s for s in candidates if not is_metadata(s.chunk.text)]
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
            and answer_value(qtype, s.chunk.text, question)  # a name by the asked role, too
        )
    ]
    pool = _in_asked_unit(question, qtype, pool)
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


def _in_asked_unit(question: str, qtype: str, pool: list[Scored]) -> list[Scored]:
    """For a count or measure question, the sentences of ``pool`` giving a figure in the
    unit it asks about ("35 teaching positions" for "how many teaching positions ..."),
    when any does: "nine years leading the district" in the newest article is a count of
    something else. Otherwise ``pool`` as it is."""
    if qtype not in {"number", "measure"}:
        return pool
    units = asked_units(question)
    in_unit = [
        s
        for s in pool
        if any(
            v.kind == "quantity" and v.key[1] in units
            for v in values_of(qtype, s.chunk.text, question)
        )
    ]
    return in_unit or pool


RESTATED_WORDS = 2  # content words (besides the values) an update shares with a restatement


def _content(text: str, values: Sequence[Value]) -> set[str]:
    """Stems of ``text``'s content words outside the spans of ``values``."""
    at, kept = 0, []
    for v in sorted(values, key=lambda v: v.span.start):
        kept.append(text[at : v.span.start])
        at = max(at, v.span.end)
    kept.append(text[at:])
    return {stem(t) for t in tokenize(" ".join(kept)) if t not in STOPWORDS and not t[:1].isdigit()}


def updates(
    question: str, candidates: Sequence[Scored], support: Sequence[Scored], date_of: DateOf
) -> list[Scored]:
    """Newer sentences that restate a supported fact in other words than the question's,
    with another value: "completion is planned for June 2028" (newest article) for "when
    is it now expected to be finished?", where an older article says "Fenmoor still
    expects to finish in December 2027" (supporting) and "Completion is planned for
    December 2027" (the same value, so the same fact, in the newer one's words). A
    candidate is an update when its value conflicts with a restatement's (a sentence
    giving a supporting sentence's value), it shares :data:`RESTATED_WORDS` content
    words with that restatement besides the values, and its document is newer."""
    qtype = question_type(question)
    if qtype not in VALUE_TYPES:
        return []
    valued = []
    for s in candidates:
        if is_metadata(s.chunk.text) or not date_of(s.chunk.doc_id):
            continue
        values = values_of(qtype, s.chunk.text, question)
        if values:
            valued.append((s, values))
    given = [v for s in support if (v := answer_value(qtype, s.chunk.text, question))]
    restated = [(s, vs) for s, vs in valued if any(same_value(vs[0], g) for g in given)]
    seen = {s.chunk.chunk_id for s in support}
    out = []
    for s, vs in valued:
        if s.chunk.chunk_id in seen:
            continue
        words = _content(s.chunk.text, vs)
        for r, rvs in restated:
            if (
                date_of(s.chunk.doc_id) > date_of(r.chunk.doc_id)
                and conflict(vs[0], rvs[0], question)
                and vs[0].key == rvs[0].key  # "nine years" updates no count of positions
                and len(words & _content(r.chunk.text, rvs)) >= RESTATED_WORDS
            ):
                out.append(s)
                seen.add(s.chunk.chunk_id)
                break
    return out


def newest_support(question: str, candidates: Sequence[Scored], date_of: DateOf) -> Scored | None:
    """The supporting sentence (or update of one, :func:`updates`) from the newest dated
    document (ties: the better scored); None when none of them is dated."""
    support = current_support(question, candidates)
    support = support + updates(question, candidates, support, date_of)
    dated = [s for s in support if date_of(s.chunk.doc_id)]
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
    own = draft.sources[0].chunk
    qtype = question_type(primary)
    valued = qtype not in STRICT_TYPES or answer_value(qtype, own.text, primary) is not None
    if date_of(own.doc_id) >= date and valued:  # already from the newest source
        return _current_only(_newest_only(draft, date_of), primary), date
    text = f"{shorten(pick.chunk.text, primary)} [1]"
    sources = [Source(1, pick.chunk, pick.score)]
    return _current_only(
        replace(draft, text=text, sources=sources, best=pick, plain=text), primary
    ), date


def _newest_only(draft: ExtractiveDraft, date_of: DateOf) -> ExtractiveDraft:
    """The draft without the sentences it quotes from articles older than its first
    source's: for a "latest" question the first sentence gives the current state, and an
    older article's sentence beside it gives a former one ("A hiring freeze takes effect
    on March 10" after "... lifted its hiring freeze on February 2"). Undated sources stay
    (nothing says they are older); a draft quoting one source is returned as it is."""
    if len(draft.sources) < 2:
        return draft
    first = date_of(draft.sources[0].chunk.doc_id)
    kept = [src for src in draft.sources if not (day := date_of(src.chunk.doc_id)) or day >= first]
    if len(kept) == len(draft.sources):
        return draft
    by_id = {s.chunk.chunk_id: s for s in draft.candidates}
    picks = [by_id.get(src.chunk.chunk_id) for src in kept]
    if any(p is None for p in picks):
        return draft  # a source the candidates do not hold: leave the draft as it is
    return compose(
        draft.question, [(draft.question, p) for p in picks if p], draft.candidates, False
    )


def _current_only(draft: ExtractiveDraft, question: str) -> ExtractiveDraft:
    """The draft without clauses giving a former or compared value
    (:func:`drop_prior_values`); its uncut text stays the fallback if verification
    refuses the cut one."""
    text = drop_prior_values(draft.text, question)
    if text == draft.text:
        return draft
    return replace(draft, text=text, plain=draft.plain or draft.text)


# A value the sentence gives only as a former or compared state: "from <A> to <B>" (B is
# the current one), "<B>, lower than the <A> asked for", "up from <A>", "instead of <A>".
# General English comparison and change wording; no word of any corpus.
_CHANGE = re.compile(r"\bfrom\s+(?:the\s+|an?\s+)?$", re.I)  # just before <A>, <B> after " to "
_COMPARE = re.compile(
    r",?\s*\b(?:(?:higher|lower|more|less|fewer|greater|smaller|larger|bigger|earlier|later"
    r"|up|down)\s+(?:than|from)|compared\s+(?:with|to)|instead\s+of|rather\s+than)"
    r"(?:\s+(?:the|an?|its|their|some|about|around))*\s+$",
    re.I,
)
_CLAUSE_END = re.compile(r"\s*(?:[,;:]|[.!?]?\s*\[\d+\]|[.!?](?:\s|$)|$)")


def drop_prior_values(text: str, question: str) -> str:
    """``text`` without the clauses that give a value of the asked kind only as a former
    or compared state (a "latest" answer states the current one): "moved from December
    2027 to June 2028" -> "moved to June 2028"; "a rise of 3.6%, lower than the 4.2% it
    had asked for" -> "a rise of 3.6%". A question of no value type ("what is the level
    now?") is read as asking for a figure. Unchanged unless a value of the same kind as
    each one cut stays."""
    qtype = question_type(question)
    values = sorted(
        values_of(qtype if qtype in VALUE_TYPES else "number", text, question),
        key=lambda v: v.span.start,
    )
    cuts: list[tuple[int, int, str]] = []
    for v in values:
        before = text[max(0, v.span.start - 60) : v.span.start]
        after = text[v.span.end :]
        change = _CHANGE.search(before)
        if change and re.match(r"\s+to\b", after):
            start = v.span.start - len(before) + change.start()
            cuts.append((start, v.span.end + len(after) - len(after.lstrip()), v.kind))
            continue
        compare = _COMPARE.search(before)
        if compare:
            end = _CLAUSE_END.search(text, v.span.end)
            stop = end.start() if end else v.span.end
            cuts.append((v.span.start - len(before) + compare.start(), stop, v.kind))
    kept = [v for v in values if not any(a <= v.span.start < b for a, b, _ in cuts)]
    if not cuts or not all(any(k.kind == kind for k in kept) for _, _, kind in cuts):
        return text  # nothing compared, or no current value of that kind would stay
    out, at = [], 0
    for a, b, _ in sorted(cuts):
        out.append(text[at:a])
        at = max(at, b)
    out.append(text[at:])
    return "".join(out)


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
    date. An answer citing only undated sources is left as it is. A newest sentence far
    less close in meaning than the best candidate (:data:`NEWER_MARGIN`) answers another
    question, though it holds a value of the asked kind ("8443 by default" for the
    default number of streams): it is no newer answer, and is not added."""
    if answer.abstained or not answer.answer:
        return
    cited = cited_date(answer, date_of)
    if not cited:
        return
    pick = newest_support(split_context(question)[0], candidates, date_of)
    best = max((s.semantic for s in candidates), default=0.0)
    if pick is not None and pick.semantic < best - NEWER_MARGIN:
        pick = None
    newest = date_of(pick.chunk.doc_id) if pick is not None else ""
    if pick is None or newest <= cited:
        state_date(answer, cited)
        return
    n = cite_sentence(answer, pick)
    quote = shorten(pick.chunk.text, split_context(question)[0]).rstrip(" .")
    answer.answer = (
        f"{answer.answer} {prompts.NEWER_SOURCE.format(n=n, date=show_date(newest), quote=quote)}"
    )
