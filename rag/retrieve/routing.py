"""Cross-lingual retrieval: pick the index per question, balance candidates by language.

The main index is embedded by the configured model (MiniLM by default, English only in
practice). Beside it, :class:`MultilingualRoute` keeps a second index of *the same
chunks* (same documents, same chunking settings, so the same offsets and citations)
embedded by ``multilingual_model`` (multilingual-e5-small), in
``multilingual_index_path``. It is built through the normal index code, lazily: at load
when the corpus holds documents in other languages than English (English questions need
it too then), else at the first question that is not in English. A pure English corpus
asked in English never builds it and searches exactly as before.

:class:`RoutedRetriever` decides per question:

* an English question over English documents: the main retriever, unchanged;
* otherwise, one candidate list per document language (detected at load from each
  document's text, :func:`document_language`), each searched only among that language's
  documents: English documents for an English question through the main index (today's
  encoder), every other pair through the multilingual index, hybrid (dense + BM25) only
  where document and question share a language (BM25 across languages matches the
  question's words to the wrong articles), dense only elsewhere. The lists are merged by
  reciprocal rank fusion, ties broken by how far a passage stands out of its own
  language's candidates (multilingual encoders score same-language text higher across
  the board, so raw cosines across languages are not comparable). Hits in the question's
  language whose document names none of the names the question asks about come last
  (:func:`nameless_last`): they are about something else, however close their vector.

Balancing matters because e5 ranks any passage in the question's language above the
right passage in another: an English question about a Chinese article otherwise sees
only English passages (eval/crosslingual/README.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.config import Config
from rag.embed.encoder import Embedder
from rag.errors import IndexCorruptError, ModelLoadError, RagError
from rag.lang import detect_language
from rag.retrieve.names import name_phrases, nameless_last, names_held
from rag.retrieve.retriever import Retriever, SearchResult, clean_query
from rag.store.index import Index
from rag.types import Document, Hit

SAMPLE_CHARS = 1000  # of each document's text, for its language (~0.5 ms a document)
ENGLISH = "en"
_LANGUAGES: dict[str, str] = {}  # doc_id (a hash of the text) -> language, across reloads
_MAX_CACHED = 500_000


def document_language(doc: Document) -> str:
    """A document's language from its title and the start of its text ("en" when unsure);
    detected once per document text (a reload after an upload detects only the new ones)."""
    lang = _LANGUAGES.get(doc.doc_id)
    if lang is None:
        lang = detect_language(f"{doc.title}\n{doc.text[:SAMPLE_CHARS]}") or ENGLISH
        if len(_LANGUAGES) >= _MAX_CACHED:
            _LANGUAGES.clear()
        _LANGUAGES[doc.doc_id] = lang
    return lang


def chunk_language(doc_id: str, text: str) -> str:
    """The language of a chunk or sentence: its document's (detected when the index was
    loaded), else detected from ``text`` itself ("en" when unsure)."""
    return _LANGUAGES.get(doc_id) or detect_language(text) or ENGLISH


def centre_by_language(values: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """``values`` (one per candidate) with each language's median moved to the median of
    all and its spread scaled to the spread within languages (pooled; a language with
    fewer than three candidates or none is only moved), so candidates are compared by how
    far they stand out among their own language's: a multilingual encoder scores text in
    the question's language higher and more spread out, and word overlap only exists
    within a language. ``values`` itself is returned when every candidate has one
    language (the usual case: nothing changes)."""
    if len(set(languages)) <= 1:
        return values
    langs = np.asarray(languages)
    out = np.asarray(values, dtype=np.float64).copy()
    overall = float(np.median(out))
    masks = [langs == lang for lang in sorted(set(languages))]
    spreads = [float(np.std(out[m])) for m in masks]
    # the spread within languages (pooled), not across them: e5's cosines in the
    # question's language are both higher and more spread out
    within = sum(m.sum() * sd**2 for m, sd in zip(masks, spreads, strict=True))
    pooled = float(np.sqrt(within / len(out)))
    for mask, sd in zip(masks, spreads, strict=True):
        scale = pooled / sd if sd > 1e-9 and mask.sum() >= 3 else 1.0
        out[mask] = overall + (out[mask] - float(np.median(out[mask]))) * scale
    return out.astype(np.asarray(values).dtype, copy=False)


REFERENCE_LEVEL = 0.045
REFERENCE_SPREAD = 0.054
"""The scale :func:`calibrated_similarity` puts a multilingual encoder's cosines on: the
main encoder's (all-MiniLM-L6-v2), which the extractive scoring weights and the
abstention model were fitted on. On ``seeds_dev`` (43 answerable English questions)
MiniLM scores the background sentences at 0.045 on average with a spread of 0.064, and
the gold sentence stands 9.7 spreads above them, against 11.4 of e5's spreads for e5:
so a sentence standing z background spreads out maps to 0.045 + z x 0.064 x 9.7 / 11.4
(e5's gold English sentences land at MiniLM's mean of 0.64)."""
_BACKGROUND: dict[str, dict[str, np.ndarray]] = {}  # model name -> language -> vectors


def background_vectors(embedder: Embedder) -> dict[str, np.ndarray]:
    """``embedder``'s passage vectors of :data:`rag.lang.BACKGROUND_SENTENCES`, per
    language, embedded once per model."""
    from rag.lang import BACKGROUND_SENTENCES

    found = _BACKGROUND.get(embedder.model_name)
    if found is None:
        found = {
            lang: np.asarray(embedder.encode_many(list(sents)), dtype=np.float32)
            for lang, sents in BACKGROUND_SENTENCES.items()
        }
        _BACKGROUND[embedder.model_name] = found
    return found


def calibrated_similarity(
    sims: np.ndarray, languages: Sequence[str], query: np.ndarray, embedder: Embedder
) -> np.ndarray:
    """Cosines ``sims`` of candidates in ``languages`` to the ``query`` vector, each read
    against the query's cosines to unrelated sentences in its own language (mean and
    spread over :data:`rag.lang.BACKGROUND_SENTENCES`) and put on the main encoder's
    scale (:data:`REFERENCE_LEVEL` + standard score x :data:`REFERENCE_SPREAD`).

    A multilingual encoder scores text in the question's language higher across the
    board (e5: ~0.1), and its cosines sit near 0.8 where MiniLM's sit near 0.5, so raw
    cosines neither rank candidates of several languages nor feed the abstention model
    fitted on MiniLM. Centring on the candidates themselves (:func:`centre_by_language`)
    removes the level but also the signal: the language whose passages are all about the
    question gets the highest median. A language without background sentences is read
    against English's."""
    bg = background_vectors(embedder)
    q = np.asarray(query, dtype=np.float32)
    stats: dict[str, tuple[float, float]] = {}
    out = np.asarray(sims, dtype=np.float64).copy()
    langs = np.asarray(languages)
    for lang in set(languages):
        key = lang if lang in bg else ENGLISH
        if key not in stats:
            cos = bg[key] @ q
            stats[key] = (float(cos.mean()), float(cos.std()) + 1e-6)
        mean, sd = stats[key]
        mask = langs == lang
        out[mask] = REFERENCE_LEVEL + (out[mask] - mean) / sd * REFERENCE_SPREAD
    return out.astype(np.asarray(sims).dtype, copy=False)


