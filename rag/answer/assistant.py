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
from dataclasses import replace
from typing import Any

from rag import prompts
from rag.answer import abstain, disagree, recency
from rag.answer.candidates import Scored
from rag.answer.citations import Source, SupportChecker, verify
from rag.answer.corpus import IndexedCorpus, manifest_key
from rag.answer.draft import ExtractiveDraft, compose
from rag.answer.extractive import ExtractiveBackend, unstated_numbers
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
from rag.errors import BackendError, ConfigError, ModelLoadError, RagError, StoreError
from rag.ingest.dates import front_matter
from rag.lang import detect_language, localized, with_question_word
from rag.retrieve.components import Components, load_components
from rag.retrieve.filters import SourceFilter, allowed_sources
from rag.retrieve.retriever import SearchResult, clean_query
from rag.retrieve.routing import source_language_note
from rag.text import strip_markup, tokenize
from rag.types import Answer, Chunk, Hit


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
            from rag.answer.citations import strip_markers
            from rag.answer.llm.backends import defuse, usable_rewrite

            recent = turns[-3:]
            history = "\n".join(
                f"User: {defuse(t.question)}\nAssistant: {defuse(strip_markers(t.answer)[:300])}"
                for t in recent
            )
            prompt = prompts.CONDENSE_PROMPT.format(history=history, question=defuse(question))
            limit = min(self.config.max_question_chars, 300)
            raw, stream = "", None
            try:
                stream = llm.stream_chat([("user", prompt)])
                for delta in stream:
                    raw += delta
                    if len(raw) > limit or (raw.strip() and "\n" in raw.lstrip()):
                        break  # one line is all we use
            except BackendError:
                raw = ""
            finally:
                if hasattr(stream, "close"):
                    stream.close()  # stop generating the rest
            context = [
                part for t in recent for part in (t.question, t.standalone, strip_markers(t.answer))
            ]
            rewritten = usable_rewrite(raw, question, context, self.config.max_question_chars)
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
        """Draft with the LLM over numbered sources, then keep only what they support.

        Yields the draft as it grows (reasoning, markers to sources that were not given,
        and half-written markers hidden): it is unverified, and the final
        :class:`Answer` replaces it with the verified text (unsupported sentences
        removed, each marker mapped to its minimal supporting span, renumbered), or
        with an abstention. If the backend fails, the extractive backend answers,
        marked as a fallback.
        """
        from rag.answer.llm.backends import clean_draft, says_not_in_sources, visible_draft

        hits = found.hits
        question = split_context(answer.standalone_question)[0]
        if (
            not hits
            or max(h.dense_score for h in hits) < cfg.min_relevance
            or unstated_numbers(question, " ".join(self._texts(hits).values()))
        ):  # off-topic, or it asks about a year/number no retrieved document mentions
            answer.timings_ms.update(generate=0.0, verify=0.0)
            self._abstain(answer)
            return
        texts = self._texts(hits)
        sources = [Source(h.rank, _prose(h.chunk, texts[h.chunk.doc_id]), h.score) for h in hits]
        messages = _draft_messages(answer.standalone_question, sources)
        given = frozenset(s.n for s in sources)
        limit = max(cfg.llm_max_tokens, 16) * 8  # characters; a backend may ignore max_tokens
        t0 = time.perf_counter()
        text = shown = ""
        stream = None
        cut = False
        try:
            stream = llm.stream_chat(messages)
            for delta in stream:
                if not text:
                    answer.timings_ms["first_token"] = (time.perf_counter() - t0) * 1000
                text += delta
                if len(text) > limit:
                    text, cut = text[:limit], True
                visible = visible_draft(text, given)
                if visible and visible != shown:
                    shown = visible
                    yield visible
                if cut:
                    break
        except BackendError as exc:
            answer.timings_ms["generate"] = (time.perf_counter() - t0) * 1000
            answer.notes.append(prompts.FALLBACK_NOTE.format(backend=llm.name, reason=exc))
            answer.backend = f"extractive (fallback from {llm.name})"
            yield from self._extractive(answer, found, avoid, cfg, allowed)
            return
        finally:
            if hasattr(stream, "close"):
                stream.close()  # stop the backend generating what nobody reads
        answer.timings_ms["generate"] = (time.perf_counter() - t0) * 1000
        draft = clean_draft(
            text,
            answer.standalone_question,
            [s.chunk.text for s in sources],
            truncated=True if cut else _truncated(stream),
        )
        if not draft or says_not_in_sources(text):
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


def _prose(chunk: Chunk, doc_text: str) -> Chunk:
    """``chunk`` without the document's Markdown front matter (``title:``/``date:``
    lines between ``---`` fences): it files the document, it is no source text, and a
    small model copies it ("date: 2025-12-31") or answers the scaffold instead."""
    end = front_matter(doc_text)[1]
    if chunk.start >= end:
        return chunk
    rest = doc_text[end : chunk.end]
    start = end + len(rest) - len(rest.lstrip())  # the prose after it, blank lines skipped
    return replace(chunk, start=start, text=doc_text[start : chunk.end])


def _draft_messages(question: str, sources: Sequence[Source]) -> list[tuple[str, str]]:
    """Chat messages asking for a cited answer from numbered sources.

    Document text and the question are data: chat-template control tokens in them
    are made inert, sentences in sources that give orders to an assistant are left
    out (:func:`rag.answer.llm.backends.quarantine`), and the system prompt says sources are data.
    """
    from rag.answer.llm.backends import defuse, quarantine

    block = "\n\n".join(
        prompts.SOURCE_ITEM.format(
            n=s.n, title=quarantine(s.chunk.doc_title), text=quarantine(s.chunk.text)
        )
        for s in sources
    )
    return [
        ("system", prompts.SYSTEM_PROMPT),
        ("user", prompts.SOURCES_BLOCK.format(sources=block)),
        ("assistant", prompts.SOURCES_READ),
        ("user", prompts.QUESTION_PROMPT.format(question=defuse(question))),
    ]


def _truncated(stream: object) -> bool | None:
    """Did the reply stop at the token limit? None when the backend does not say."""
    reason = getattr(stream, "finish_reason", None)
    return None if reason is None else reason == "length"
