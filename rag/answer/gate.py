"""The gate between an extractive draft and the answer: quote it, quote part of it, or decline.

The extractive backend (:mod:`rag.answer.extractive`) always drafts its best sentences;
whether they answer is decided here, after drafting and before verification:

- the abstention model (:mod:`rag.answer.abstain`, fitted on the suite's dev split)
  gives the probability that quoting the best sentence is right, and
  ``min_answer_score`` is the probability needed;
- a yes/no question must find what it states in the quoted sentence
  (:func:`rag.answer.yesno.unconfirmed`), else one of the next candidates that holds
  it is quoted instead;
- a two-part question drops the parts about what no retrieved document mentions
  (:func:`rag.answer.two_part.unheld_parts`), and answers the parts that are confident
  when the parts are not confident on average; the others are declined by name.

:class:`DraftGate` holds what one question's gate reads (its passages, their
documents, the corpus' term rarity) so the answer chain passes them once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rag.answer import abstain, aggregate, two_part, yesno
from rag.answer.draft import ExtractiveDraft, compose
from rag.answer.extractive import VALUE_TYPES, Scored, question_type
from rag.answer.followup import split_context
from rag.answer.neighbours import ANAPHOR
from rag.answer.qtypes import asks_contact
from rag.answer.typed import locates
from rag.types import Hit


@dataclass
class DraftGate:
    """Decides, for one question, which of an extractive draft's sentences are an answer.

    ``texts`` maps the passages' document ids to their full text; ``stats`` gives the
    corpus' term rarity (called only when a probability is needed: it is computed once
    per index); ``trace``, when a list, records each probability and its features."""

    hits: list[Hit]
    texts: dict[str, str]
    stats: Callable[[], abstain.CorpusStats]
    min_score: float
    trace: list[dict[str, Any]] | None = None

    def confident(self, draft: ExtractiveDraft) -> tuple[ExtractiveDraft | None, list[str]]:
        """The draft if its best sentence is a real answer, else None; and the parts of a
        two-part question it leaves unanswered. The abstention model (:mod:`rag.answer.abstain`,
        fitted on the suite's dev split) gives the probability that answering is right;
        ``min_score`` is the probability needed. A two-part question is answered
        when its parts' sentences are confident on average; else the parts that are
        confident on their own are answered and the others declined (none: None)."""
        if draft.best is None:
            return None, []
        if draft.parts:
            ps = [self.probability(q, s) for q, s in draft.parts]
            if sum(ps) / len(ps) >= self.min_score:
                return draft, []
            sure = [p >= self.min_score for p in ps]
            if not any(sure):
                return None, []
            kept = [pick for pick, ok in zip(draft.parts, sure, strict=True) if ok]
            weak = [q for (q, _), ok in zip(draft.parts, sure, strict=True) if not ok]
            return compose(draft.question, kept, draft.candidates, True), weak
        question = split_context(draft.question)[0]
        if yesno.is_yes_no(question):  # what it states must be in the quoted sentence
            draft = self.confirmed(question, draft)
            if draft is None or draft.best is None:
                return None, []
        p = self.probability(question, draft.best)
        return (draft if p >= self.min_score else None), []

    def without_unheld(self, draft: ExtractiveDraft) -> tuple[ExtractiveDraft, list[str]]:
        """A two-part draft without the parts that ask about what none of the retrieved
        documents mentions (:func:`rag.answer.two_part.unheld_parts`), recomposed from the
        other parts' sentences, and those parts; no sources when every part is one."""
        parts = [q for q, _ in draft.parts]
        gone = set(two_part.unheld_parts(parts, self.texts.values()))
        if not gone:
            return draft, []
        kept = [pick for i, pick in enumerate(draft.parts) if i not in gone]
        declined = [parts[i] for i in sorted(gone)]
        if not kept:
            return replace(draft, sources=[], best=None, parts=[]), declined
        return compose(draft.question, kept, draft.candidates, True), declined

    def confirmed(self, question: str, draft: ExtractiveDraft) -> ExtractiveDraft | None:
        """A yes/no draft whose sentence holds what the question states: the draft, else
        one quoting the first of the next :data:`rag.answer.yesno.REPICK` candidates that
        does ("... a Class A licence?": not the Class B sentence ranked first), else None."""
        if not self.unconfirmed(question, draft):
            return draft
        best = draft.best
        for s in draft.candidates[: yesno.REPICK + 1]:
            if s is best:
                continue
            ranked = [s, *(c for c in draft.candidates if c is not s)]
            alt = compose(draft.question, [(question, s)], ranked, False)
            if not self.unconfirmed(question, alt):
                return alt
        return None

    def unconfirmed(self, question: str, draft: ExtractiveDraft) -> list[str]:
        """What a yes/no question states that the draft's sentences do not hold
        (:func:`rag.answer.yesno.unconfirmed`): its best sentence, with the sentences
        around it and the draft's other quoted sentences as context."""
        assert draft.best is not None
        best = draft.best.chunk
        near, labels = abstain.context_texts(
            self.texts[best.doc_id], best.start, best.end, best.doc_title
        )
        quoted = [s.chunk.text for s in draft.sources if s.chunk.chunk_id != best.chunk_id]
        return yesno.unconfirmed(question, best.text, [labels, *quoted], [near])

    def probability(self, question: str, best: Scored) -> float:
        """The abstention model's probability that ``best`` answers ``question``."""
        doc = self.texts[best.chunk.doc_id]
        question = aggregate.without_superlative(question, best.chunk, doc)  # a computed row
        untyped = 0.0  # 1: no value of the asked kind; 0..1: one away from the counted thing
        qtype = question_type(question)
        if qtype in VALUE_TYPES or asks_contact(question):
            untyped = 1.0 if best.typed <= 0.2 else 1.0 - best.typed
        elif qtype == "place" and best.typed <= 0.2 and not _may_locate(best):
            untyped = 1.0  # "Where ...?": no place's name, no "on the label", "in a room"
        near, labels = abstain.context_terms(
            doc, best.chunk.start, best.chunk.end, best.chunk.doc_title
        )
        x = abstain.features(
            question,
            best.chunk.text,
            (near, labels | best.context),
            doc,
            (best.semantic, best.lexical, best.typed),
            untyped,
            self.hits,
            self.stats(),
        )
        p = abstain.load_model().probability(x)  # a title at another rank: rank_mismatch
        if self.trace is not None:
            self.trace.append({"question": question, "features": x, "p": p})
        return p


def _may_locate(best: Scored) -> bool:
    """Can ``best`` say where: a locative phrase (:func:`rag.answer.typed.locates`), or
    "it"/"there" pointing back to a sentence that may name the place ("Grey seals use it
    as a pupping site" after the cave's name)?"""
    text = best.typing or best.chunk.text
    return locates(text) or ANAPHOR.search(text) is not None