def answer_similarity(
    sims: np.ndarray,
    languages: Sequence[str],
    query: np.ndarray,
    embedder: Embedder,
    config: Config,
) -> np.ndarray:
    """The candidates' similarities as the extractive scoring reads them: the main
    encoder's as they are (centred per language when several are present), the
    multilingual encoder's through :func:`calibrated_similarity`."""
    if embedder.model_name == config.multilingual_model and not is_multilingual(config):
        return calibrated_similarity(sims, languages, query, embedder)
    return centre_by_language(sims, languages)


def multilingual_config(config: Config) -> Config:
    """The settings of the multilingual index: the main ones with its model and folder."""
    return config.replace(
        embedding_model=config.multilingual_model,
        index_dir=config.multilingual_index_path,
        milvus_collection=f"{config.milvus_collection}_multilingual",
    )


def is_multilingual(config: Config) -> bool:
    """Whether the main index is already embedded by the multilingual model."""
    return config.embedding_model == config.multilingual_model


def wants_multilingual_index(config: Config, docs: Sequence[Document]) -> bool:
    """Whether ``rag index`` should build (or update) the multilingual index beside the
    main one: routing is on (``multilingual=auto``), the main index is not already
    embedded by the multilingual model, and either the corpus holds documents in another
    language than English (every question needs the index then: the rule
    :func:`rag.retrieve.components.load_components` applies at load) or a multilingual
    index exists already (a question in another language built it; keep it current, so
    the next such question does not wait for an update)."""
    if config.multilingual == "off" or is_multilingual(config):
        return False
    if any(document_language(d) != ENGLISH for d in docs):
        return True
    return (config.multilingual_index_path / "manifest.json").is_file()


