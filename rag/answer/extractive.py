"""The extractive backend: answer with the source sentences that answer the question.

No generative model. Candidate sentences come from the retrieved passages; each is
scored on meaning (embedding similarity to the question), wording (share of the
question's terms it contains) and whether it holds the kind of thing asked for (a
number for "how many", a name for "who", a date for "when"). The answer is built
from the best sentences, each cited, so it is grounded by construction; the wording of
that answer (value-first leads, shortened sentences, citation markers) is
:mod:`rag.answer.draft`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from rag.answer.aggregate import promoted, with_extreme_row, with_row_lead
from rag.answer.bounds import holds_binding, number_bindings
from rag.answer.candidates import (
    Candidate,
    Scored,
    chunk_sentences,
    header_field,
    sentence_terms,
)
from rag.answer.compare import asks_former, states_former
from rag.answer.date_binding import bind_dates
from rag.answer.draft import ExtractiveDraft, _compose_joint, compose
from rag.answer.factoid import FACTOID_WORDS as FACTOID_WORDS  # re-exported
from rag.answer.factoid import VALUE_MARGIN as VALUE_MARGIN
from rag.answer.factoid import _clauses, _holds_value
from rag.answer.followup import split_context
from rag.answer.lists import asks_for_list
from rag.answer.neighbours import with_neighbours
from rag.answer.qtypes import (  # re-exported: the answer chain imports them from here
    STRICT_TYPES,
    asks_money,
    count_focus,
    question_type,
)
from rag.answer.qtypes import VALUE_TYPES as VALUE_TYPES
from rag.answer.qtypes import unstated_numbers as unstated_numbers
from rag.answer.qualifiers import question_qualifiers, shape
from rag.answer.reasons import asks_why
from rag.answer.spans import (
    asked_names,
    stated_numbers,
)
from rag.answer.two_part import joint_pick, with_question_word, with_referents
from rag.answer.typed import TYPED, _type_match, _typed
from rag.config import Config
from rag.embed.encoder import Embedder
from rag.lang import detect_language
from rag.retrieve.retriever import sub_queries
from rag.retrieve.routing import answer_similarity, centre_by_language, chunk_language
from rag.text import is_table_row, row_with_header, table_header, tokenize
from rag.types import Chunk, Hit

LEAD_IN_WEIGHT = 0.85
"""A sentence read with the one before it in its paragraph counts at this share of that
pair's similarity (its own similarity when higher): the pair shares the topic's words,
so at full weight a sentence after a topical one outranks the one holding the answer."""
TITLE_LEAD_WEIGHT = 0.75
"""A field of a document's header block ("Issued by: ...") read with the title: lower,
as the title is shared by every field of the block and would make them alike."""
LONG_SENTENCE = 250  # characters: longer sentences are also scored clause by clause
UNTYPED_LEAD = (0.15, 0.4)
"""How far a candidate without the asked kind of value must lead the best one with it, in
score and in wording, to rank above it: "A host may hold at most one Class C licence" for
"How many Class C licences may one host hold?" (the question states "one"), against a
sentence counting Class C licences in force."""


class ExtractiveBackend:
    """Deterministic, grounded answers made of cited source sentences."""

    name = "extractive"

    def __init__(self, embedder: Embedder, config: Config) -> None:
        self.embedder = embedder
        self.config = config

    def draft(
        self,
        question: str,
        hits: Sequence[Hit],
        doc_texts: dict[str, str],
        avoid: frozenset[str] = frozenset(),
    ) -> ExtractiveDraft:
        """Pick and cite the sentences that answer ``question`` from the ``hits``.

        ``avoid`` holds sentences already given as answers earlier in the
        conversation (a follow-up such as "the other delegation" wants another one).
        """
        cands = self._candidates(hits, doc_texts)
        if not cands:
            return ExtractiveDraft(question, "", [], None, [])
        primary = split_context(question)[0]
        cands, extreme = with_extreme_row(primary, cands, doc_texts)  # "the most ...?"
        scored = promoted(self._ranked(question, cands, avoid), extreme)
        parts = sub_queries(primary)
        if parts:  # two questions in one: each part answered by its own best sentence
            # each part keeps the whole question as context: "..., and what did it want?"
            parts = with_referents(with_question_word(parts))  # "it": the first part's topic
            ranked = [
                self._ranked(f"{p} (context: {primary})", cands, avoid, blend=False) for p in parts
            ]
            types = [question_type(p) for p in parts]
            focus = [
                count_focus(p) if t == "number" else [] for p, t in zip(parts, types, strict=True)
            ]
            shared = joint_pick(parts, ranked, types, focus)
            if shared is not None:  # one sentence answers both parts: cite it once
                return _compose_joint(question, list(zip(parts, shared, strict=True)), scored)
            picks: list[tuple[str, Scored]] = []
            for p, ranking in zip(
                parts, ranked, strict=True
            ):  # else each its best that no earlier took
                taken = {s.chunk.chunk_id for _, s in picks}
                pick = next((s for s in ranking if s.chunk.chunk_id not in taken), None)
                if pick is not None:
                    picks.append((p, pick))
        elif extreme is not None and scored[0].chunk.start == extreme.chunk.start:
            draft = compose(question, [(primary, scored[0])], scored, False)  # the row alone
            draft.text = with_row_lead(draft.text, extreme)  # "Highways and Transport — |"
            return draft
        else:
            picks = with_neighbours(
                primary, [(primary, s) for s in self._choose(primary, scored)], doc_texts
            )
        return compose(question, picks, scored, bool(parts))

    def rank(self, question: str, hits: Sequence[Hit], doc_texts: dict[str, str]) -> list[Scored]:
        """The candidate sentences of ``hits`` ranked for ``question``: the ``candidates``
        of :meth:`draft`, without composing an answer (the many-article checks only
        compare candidates, and composing one was most of their cost)."""
        cands = self._candidates(hits, doc_texts)
        return self._ranked(question, cands, frozenset()) if cands else []

    def _ranked(
        self, question: str, cands: list[Candidate], avoid: frozenset[str], *, blend: bool = True
    ) -> list[Scored]:
        """Candidates best first. For "how many"/"when"/"who" questions, sentences holding
        that kind of value come first: one worded like the question without the number
        cannot answer it, unless it leads the best one holding a value by
        :data:`UNTYPED_LEAD` in score and in wording ("the ward sister can allow visits"
        names no one, "at most one" restates the question's "one"); for a question asking
        for money, never (only a sentence stating an amount tells what something cost)."""
        scored = self._score(question, cands, blend=blend)
        scored = [s for s in scored if s.chunk.text not in avoid] or scored
        primary = split_context(question)[0]
        strict = question_type(primary) in STRICT_TYPES
        money = asks_money(primary)  # no sentence without an amount answers "what did it cost"
        bar = max((s for s in scored if s.typed >= TYPED), key=lambda s: s.score, default=None)

        def demoted(s: Scored) -> bool:  # no value of the asked kind, and not far better worded
            return (
                strict
                and s.typed < TYPED
                and bar is not None
                and (
                    money
                    or s.score < bar.score + UNTYPED_LEAD[0]
                    or s.lexical < bar.lexical + UNTYPED_LEAD[1]
                )
            )

        unpinned = _lacks_pinned(primary, scored)
        scored.sort(key=lambda s: (demoted(s), unpinned(s), -s.score, s.rank, s.chunk.start))
        return scored

    # ------------------------------------------------------------------ internals

    def _candidates(self, hits: Sequence[Hit], doc_texts: dict[str, str]) -> list[Candidate]:
        """The quotable sentences of the hits, without headings, section labels, datelines,
        Markdown front matter or the document title (they name a topic or file the
        document, they do not answer); a heading's words become the context of the
        sentence under it (per chunk, cached: :func:`rag.answer.candidates.chunk_sentences`)."""
        seen: set[tuple[str, int]] = set()
        out = []
        for hit in hits:
            c = hit.chunk
            text = doc_texts[c.doc_id]
            for a, sentence, context in chunk_sentences(
                text, c.doc_id, c.source, c.doc_title, c.start, c.end
            ):
                if (c.doc_id, a) in seen:
                    continue
                seen.add((c.doc_id, a))
                if sentence is not None:
                    row = is_table_row(sentence.text)  # typed with its column names
                    head = table_header(text, sentence.start) if row else ""
                    typing = row_with_header(sentence.text, head) if head else ""
                    prev = out[-1].chunk if out and out[-1].chunk.doc_id == c.doc_id else None
                    lead = (
                        c.doc_title  # a field of the header block is about the document
                        if header_field(text, sentence.start) and c.doc_title
                        else prev.text
                        if prev is not None
                        and not row
                        and 0 < sentence.start - prev.end <= 2
                        and not text[prev.end : sentence.start].strip()
                        and "\n" not in text[prev.end : sentence.start]
                        else ""
                    )
                    out.append(Candidate(sentence, hit.rank, context, typing, lead))
        return out

    def texts_to_embed(self, chunks: Sequence[Chunk], doc_texts: dict[str, str]) -> list[str]:
        """The sentences (and clauses of long ones) :meth:`_score` embeds when these
        chunks are retrieved: what the app embeds ahead of questions (see
        :meth:`rag.embed.encoder.Embedder.prefetch`)."""
        hits = [Hit(1, c, 0.0, 0.0, 0.0) for c in chunks]
        out = []
        for cand in self._candidates(hits, doc_texts):
            text = cand.chunk.text
            out.append(text)
            if cand.lead_in:  # read with the sentence before it (_lead_in_sims)
                out.append(f"{cand.lead_in} {text}")
            if len(text) > LONG_SENTENCE:
                out.extend(text[a:b] for a, b in _clauses(text) if b - a >= 40)
        return out

    def _score(self, question: str, cands: list[Candidate], *, blend: bool = True) -> list[Scored]:
        """Score sentences; a follow-up's own words count more than its carried context.

        ``blend=False`` (a part of a two-part question): the context weighs in the wording
        only, not through another embedding of the whole question."""
        primary, context = split_context(question)
        texts = [c.chunk.text for c in cands]
        vecs = self.embedder.encode_many(texts)
        sims = vecs @ self.embedder.encode_query(primary)
        sims = np.maximum(sims, self._clause_sims(cands, primary))
        sims = np.maximum(sims, self._lead_in_sims(cands, primary))
        if question_type(primary) == "date":  # its date, not another event's (date_binding)
            query = self.embedder.encode_query(primary)
            sims = bind_dates(sims, texts, primary, self.embedder.encode_many, query)
        if context and blend:
            sims = 0.7 * sims + 0.3 * (vecs @ self.embedder.encode_query(question))
        qtype = question_type(primary)
        focus = count_focus(primary) if qtype == "number" else []
        sets = [sentence_terms(t) for t in texts]
        weights = _term_weights(set(tokenize(primary)), sets)
        for t, w in _term_weights(set(tokenize(context)), sets).items():
            weights.setdefault(t, 0.3 * w)
        total = sum(weights.values()) or 1.0
        lexicals = []
        for c, terms in zip(cands, sets, strict=True):
            ctx = c.context
            lexicals.append(sum(w for t, w in weights.items() if t in terms or t in ctx) / total)
        # passages in several languages: each judged among its own language's (routing)
        langs = [chunk_language(c.chunk.doc_id, c.chunk.text) for c in cands]
        query = self.embedder.encode_query(primary)  # cached: the same vector as above
        sims = answer_similarity(sims, langs, query, self.embedder, self.config)
        lexicals = centre_by_language(np.asarray(lexicals), langs).tolist()
        out = []
        for cand, sim, lexical in zip(cands, sims.tolist(), lexicals, strict=True):
            typed = _type_match(qtype, primary, cand.typed_text, focus)
            score = 0.55 * sim + 0.30 * lexical + 0.15 * typed - 0.01 * (cand.rank - 1)
            out.append(
                Scored(cand.chunk, score, sim, lexical, typed, cand.rank, cand.context, cand.typing)
            )
        return out

    def _lead_in_sims(self, cands: list[Candidate], question: str) -> np.ndarray:
        """Per sentence, the similarity of it read with the sentence before it in its
        paragraph: "Work starts in May 2026 ..., at a cost of €1.8 million" says what costs
        that only with "The second cable ... will be moved to a new underground route"."""
        out = np.full(len(cands), -1.0, dtype=np.float32)
        pieces = [(i, f"{c.lead_in} {c.chunk.text}") for i, c in enumerate(cands) if c.lead_in]
        if pieces:
            sims = self.embedder.encode_many([t for _, t in pieces]) @ self.embedder.encode_query(
                question
            )
            for (i, _), sim in zip(pieces, sims.tolist(), strict=True):
                titled = cands[i].lead_in == cands[i].chunk.doc_title  # a header field
                out[i] = (TITLE_LEAD_WEIGHT if titled else LEAD_IN_WEIGHT) * sim
        return out

    def _clause_sims(self, cands: list[Candidate], question: str) -> np.ndarray:
        """Per sentence, the best similarity of one of its clauses when it is long: a
        sentence listing five things matches a question about one of them weakly as a
        whole ("Cross-border trade …, while the restored Hà Nội–Nanning passenger train …")."""
        out = np.full(len(cands), -1.0, dtype=np.float32)
        pieces = [
            (i, c.chunk.text[a:b])
            for i, c in enumerate(cands)
            if len(c.chunk.text) > LONG_SENTENCE
            for a, b in _clauses(c.chunk.text)
            if b - a >= 40
        ]
        if pieces:
            sims = self.embedder.encode_many([t for _, t in pieces]) @ self.embedder.encode_query(
                question
            )
            for (i, _), sim in zip(pieces, sims.tolist(), strict=True):
                out[i] = max(out[i], sim)
        return out

    def _choose(self, question: str, scored: list[Scored]) -> list[Scored]:
        """The best sentence, plus others that add asked-for content the best one lacks.

        When the best sentence already leads with a value of the asked kind (a factoid:
        "Captain Ruth Iveson — The harbour master, ..."), another sentence is added only
        if it holds a value of that kind too (it may be the right one: "Eleven licences
        ... were revoked" next to "issued 1,412 licences"), or it names a name or code of
        the question that neither the best sentence nor its heading and document title
        name: a sentence that adds only a topic word ("The Aldwick Fishermen's
        Cooperative has 46 boats" for "Who is Port Aldwick's harbour master?") pads.
        Otherwise (what, which, why, yes/no) it is added when it is worded nearly as
        well and adds asked content (:func:`_adds_asked`; for a question asked in another
        language than the best sentence's, any asked term it adds)."""
        best = scored[0]
        chosen = [best]
        covered = set(tokenize(best.chunk.text))
        qterms = set(tokenize(question))
        factoid = best.typed >= 1.0
        topic = covered | best.context | set(tokenize(best.chunk.doc_title))
        names = asked_names(question) | stated_numbers(question)
        weights = _term_weights(qterms, [sentence_terms(s.chunk.text) for s in scored])
        # asked in another language than the best sentence's: the terms they share are
        # names, and what else is asked cannot be read off the wording
        across = (detect_language(question) or "en") != chunk_language(
            best.chunk.doc_id, best.chunk.text
        )
        for s in scored[1:6]:
            if len(chosen) >= self.config.max_answer_sentences:
                break
            new_terms = (qterms & set(tokenize(s.chunk.text))) - covered
            if factoid and not (
                _holds_value(question, s.chunk.text, new_terms) or (new_terms - topic) & names
            ):
                continue
            uncovered = _uncovered(new_terms, topic)
            if not (factoid or across or _adds_asked(question, best, s, uncovered, weights, names)):
                continue
            if s.score >= best.score - 0.12 and new_terms and s.typed >= best.typed - 0.5:
                chosen.append(s)
                covered |= set(tokenize(s.chunk.text))
                topic |= covered
        # Keep reading order inside one document for a natural answer; a factoid's best
        # sentence leads it, since the answer states its value first ("4,390 customers —
        # In all, ...", not a table row's "2,860" read earlier in the document).
        lead, rest = (chosen[:1], chosen[1:]) if factoid else ([], chosen)
        if len({c.chunk.source for c in chosen}) == 1:
            rest = sorted(rest, key=lambda s: (s.chunk.source, s.chunk.start))
        return lead + rest


ASKED_SHARE = 0.2
"""The share of the question's rarity-weighted terms that two or more asked terms a
second sentence adds (beyond the best one, its heading and its document title) must
weigh for it to be quoted with the best one."""
CLOSE_SECOND = 0.06
"""How near the best sentence's score a second one adding a single asked term must be."""


PIN_MARGIN = 0.1
"""How near the score of a candidate holding every code and number the question states
("the last 14A", "route 40") a candidate lacking one must be to be ranked after it."""


def _pins(question: str) -> frozenset[str]:
    """The question's codes and numbers, not years nor one digit (a piece of "4.0"):
    terms with a digit ("14a", "s35", "40")."""
    return frozenset(
        t
        for t in question_qualifiers(question)
        if any(c.isdigit() for c in t) and len(t) > 1 and shape(t) != "year"
    )


def _lacks_pinned(question: str, scored: list[Scored]):
    """A sort key: True for a candidate that lacks one of the question's codes or numbers
    when one that holds them all scores within :data:`PIN_MARGIN` of it ("What time does
    the last 14A leave?": the 14A's timetable row before a sentence about the first and
    last tram, worded more like the question); also True where :func:`_rival_binding`
    (the user's numbers bound to their nouns) or, for a question asking for a value before
    a change, :func:`_without_former` is."""
    pins, bound = _pins(question), number_bindings(question)
    rival = _rival_binding(bound, scored)
    if asks_former(question):  # "before this edition": a sentence giving a former value
        rival = _either(rival, _without_former(scored))
    if not pins:
        return rival

    def lacks(s: Scored) -> bool:
        return not pins <= (sentence_terms(s.chunk.text) | s.context)

    best_holder = max((s.score for s in scored if not lacks(s)), default=None)
    if best_holder is None:
        return rival
    return lambda s: rival(s) or (lacks(s) and s.score - PIN_MARGIN <= best_holder)


def _without_former(scored: list[Scored]) -> Callable[[Scored], bool]:
    """A sort key for a question asking for a value before a change: True for a candidate
    that gives no former value ("rose from £20 to £26") within :data:`PIN_MARGIN` of the
    best one that does (the current "£26 a month" sentence is worded alike)."""
    best = max((s.score for s in scored if states_former(s.chunk.text)), default=None)
    if best is None:
        return lambda s: False
    return lambda s: not states_former(s.chunk.text) and s.score - PIN_MARGIN <= best


def _either(a: Callable[[Scored], bool], b: Callable[[Scored], bool]) -> Callable[[Scored], bool]:
    """The sort key true where either key is."""
    return lambda s: a(s) or b(s)


def _rival_binding(
    bound: frozenset[tuple[str, str]], scored: list[Scored]
) -> Callable[[Scored], bool]:
    """A sort key: when some candidate binds the question's numbers to their nouns, as they
    are or in a range ("| 2 zones | £3.40 |" for "across two zones", "| 5 to 9 years |"
    for "six years"), True for one that binds another number to such a noun ("one zone"),
    whatever its score, and for one that binds none within :data:`PIN_MARGIN` of the
    best holder: a contradicted or missing qualifier of the user's case."""
    if not bound:
        return lambda s: False

    def held(s: Scored) -> bool:
        return all(holds_binding(n, noun, s.chunk.text) for n, noun in bound)

    best = max((s.score for s in scored if held(s)), default=None)
    if best is None:
        return lambda s: False
    nouns = {noun for _, noun in bound}

    def rival(s: Scored) -> bool:
        if held(s):
            return False
        binds = any(noun in nouns for _, noun in number_bindings(s.chunk.text))
        return binds or s.score - PIN_MARGIN <= best

    return rival


def _uncovered(terms: set[str], covered: set[str]) -> set[str]:
    """``terms`` that no covered term matches, where a term also matches its stem's slips
    ("dredge" in a sentence saying "dredging" stemmed "dredg"): one is the other plus at
    most two letters."""
    return {
        t
        for t in terms
        if not any(
            len(c) >= 4 and abs(len(c) - len(t)) <= 2 and (c.startswith(t) or t.startswith(c))
            for c in covered
        )
    }


_WH_HEAD = re.compile(
    r"\b(?:which|what)\s+(?:(?:is|are|was|were|will|would)\s+(?:the|its|their)\s+)?"
    r"(?:(?:two|three|four|both)\s+)?([a-z][\w-]*)",
    re.I,
)
"""The noun a which/what question asks for: "Which menu ...", "What will the capacity
of ... be?" (after a copula; after "did"/"does" comes the subject)."""


def _adds_asked(
    question: str,
    best: Scored,
    other: Scored,
    new: set[str],
    weights: dict[str, float],
    names: set[str],
) -> bool:
    """Does ``other`` add asked content that the best sentence lacks? ``new`` holds the
    asked terms it adds beyond the best one, its heading and its document title; ``weights``
    the question's term weights, ``names`` the names, codes and numbers it pins. It adds
    when ``new`` holds

    * the noun the question asks for ("Which menu sets the heating curve?" against "The
      heating curve sets the flow temperature ...");
    * another of the names, codes or numbers the question pins, next to the best one's
      ("Class C" after "Class B" for "What is the night cap for Class B and for Class C?");
    * two or more terms weighing :data:`ASKED_SHARE` of the question's terms, each
      weighed by its rarity among the candidates (:func:`_term_weights`);
    * or one term, when ``other`` scores within :data:`CLOSE_SECOND` of the best one and
      keeps the question's names that the best one holds ("W02 ... means that the
      service is due" adds only "mean" to "E01 – Low water flow" for "What does E01
      mean?").

    A sentence adding only who spoke ("Colonel ..., Commander of ...") to the one that
    names both gates for "Which two border gates did the commander want upgraded or
    opened?" pads."""
    if not new:
        return False
    head = _WH_HEAD.search(question)
    if head and set(tokenize(head.group(1))) & new:
        return True  # the noun asked for
    if new & names and names & set(tokenize(best.chunk.text)):
        return True  # another of the things the question names ("Class C" after "Class B")
    total = sum(weights.values())
    if len(new) >= 2:
        return total > 0 and sum(weights.get(t, 0.0) for t in sorted(new)) >= ASKED_SHARE * total
    held = asked_names(question) & set(tokenize(best.chunk.text))
    return best.score - other.score <= CLOSE_SECOND and held <= set(tokenize(other.chunk.text))


def clear_question_caches() -> None:
    """Forget what is cached per question (type matches, value scores, question types and
    qualifiers), keeping what is cached per sentence: a benchmark that asks its questions
    again then times a new question's work over passages already seen, not a lookup."""
    from rag.answer.qualifiers import _value_scores, question_qualifiers
    from rag.answer.supporting import role_terms

    for cached in (
        _typed,
        _value_scores,
        question_qualifiers,
        question_type,
        asks_for_list,
        asks_why,
        asks_money,
        role_terms,
    ):
        cached.cache_clear()


def _term_weights(qterms: set[str], sets: list[frozenset[str]]) -> dict[str, float]:
    """IDF-like weights of the question terms over the candidate sentences' term sets, in
    sorted term order: sums over them then come out the same in every process (a set's
    order follows the string hash seed, and float addition is not associative)."""
    n = len(sets) or 1
    return {t: float(np.log(1 + n / (1 + sum(t in s for s in sets)))) for t in sorted(qterms)}
