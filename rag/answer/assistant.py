"""The answer chain: condense -> retrieve -> draft (backend) -> verify -> Answer.

:class:`Assistant` is the one entry point the CLI, the app and the evaluation use::

    from rag import Assistant
    bot = Assistant.from_config()
    answer = bot.ask("How many hotline calls did the two border forces make in 2025?")
    print(answer.answer, [c.quote for c in answer.citations])
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rag import prompts
from rag.answer import abstain, disagree, generative, recency
from rag.answer.candidates import Scored
from rag.answer.citations import Source, SupportChecker, verify
from rag.answer.corpus import IndexedCorpus, manifest_key
from rag.answer.draft import ExtractiveDraft, compose
from rag.answer.extractive import ExtractiveBackend
from rag.answer.followup import (
    Turn,
    condense_heuristic,
    is_followup,
    normalize_history,
    split_context,
)
from rag.answer.gate import DraftGate
from rag.answer.llm.backends import ChatLLM, llm_key, make_llm
from rag.config import Config
from rag.errors import ConfigError, ModelLoadError, RagError, StoreError
from rag.lang import detect_language, localized, with_question_word
from rag.retrieve.components import Components, load_components
from rag.retrieve.filters import SourceFilter, allowed_sources
from rag.retrieve.retriever import SearchResult, clean_query
from rag.retrieve.routing import source_language_note
from rag.text import strip_markup, tokenize
from rag.types import Answer, Hit


class Assistant(IndexedCorpus):
    """Answers questions from the indexed documents, with verified citations."""

    def __init__(self, components: Components) -> None:
        self.parts = components
        self.config = components.config
        self.extractive = ExtractiveBackend(components.embedder, components.config)
        self.checker = SupportChecker(components.embedder, components.config.min_support)
        self._llms: dict[tuple, ChatLLM] = {}
        self._llm_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._follow_lock = threading.Lock()
        self._manifest_seen = manifest_key(components.config)
        self._stats: tuple[tuple[int, int], abstain.CorpusStats] | None = None
        self.trace: list[dict[str, Any]] | None = None  # set to a list to record gate features

    @classmethod
    def from_config(
        cls,
        config: Config | None = None,
        *,
        warn: Callable[[str], None] | None = None,
        progress: bool = False,
        **overrides: Any,
    ) -> Assistant:
        """Load models and the index once (building the index if missing or stale)."""
        cfg = (
            (config or Config.from_env()).replace(**overrides)
            if overrides
            else (config or Config.from_env())
        )
        parts = load_components(cfg, warn=warn, progress=progress)
        parts.embedder.warm_up()  # load the model now, not on the first question
        return cls(parts)

    # ------------------------------------------------------------------ public API

    def ask(self, question: str, history: Sequence[Any] | None = None, **settings: Any) -> Answer:
        """Answer one question (optionally in a conversation); see :class:`~rag.types.Answer`."""
        answer = None
        for event in self.stream(question, history, **settings):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        *,
        narrow: SourceFilter | None = None,
        **settings: Any,
    ) -> Iterator[str | Answer]:
        """Yield the answer text as it grows (str), then the final verified :class:`Answer`.

        ``settings`` may override ``backend``, ``k`` and ``hybrid`` for this call;
        ``narrow`` restricts it to some documents (:class:`~rag.retrieve.filters.SourceFilter`).
        """
        t0 = time.perf_counter()
        cfg = self.config.replace(**settings) if settings else self.config
        question = clean_query(question, cfg.max_question_chars)
        turns = normalize_history(history)
        llm, load_note = None, ""
        if cfg.backend != "extractive":
            try:
                llm = self._llm(cfg)
            except (ModelLoadError, ConfigError) as exc:  # a missing GGUF, a bad URL, ...
                load_note = prompts.FALLBACK_NOTE.format(backend=cfg.backend, reason=exc)
        asked = strip_markup(question) or question  # markup is not what is asked
        standalone = self._condense(asked, turns, llm)
        t1 = time.perf_counter()
        allowed = self.allowed_sources(narrow)
        found = self._search(
            standalone,
            cfg.k,
            hybrid=cfg.hybrid,
            lexical_only=cfg.lexical_only,
            parts=True,
            sources=allowed,
        )
        if cfg.dated_answers and recency.asks_latest(standalone):  # read newer articles too
            found = recency.widen(
                lambda newer: self._search(
                    standalone,
                    cfg.k,
                    hybrid=cfg.hybrid,
                    lexical_only=cfg.lexical_only,
                    parts=True,
                    sources=newer,
                ),
                found,
                self.parts.index.docs,
                allowed,
            )
        t2 = time.perf_counter()
        timings = {"condense": (t1 - t0) * 1000, "retrieve": (t2 - t1) * 1000}
        answer = Answer(
            question, standalone, "", False, cfg.backend, passages=found.hits, timings_ms=timings
        )
        avoid = frozenset(_previous_answers(turns, standalone))
        if load_note:
            answer.notes.append(load_note)
            answer.backend = f"extractive (fallback from {cfg.backend})"
        if allowed is not None and narrow is not None:
            answer.notes.append(
                prompts.NARROWED.format(n=len(allowed), what=narrow.describe())
                if allowed
                else prompts.NOTHING_MATCHES.format(what=narrow.describe())
            )
        if llm is None:
            yield from self._extractive(answer, found, avoid, cfg, allowed)
        else:
            yield from self._generative(answer, found, llm, avoid, cfg, allowed)
        self._dated(answer, cfg, allowed)
        if answer.citations:  # quotes stay in their language; say which when it differs
            cited = [c.source for c in answer.citations]
            note = source_language_note(self.parts.retriever, answer.question, cited)
            answer.notes += [note] if note else []
        answer.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        yield answer

    def search(
        self, query: str, k: int | None = None, *, narrow: SourceFilter | None = None, **kw: Any
    ) -> SearchResult:
        """Ranked passages for ``query`` (no answer), optionally from some documents only."""
        return self._search(query, k, sources=self.allowed_sources(narrow), **kw)

    def allowed_sources(self, narrow: SourceFilter | None) -> list[str] | None:
        """The documents ``narrow`` allows (None: all of them)."""
        return allowed_sources(narrow, self.parts.index.docs, self.config)

    def _search(self, query: str, k: int | None, *, parts: bool = False, **kw: Any) -> SearchResult:
        """Retrieve from the current index: one re-built by another process (`rag index`,
        another replica sharing a Milvus server) is picked up first; a store failure caused
        by such a rebuild (its old collection dropped) is retried once on the new index."""

        def run() -> SearchResult:
            retriever = self.parts.retriever  # the current one: a reload replaces it
            return (retriever.search_parts if parts else retriever.search)(query, k, **kw)

        self.follow_index()
        try:
            return run()
        except StoreError:
            if not self.follow_index():
                raise
            return run()

    def clear_caches(self) -> None:
        """Forget cached query and sentence vectors (for fair timing comparisons)."""
        self.parts.embedder.clear_cache()
        getattr(self.parts.retriever, "clear_cache", lambda: None)()  # the multilingual one

    # ------------------------------------------------------------------ stages

    def _condense(self, question: str, turns: list[Turn], llm: ChatLLM | None) -> str:
        """The follow-up rewritten to stand alone: by the LLM when there is one and its
        rewrite is usable (see :func:`rag.answer.llm.backends.usable_rewrite`), else by the heuristic."""
        if not turns or not is_followup(question):
            return question
        if llm is not None:
            rewritten = generative.condense(question, turns, llm, self.config.max_question_chars)
            if rewritten:
                return rewritten
        return condense_heuristic(question, turns)

    def _extractive_for(self, question: str, hits: Sequence[Hit]) -> ExtractiveBackend:
        """The extractive backend whose encoder reads both the question's language and the
        passages' (the multilingual one across languages: rag.retrieve.routing)."""
        pick = getattr(self.parts.retriever, "answer_embedder", None)
        embedder = pick(question, hits) if pick is not None else None
        return self.extractive if embedder is None else ExtractiveBackend(embedder, self.config)

    def _extractive(
        self,
        answer: Answer,
        found: SearchResult,
        avoid: frozenset[str],
        cfg: Config,
        allowed: list[str] | None = None,
    ) -> Iterator[str]:
        t0 = time.perf_counter()
        asked = with_question_word(answer.standalone_question)  # "Ai là ...?" asks for a person
        draft = self._extractive_for(answer.standalone_question, found.hits).draft(
            asked, found.hits, self._texts(found.hits), avoid
        )
        t1 = time.perf_counter()
        answer.timings_ms["generate"] = (t1 - t0) * 1000
        gate = DraftGate(
            found.hits,
            self._texts(found.hits),
            self._corpus_stats,
            cfg.min_answer_score,
            self.trace,
        )
        declined: list[str] = []  # parts the sources do not answer: said so after the rest
        if draft.parts:
            draft, declined = gate.without_unheld(draft)
        refused = draft
        draft, weak = gate.confident(draft) if draft.sources else (None, [])
        declined += weak
        hits = found.hits
        if draft is None and not refused.parts and cfg.dated_answers:  # the sources disagree?
            draft, hits = self._disputed(answer.standalone_question, cfg, allowed) or (None, hits)
        if draft is None:
            self._abstain(answer)
            answer.timings_ms["verify"] = 0.0
            return
        if cfg.dated_answers:  # "latest": the newest supporting source answers
            draft = recency.prefer_newest(draft, self._date_of)[0]
        self._verify(answer, draft.text, draft.sources, hits, reattribute=False)
        if answer.abstained and draft.plain and draft.plain != draft.text:  # value-first failed
            answer.abstained, answer.notes = False, answer.notes[:-1]
            self._verify(answer, draft.plain, draft.sources, hits, reattribute=False)
        if declined and not answer.abstained:  # said so, in the question's language
            said = localized(
                prompts.PART_NOT_IN_SOURCES_LANG,
                detect_language(answer.question),
                prompts.PART_NOT_IN_SOURCES,
            )
            answer.answer = " ".join([answer.answer, *(said.format(part=p) for p in declined)])
        if answer.answer:
            yield answer.answer

    def _generative(
        self,
        answer: Answer,
        found: SearchResult,
        llm: ChatLLM,
        avoid: frozenset[str],
        cfg: Config,
        allowed: list[str] | None = None,
    ) -> Iterator[str]:
        """Draft with the LLM over numbered sources (:mod:`rag.answer.generative`), then
        keep only what they support.

        Yields the draft as it grows (reasoning, markers to sources that were not given,
        and half-written markers hidden): it is unverified, and the final
        :class:`Answer` replaces it with the verified text (unsupported sentences
        removed, each marker mapped to its minimal supporting span, renumbered), or
        with an abstention. If the backend fails, the extractive backend answers,
        marked as a fallback.
        """
        hits = found.hits
        texts = self._texts(hits)
        if generative.off_topic(answer.standalone_question, hits, texts, cfg.min_relevance):
            answer.timings_ms.update(generate=0.0, verify=0.0)
            self._abstain(answer)
            return
        sources = generative.sources_for(hits, texts)
        draft = yield from generative.stream_draft(answer, llm, sources, cfg.llm_max_tokens)
        if draft is None:  # the backend failed
            yield from self._extractive(answer, found, avoid, cfg, allowed)
            return
        if not draft:
            answer.timings_ms["verify"] = 0.0
            self._abstain(answer)
            return
        self._verify(answer, draft, sources, hits, reattribute=True)  # abstains if none kept

    def _disputed(
        self, question: str, cfg: Config, allowed: list[str] | None
    ) -> tuple[ExtractiveDraft, list[Hit]] | None:
        """A draft for a question whose draft the gate refused, when the sources disagree:
        a wider search (the disagreement check's, within ``allowed``) finds its sentences
        giving different values in dated sources, and one of those sentences answers on
        its own (:func:`rag.answer.disagree.confident_side`): the gate is confident of it,
        and it holds every word of the question with the sentences around it (the gate was
        fitted on the best-ranked sentence; another one may be about another thing: "the
        flood scheme will cost ..." for an allotment's rent). Returns that sentence's
        draft and the passages it comes from; :meth:`_dated` adds the note naming every
        side. None otherwise (refused). A "latest" question is not one: its newest
        source answers (:mod:`rag.answer.recency`)."""
        primary = split_context(question)[0]
        if recency.asks_latest(question) or not disagree.applicable(primary):
            return None
        hits = self._wider(question, cfg, allowed)
        disagree.WIDER.keep((question, cfg, allowed, self.parts.retriever), hits)  # for _dated
        texts = self._texts(hits)
        ranked = self.extractive.rank(question, hits, texts)
        gate = DraftGate(hits, texts, self._corpus_stats, cfg.min_answer_score)  # untraced
        asked = set(tokenize(primary))

        def sure(s: Scored) -> bool:  # every word of the question read there, and confident
            c = s.chunk
            near, labels = abstain.context_terms(texts[c.doc_id], c.start, c.end, c.doc_title)
            held = set(tokenize(c.text)) | near | labels | s.context
            return asked <= held and gate.probability(primary, s) >= cfg.min_answer_score

        side = disagree.confident_side(question, ranked, self._date_of, sure)
        if side is None:
            return None
        ranked = [side, *(s for s in ranked if s is not side)]
        return compose(question, [(question, side)], ranked, False), hits

    def _wider(self, question: str, cfg: Config, allowed: list[str] | None) -> list[Hit]:
        """The passages the disagreement check reads: :data:`rag.answer.disagree.WIDER_SEARCH`
        times ``k`` of them, within ``allowed``."""
        return self._search(
            question,
            cfg.k * disagree.WIDER_SEARCH,
            hybrid=cfg.hybrid,
            lexical_only=cfg.lexical_only,
            parts=True,
            sources=allowed,
        ).hits

    def _dated(self, answer: Answer, cfg: Config, allowed: list[str] | None) -> None:
        """Many dated articles, after verification (any backend): a "latest" question's
        answer states its newest source's date (:mod:`rag.answer.recency`); otherwise, where
        the sentences that answer it (from a wider search, within ``allowed``) give
        different values, a note cites each side, newest first (:mod:`rag.answer.disagree`);
        the wider search is :meth:`_disputed`'s where that ran (one per question)."""
        question = answer.standalone_question
        wide = disagree.WIDER.take((question, cfg, allowed, self.parts.retriever))
        if answer.abstained or not answer.answer or not cfg.dated_answers:
            return
        if recency.asks_latest(question):
            hits = answer.passages  # already widened to newer articles
            ranked = self.extractive.rank(question, hits, self._texts(hits))
            recency.settle(answer, question, ranked, self._date_of)
            return
        if not disagree.applicable(question):
            return
        hits = self._wider(question, cfg, allowed) if wide is None else wide
        seed = disagree.seed_query(question, answer)  # a name: its role and the name too
        if seed:
            seen = {h.chunk.chunk_id for h in hits}
            kw = {"hybrid": cfg.hybrid, "lexical_only": cfg.lexical_only, "sources": allowed}
            more = self._search(seed, cfg.k, parts=True, **kw).hits
            hits = [*hits, *(h for h in more if h.chunk.chunk_id not in seen)]
        ranked = self.extractive.rank(question, hits, self._texts(hits))
        disagree.annotate(answer, question, ranked, self._date_of)

    def _date_of(self, key: str) -> str:
        """A document's publication date (ISO, "" unknown) by id or source path."""
        try:
            return self.parts.index.document(key).date
        except (KeyError, RagError):
            return ""

    def _verify(
        self,
        answer: Answer,
        draft: str,
        sources: list[Source],
        hits: list[Hit],
        *,
        reattribute: bool,
    ) -> None:
        t0 = time.perf_counter()
        result = verify(  # re-attributing means a generative draft: drop its echoes too
            draft,
            sources,
            self._texts(hits),
            self.checker,
            reattribute=reattribute,
            drop_echoes=reattribute,
        )
        answer.timings_ms["verify"] = (time.perf_counter() - t0) * 1000
        if result.removed:
            answer.notes.append(prompts.UNSUPPORTED_REMOVED.format(n=len(result.removed)))
        if not result.citations:
            self._abstain(answer)
            return
        answer.answer = result.text
        answer.citations = result.citations

    def _corpus_stats(self) -> abstain.CorpusStats:
        """Term rarity over the loaded index's documents, computed once per index."""
        index = self.parts.index
        key = (id(index), len(index.docs))
        if self._stats is None or self._stats[0] != key:
            self._stats = (key, abstain.CorpusStats(index.docs))
        return self._stats[1]

    def _abstain(self, answer: Answer) -> None:
        answer.abstained = True
        answer.citations = []
        reply = localized(
            prompts.NOT_IN_SOURCES_LANG, detect_language(answer.question), prompts.NOT_IN_SOURCES
        )
        answer.answer = reply.format(question=answer.question.rstrip())

    def prefetch_sentences(self, stop: Callable[[], bool] | None = None) -> int:
        """Embed the quotable sentences of the indexed chunks ahead of questions, as far
        as the embedder's sentence cache allows (see :meth:`Embedder.prefetch`): the
        app runs this in a low-priority thread after loading and after each change.
        Returns how many texts it embedded."""
        index, embedder = self.parts.index, self.parts.embedder
        doc_texts = {d.doc_id: d.text for d in index.docs}
        done, step = 0, 256
        for s in range(0, len(index.chunks), step):
            chunks = [index.chunks[i] for i in range(s, min(s + step, len(index.chunks)))]
            embedded = embedder.prefetch(self.extractive.texts_to_embed(chunks, doc_texts), stop)
            done += embedded
            if (stop is not None and stop()) or not embedder.has_room():
                break
        return done

    def _texts(self, hits: Sequence[Hit]) -> dict[str, str]:
        index = self.parts.index
        return {h.chunk.doc_id: index.document(h.chunk.doc_id).text for h in hits}

    def warm_backend(self, backend: str) -> None:
        """Start ``backend``'s model now (for a background thread), so that the first
        question on it does not wait for it (the local model: its child process and the
        system prompt read, ~1-3 s). Created outside the lock: questions on other
        backends do not wait for it. Raises what creating it raises."""
        cfg = self.config.replace(backend=backend)
        key = llm_key(cfg)
        with self._llm_lock:
            if key in self._llms:
                return
        llm = make_llm(cfg)
        with self._llm_lock:
            self._llms.setdefault(key, llm)

    def _llm(self, cfg: Config) -> ChatLLM:
        """The generative model for these settings, created once per process and reused."""
        key = llm_key(cfg)
        with self._llm_lock:
            if key not in self._llms:
                self._llms[key] = make_llm(cfg)
            return self._llms[key]


_ANOTHER = re.compile(r"\b(the other|another|the second|other one)\b(?! each)", re.I)


def _previous_answers(turns: Sequence[Turn], standalone: str) -> list[str]:
    """Sentences of the previous answer, to avoid repeating them for "the other ..." questions."""
    if not turns or not _ANOTHER.search(split_context(standalone)[0]):
        return []
    from rag.answer.citations import strip_markers
    from rag.text import sentence_spans

    prev = strip_markers(turns[-1].answer)
    return [prev[a:b] for a, b in sentence_spans(prev)]