def build_multilingual_index(
    config: Config,
    *,
    rebuild: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """Build or update the multilingual index of ``config``'s corpus (the same chunks as
    the main index, embedded by ``multilingual_model``); returns the build's
    :class:`rag.store.build.BuildReport`. Raises :class:`rag.errors.RagError` (a missing
    model, an unwritable folder) like the main build."""
    from rag.store.build import build_index

    cfg = multilingual_config(config)
    embedder = Embedder(
        cfg.embedding_model, batch_size=cfg.embed_batch_size, backend=cfg.embed_backend
    )
    return build_index(cfg, embedder, rebuild=rebuild, progress=progress, warn=warn)


class MultilingualRoute:
    """The multilingual embedder and index, opened once and refreshed when the main index
    moves to another generation (an upload, a removal, ``rag index``)."""

    def __init__(self, config: Config, warn: Callable[[str], None] | None = None) -> None:
        self.config = multilingual_config(config)
        self.warn = warn
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._retriever: Retriever | None = None
        self._for: tuple[Any, ...] | None = None  # the main index generation it matches
        self._failed_for: tuple[Any, ...] | None = None  # the generation it last failed on
        self.error = ""  # why the route is unavailable (model missing, ...), once known

    def retriever(self, main: Index) -> Retriever | None:
        """The multilingual retriever for ``main``'s documents (built or updated first if
        needed); None, with :attr:`error` set, when the model cannot be loaded or the index
        cannot be written (tried again once the main index changes). A corrupt
        multilingual index is rebuilt: it is derived data."""
        key = (str(main.path), main.manifest.get("generation"), main.manifest.get("built_at"))
        if self._retriever is not None and self._for == key:
            return self._retriever
        with self._lock:
            if self._retriever is not None and self._for == key:
                return self._retriever
            if self.error and self._failed_for == key:
                return None
            try:
                index = self._open()
            except RagError as exc:
                self.disable(str(exc), key)
                return None
            self._retriever = Retriever(index, self._embedder, self.config)
            self._for, self.error = key, ""
            return self._retriever

    def _open(self) -> Index:
        from rag.store.build import build_index, open_index
        from rag.store.index import load_index

        if self._embedder is None:
            cfg = self.config
            self._embedder = Embedder(
                cfg.embedding_model,
                batch_size=cfg.embed_batch_size,
                cache_size=cfg.query_cache_size,
                backend=cfg.embed_backend,
            )
        try:
            return open_index(self.config, self._embedder, warn=self.warn)
        except IndexCorruptError as exc:
            if self.warn:
                self.warn(f"rebuilding the multilingual index: {exc}")
            build_index(self.config, self._embedder, rebuild=True, progress=False)
            return load_index(self.config)

    def disable(self, reason: str, key: tuple[Any, ...] | None = None) -> None:
        """Stop routing (the main index answers) until the main index changes."""
        self.error, self._failed_for, self._retriever = reason, key, None
        if self.warn:
            self.warn(f"multilingual retrieval is off: {reason}")


class RoutedRetriever(Retriever):
    """A :class:`Retriever` over the main index that sends each question through the
    index that suits its language (see the module docstring)."""

    def __init__(
        self, index: Index, embedder: Embedder, config: Config, route: MultilingualRoute | None
    ) -> None:
        super().__init__(index, embedder, config)
        self.route = route
        self.languages = [document_language(d) for d in index.docs]
        self._lang_of = {d.doc_id: lang for d, lang in zip(index.docs, self.languages, strict=True)}
        self._by_lang: dict[str, list[str]] = {}
        self._names_held: dict[tuple[str, tuple[str, ...]], bool] = {}  # (doc_id, names)
        for doc, lang in zip(index.docs, self.languages, strict=True):
            self._by_lang.setdefault(lang, []).append(doc.source)

    def needs_route(self, query: str) -> bool:
        """Whether ``query`` leaves the main index: not English, or other-language documents."""
        if self.route is None and not is_multilingual(self.config):
            return False
        lang = detect_language(query) or ENGLISH
        return lang != ENGLISH or set(self._by_lang) - {ENGLISH} != set()

    def clear_cache(self) -> None:
        """Forget the multilingual encoder's cached vectors (the main one is the caller's)."""
        embedder = self.route._embedder if self.route is not None else None
        if embedder is not None:
            embedder.clear_cache()

    def answer_embedder(self, question: str, hits: Sequence[Hit]) -> Embedder | None:
        """The encoder the answer step should score sentences with when the question and
        its passages are not all English (the main, English-only encoder cannot compare
        them); None: the main one."""
        langs = {self._lang_of.get(h.chunk.doc_id, ENGLISH) for h in hits}
        if not self.needs_route(question) or langs | {detect_language(question) or ENGLISH} == {
            ENGLISH
        }:
            return None
        if is_multilingual(self.config):
            return None  # the main encoder is the multilingual one already
        multi = self.route.retriever(self.index) if self.route is not None else None
        return None if multi is None else multi.embedder

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        hybrid: bool | None = None,
        lexical_only: bool | None = None,
        sources: Sequence[str] | None = None,
    ) -> SearchResult:
        """The top ``k`` chunks for ``query``, through the index its language needs."""
        plain = super().search
        if not self.needs_route(query):
            return plain(query, k, hybrid=hybrid, lexical_only=lexical_only, sources=sources)
        multi = self if is_multilingual(self.config) else self.route.retriever(self.index)
        if multi is None:  # the multilingual model is unavailable: the main index answers
            return plain(query, k, hybrid=hybrid, lexical_only=lexical_only, sources=sources)
        try:
            return self._balanced(
                query, k, multi, hybrid=hybrid, lexical_only=lexical_only, sources=sources
            )
        except ModelLoadError as exc:  # the model broke after its index was opened
            if self.route is None:
                raise
            self.route.disable(str(exc))
            return plain(query, k, hybrid=hybrid, lexical_only=lexical_only, sources=sources)

    def _balanced(
        self,
        query: str,
        k: int | None,
        multi: Retriever,
        *,
        hybrid: bool | None,
        lexical_only: bool | None,
        sources: Sequence[str] | None,
    ) -> SearchResult:
        """One candidate list per document language, merged by :func:`balance`."""
        plain = super().search
        cfg = self.config
        k = cfg.k if k is None else k
        hybrid = cfg.hybrid if hybrid is None else hybrid
        query = clean_query(query, cfg.max_question_chars)
        qlang = detect_language(query) or ENGLISH
        allowed = None if sources is None else set(sources)
        n_cand = max(cfg.candidates, k)
        lists: list[list[Hit]] = []
        tail: list[Hit] = []  # the question language's hits whose document lacks its names
        asked = name_phrases(query)
        timings: dict[str, float] = {}
        for lang in sorted(self._by_lang):
            docs = [s for s in self._by_lang[lang] if allowed is None or s in allowed]
            if not docs:
                continue
            own = lang == qlang
            if lang == ENGLISH and own and multi is not self:  # today's path for English
                found = plain(query, n_cand, hybrid=hybrid, lexical_only=lexical_only, sources=docs)
            else:
                found = (plain if multi is self else multi.search)(
                    query,
                    n_cand,
                    hybrid=hybrid and own,
                    lexical_only=bool(lexical_only) and own,
                    sources=docs,
                )
            hits = found.hits
            if not own:  # a passage in another language: its best sentence speaks too
                hits = by_best_sentence(hits, query, multi.embedder)
            else:  # its documents can be read for the question's names
                hits, nameless = self._naming(hits, asked)
                tail += nameless
            lists.append(hits)
            for stage, ms in found.timings_ms.items():
                timings[stage] = timings.get(stage, 0.0) + ms
        # every list is the multilingual encoder's only when the question is not English
        # (an English question's English list comes from the main index): then cosines
        # can be compared within each list (standing_out), else ranks only
        one_encoder = qlang != ENGLISH or multi is self
        merge = standing_out if one_encoder else balance
        return SearchResult(query, nameless_last(merge, lists, tail, k, cfg.rrf_k), timings)

    def _naming(self, hits: Sequence[Hit], asked: Sequence[str]) -> tuple[list[Hit], list[Hit]]:
        """``hits`` (in the question's language) split into those whose document names one
        of the question's ``asked`` names (:func:`name_phrases`) and those whose document
        names none of them. Only hits in the question's language can be checked (a name
        is written otherwise in another language: "Dongxing" is 东兴), and a multilingual
        encoder scores them higher across the board, so an English passage on another
        market outranks the Chinese one on the centre the question names; the nameless ones
        go after every other list's hits. No names asked: all are kept."""
        if not asked:
            return list(hits), []
        kept: list[Hit] = []
        nameless: list[Hit] = []
        if len(self._names_held) > _MAX_HELD:
            self._names_held.clear()
        for h in hits:
            key = (h.chunk.doc_id, tuple(asked))
            held = self._names_held.get(key)
            if held is None:
                held = self._names_held[key] = names_held(asked, self._doc_text(key[0]))
            (kept if held else nameless).append(h)
        return kept, nameless

    def _doc_text(self, doc_id: str) -> str:
        """A document's title and text ("" when the index no longer holds it)."""
        try:
            doc = self.index.document(doc_id)
        except KeyError:
            return ""
        return f"{doc.title}\n{doc.text}"


_MAX_HELD = 100_000  # (document, names) answers kept by RoutedRetriever._naming


RESCORED = 10
"""Candidates of a list in another language than the question that
:func:`by_best_sentence` re-scores (their sentences embedded once, then cached)."""


SENTENCE_WEIGHT = 0.25
"""The best sentence's share of :func:`by_best_sentence`'s score (the chunk's cosine has
the rest). Chosen on the cross-lingual dev split: of its 37 cross-language answerable
questions, the right chunk ranks first in its language's list for 26 by the chunk alone,
27 at 0.5 and 28 at 0.25 (in the top 2: 28, 32, 31)."""


def by_best_sentence(hits: Sequence[Hit], query: str, embedder: Embedder) -> list[Hit]:
    """``hits`` (one language's candidates, in another language than ``query``) with the
    first :data:`RESCORED` reordered by the chunk's cosine and its best sentence's
    (:data:`SENTENCE_WEIGHT`): across languages a multilingual encoder's chunk vector blurs a
    ~600-character passage into its topic, so the passage holding the one sentence that
    answers ranks below others on the topic (vi->en: the right English chunk 3rd-7th);
    the sentence itself, compared alone, stands out. The rest keep their order."""
    from rag.text import sentence_spans

    head = list(hits[:RESCORED])
    if len(head) < 2:
        return list(hits)
    qvec = embedder.encode_query(query)
    texts = [[h.chunk.text[a:b] for a, b in sentence_spans(h.chunk.text)] for h in head]
    flat = [t for ts in texts for t in ts if t.strip()]
    if not flat:
        return list(hits)
    cos = dict(zip(flat, (embedder.encode_many(flat) @ qvec).tolist(), strict=True))
    best = [
        max((cos[t] for t in ts if t.strip()), default=h.dense_score)
        for h, ts in zip(head, texts, strict=True)
    ]
    order = sorted(
        range(len(head)),
        key=lambda i: -((1 - SENTENCE_WEIGHT) * head[i].dense_score + SENTENCE_WEIGHT * best[i]),
    )
    return [head[i] for i in order] + list(hits[RESCORED:])


def balance(lists: Sequence[Sequence[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    """The top ``k`` of per-language candidate lists, merged by reciprocal rank fusion.

    Equal fused scores (the heads of the lists) are ordered by each hit's margin over the
    median dense score of its own list: how much it stands out among its language's
    candidates, comparable across languages where raw cosines are not.
    """
    fused: list[tuple[float, float, int, Hit]] = []
    for li, hits in enumerate(lists):
        if not hits:
            continue
        median = float(np.median([h.dense_score for h in hits]))
        for rank, h in enumerate(hits, start=1):
            fused.append((1.0 / (rrf_k + rank), h.dense_score - median, -li, h))
    fused.sort(key=lambda t: (-t[0], -t[1], t[2]))
    ranked: list[tuple[float, Hit]] = []
    seen: set[str] = set()
    for score, _, _, h in fused:
        if h.chunk.chunk_id not in seen:
            seen.add(h.chunk.chunk_id)
            ranked.append((score, h))
    top = _diversified(ranked, k)
    return [
        Hit(rank, h.chunk, h.dense_score, h.bm25_score, score)
        for rank, (score, h) in enumerate(top, start=1)
    ]


def _diversified(ranked: Sequence[tuple[float, Hit]], k: int) -> list[tuple[float, Hit]]:
    """The first ``k`` of ``ranked``, except that when they all come from one document
    (and ``k`` >= 3) the last gives way to another document's best, as
    ``Retriever._diversify`` does for a single list."""
    top = list(ranked[:k])
    docs = {h.chunk.doc_id for _, h in top}
    if k >= 3 and len(docs) == 1:
        other = next((item for item in ranked[k:] if item[1].chunk.doc_id not in docs), None)
        top = top if other is None else [*top[:-1], other]
    return top


def standing_out(lists: Sequence[Sequence[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    """The top ``k`` of per-language candidate lists scored by one encoder, each hit by how
    far its cosine stands out of its own list (minus the list's median, over the spread
    within lists, pooled: a list of three passages has no spread of its own to speak of,
    and its second passage would always stand at 0). The head of every list comes first (each language keeps a place,
    as in :func:`balance`), then the rest by standard score: a list whose best passage is
    barely above its median (no passage there is about the question) gives up its second
    place to another language's clearly matching passages. Each list keeps its own order
    (a hybrid list ranks by BM25 too): its n-th hit takes the list's n-th highest score. ``score`` falls with rank as
    in :func:`balance` (1 / (``rrf_k`` + rank))."""
    heads: list[tuple[float, Hit]] = []
    rest: list[tuple[float, Hit]] = []
    coss = [np.asarray([h.dense_score for h in hits], dtype=np.float64) for hits in lists]
    n_all = sum(len(c) for c in coss)
    pooled = float(np.sqrt(sum(len(c) * np.var(c) for c in coss if len(c)) / max(1, n_all)))
    for hits, cos in zip(lists, coss, strict=True):
        if not hits:
            continue
        z = np.sort((cos - np.median(cos)) / (pooled + 1e-6))[::-1]
        heads.append((float(z[0]), hits[0]))
        rest += [(float(zi), h) for zi, h in zip(z[1:], hits[1:], strict=True)]
    ordered = sorted(heads, key=lambda t: -t[0]) + sorted(rest, key=lambda t: -t[0])
    ranked: list[tuple[float, Hit]] = []
    seen: set[str] = set()
    for z, h in ordered:
        if h.chunk.chunk_id not in seen:
            seen.add(h.chunk.chunk_id)
            ranked.append((z, h))
    return [
        Hit(rank, h.chunk, h.dense_score, h.bm25_score, 1.0 / (rrf_k + rank))
        for rank, (_, h) in enumerate(_diversified(ranked, k), start=1)
    ]


def make_retriever(
    index: Index,
    embedder: Embedder,
    config: Config,
    *,
    previous: Retriever | None = None,
    warn: Callable[[str], None] | None = None,
) -> Retriever:
    """The retriever for a freshly loaded ``index``: routed when ``multilingual`` is on (the
    multilingual route of ``previous`` is kept, so its model is loaded once)."""
    if config.multilingual == "off":
        return Retriever(index, embedder, config)
    route = getattr(previous, "route", None)
    if route is None and not is_multilingual(config):
        route = MultilingualRoute(config, warn)
    return RoutedRetriever(index, embedder, config, route)


def source_language_note(retriever: Retriever, question: str, sources: Sequence[str]) -> str:
    """The note for an answer citing ``sources`` (document ids or paths) when one of them is
    in another language than ``question``, in the question's language (prompts); "" else."""
    from rag import prompts
    from rag.lang import language_name, localized

    index = retriever.index
    qlang = detect_language(question) or ENGLISH
    langs: list[str] = []
    for key in sources:
        try:
            lang = document_language(index.document(key))
        except KeyError:
            continue
        if lang != qlang and lang not in langs:
            langs.append(lang)
    if not langs:
        return ""
    sep = "、" if qlang == "zh" else ", "
    names = sep.join(language_name(lang, qlang) for lang in langs)
    template = localized(prompts.SOURCE_LANGUAGE, qlang, prompts.SOURCE_LANGUAGE["en"])
    return template.format(language=names)
