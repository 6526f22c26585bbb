"""Hybrid retrieval: dense (the vector store) + lexical (BM25), fused by reciprocal rank.

Each :class:`~rag.types.Hit` carries the cosine similarity to the query
(``dense_score``), the BM25 score (``bm25_score``) and the fused score (``score``),
whichever retriever found it, so the answer step can judge relevance on both.
"""

from __future__ import annotations

import dataclasses
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.config import Config
from rag.embed.encoder import Embedder
from rag.errors import QueryError
from rag.store.index import Index
from rag.text import terms, tokenize
from rag.types import Hit


@dataclass
class SearchResult:
    """Ranked hits for one query, with per-stage timings in milliseconds."""

    query: str
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "hits": [h.to_dict() for h in self.hits],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }


def clean_query(query: str, max_chars: int) -> str:
    """NFC-normalise, drop control characters and check length; raise :class:`QueryError`."""
    if not isinstance(query, str):
        raise QueryError("the question must be text")
    q = unicodedata.normalize("NFC", query)
    q = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in q).strip()
    if not q:
        raise QueryError("the question is empty; type a question about the documents")
    if len(q) > max_chars:
        raise QueryError(
            f"the question is {len(q):,} characters long; the limit is {max_chars:,} "
            "(RAG_MAX_QUESTION_CHARS); shorten it"
        )
    return q


TWO_PARTS = re.compile(  # a question about two events, often reported in two articles
    r"\bboth\b|\bthe two \w+s\b|"  # "the two <anything plural>": no list of nouns
    r"\b(and|as well as) (at|in|during) the\b",
    re.I,
)
_JOIN = re.compile(r"\s(?:and|as well as)\s(?:(?:at|in|during)\s)?(?=the\s)", re.I)
_WH = r"(?:who|whom|whose|which|what|where|when|why|how)\b"
_PREP = r"(?:on|in|at|by|for|from|to|with|under|until|since|about|after|before)\s+"
_WH_JOIN = re.compile(rf",?\s+and\s+(?=(?:{_PREP})?{_WH})", re.I)
_BARE_WH = re.compile(rf"^\s*(?:{_PREP})?{_WH}\s*\??\s*$", re.I)
"""A second part that is only a question word ("..., and to whom?", "..., and why?")."""
_WH_OPENING = re.compile(
    rf"^\s*(?:{_PREP})?{_WH}(?:\s+(?:many|much|long|often|old|far|large|big|soon))?"
    r"(?:\s+(?!(?:is|are|was|were|will|would|can|could|should|do|does|did|has|have|had)\b)"
    r"[\w'-]+){0,2}?\s+(?=(?:is|are|was|were|will|would|can|could|should|do|does|did|has|have|had)\b)",
    re.I,
)
"""A question's opening up to its verb ("How much | did the council have to pay ...")."""


def sub_queries(question: str) -> list[str]:
    """The two halves of a question about two events ("... the border guard talks and the
    leaders' talks?"), each searched on its own so that the second event's article is
    among the passages; [] for other questions. Two questions in one ("Where ..., and which
    city ...?") are split at the "and"."""
    wh = _WH_JOIN.search(question)
    if wh:
        parts = [question[: wh.start()].strip(" ,;"), question[wh.end() :].strip()]
        if _BARE_WH.match(parts[1]):  # "and to whom?": asked of the first part's event
            opening = _WH_OPENING.match(parts[0])
            if opening is None:
                return []
            parts[1] = f"{parts[1].strip(' ?')} {parts[0][opening.end() :].strip()}?"
        parts[0] = _complete_first(parts[0], parts[1])
        parts[1] = _complete_second(parts[0], parts[1])
        return [p for p in parts if tokenize(p)]
    pair = _COORDINATED.search(question)
    if pair and _WH_START.match(question) and not _shared_noun(question, pair):
        head, tail = question[: pair.start()], question[pair.end() :]
        x, y = pair.group("x") or pair.group("x2"), pair.group("y") or pair.group("y2")
        return [f"{head}{x}{tail}".rstrip(" ?"), f"{head}{y}{tail}"]
    joins = list(_JOIN.finditer(question))
    if not joins:
        return []
    cut = joins[-1]
    parts = [question[: cut.start()].strip(" ,;"), question[cut.end() :].strip()]
    left = tokenize(parts[0])
    # "the review talks and the talks between ...": the same kind of thing twice
    repeated = bool(left) and left[-1] in tokenize(parts[1])
    if not (TWO_PARTS.search(question) or repeated):
        return []
    return [p for p in parts if len(tokenize(p)) >= 2]


_COORDINATED = re.compile(
    r"\b(?P<x>[\w-]+['’]s)\s+and\s+(?P<y>[\w-]+['’]s)(?=\s)"
    r"|\b(?P<x2>(?:a|an|the)\s+[A-Z][\w-]*(?:\s+[a-z][\w-]*)?)\s+and\s+"
    r"(?P<y2>(?:a|an|the)\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)(?=[\s?])"
)
"""Two named things asked the same of: "the women's and men's first eights", "a Full
member and a Veteran" (with their own article and a capital: not "the bread and butter")."""


def _shared_noun(question: str, pair: re.Match[str]) -> bool:
    """Do two capitalised words modify one noun after them ("the Vietnamese and the
    Chinese delegation": one thing asked of, not two), the first with no noun of its own
    ("a Full member and a Veteran pay" names two)?"""
    x = pair.group("x2")
    after = question[pair.end() :].split()
    return bool(x) and x.split()[-1][:1].isupper() and bool(after) and after[0][:1].islower()


_WH_START = re.compile(rf"^\W*{_WH}", re.I)

_SHORT_WH = re.compile(
    r"^\s*((?:how\s+(?:many|much)|which|what))\s+((?:[\w'-]+\s*){1,3}?)\s*$", re.I
)
_VERB_LIKE = re.compile(
    r"\b(?:is|are|was|were|will|would|can|could|should|do|does|did|has|have|had|be)\b", re.I
)


def _complete_first(first: str, second: str) -> str:
    """A first part without its verb takes the second's, the parts being parallel: "How
    many Class A [licences were refused]" from "how many Class D licences were refused"."""
    m = _SHORT_WH.match(first)
    if _VERB_LIKE.search(first):
        return first
    if m is None:
        return _with_predicate(first, second)
    head, words = m.group(1).lower(), m.group(2).split()
    rest = second.strip().rstrip("?").split()
    lead = head.split()
    if [w.lower() for w in rest[: len(lead)]] != lead or len(rest) <= len(lead) + len(words):
        return _with_predicate(first, second)
    return f"{first.strip()} {' '.join(rest[len(lead) + len(words) :])}"


_AUX = r"(?:is|are|was|were|will|would|can|could|should|do|does|did|has|have|had)\b"
_NOUN_THEN_VERB = re.compile(
    rf"^\s*(how\s+(?:many|much)|which|what)\s+(?:(?!{_AUX})[\w'-]+\s+){{1,3}}?(?={_AUX})",
    re.I,
)
_PREPOSITION_WORDS = r"(?:for|of|in|on|at|to|from|by|with|about)"
_PREPOSITION = re.compile(rf"\b{_PREPOSITION_WORDS}\b", re.I)


def _complete_second(first: str, second: str) -> str:
    """A second part without its verb takes the first's: "how many pianos [does the
    reading room have]" after "How many study desks does the reading room have"."""
    m = _SHORT_WH.match(second.strip().rstrip("?"))
    head = _NOUN_THEN_VERB.match(first)
    if _VERB_LIKE.search(second) or (m is not None and _PREPOSITION.search(m.group(2))):
        return second
    if m is None or head is None or m.group(1).lower().split() != head.group(1).lower().split():
        return _with_predicate(second, first)  # another question word: "how steep a slope?"
    return f"{second.strip().rstrip('?')} {first[head.end() :].strip()}?"


_BARE_PART = re.compile(
    r"^\s*(?:(?:at|in|on|for|by|to|from)\s+)?(?:how\s+[a-z]+|which|what)\s+"
    rf"(?!{_PREPOSITION_WORDS}\b)(?:[\w'-]+\s*){{1,4}}?\s*\??\s*$",
    re.I,
)
"""A part that is a question word and a short noun phrase, no verb ("how steep a slope?",
"At what charge level"); not a qualifier alone ("how many in 2013?")."""


def _with_predicate(bare: str, other: str) -> str:
    """A bare part (:data:`_BARE_PART`) with the other part's predicate, from its first
    auxiliary on: "How big a lawn can the S35 do, and how steep a slope?" -> "how steep a
    slope can the S35 do?"; "At what charge level and what temperature should I store the
    battery?" -> "At what charge level should I store the battery?". Ranked alone, a bare
    part matches any sentence naming its noun. Any other part is returned as it is."""
    aux = _VERB_LIKE.search(other)
    if _BARE_PART.match(bare) is None or aux is None or not _WH_OPENING.match(other):
        return bare
    ending = "?" if bare.rstrip().endswith("?") else ""
    return f"{bare.strip().rstrip('?').rstrip()} {other[aux.start() :].strip().rstrip('?')}{ending}"


def rrf(rankings: list[np.ndarray], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings a row appears in."""
    fused: dict[int, float] = {}
    for ids in rankings:
        for rank, i in enumerate(ids.tolist(), start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k + rank)
    return fused


class Retriever:
    """Searches one loaded :class:`~rag.store.index.Index` with one embedding model."""

    def __init__(self, index: Index, embedder: Embedder, config: Config) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        hybrid: bool | None = None,
        lexical_only: bool | None = None,
        sources: Sequence[str] | None = None,
    ) -> SearchResult:
        """The top ``k`` chunks for ``query`` (settings default to the config's).

        ``sources`` restricts the search to those documents (paths as in ``Chunk.source``).
        """
        cfg = self.config
        k = cfg.k if k is None else k
        if k < 1:
            raise QueryError("k must be at least 1")
        hybrid = cfg.hybrid if hybrid is None else hybrid
        lexical_only = cfg.lexical_only if lexical_only is None else lexical_only
        query = clean_query(query, cfg.max_question_chars)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        n_cand = max(cfg.candidates, k)

        qvec = self.embedder.encode_query(query)
        t1 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        dense_scores, dense_ids = self.index.store.search(qvec[None, :], n_cand, sources=sources)
        dense_scores, dense_ids = dense_scores[0], dense_ids[0]
        keep = dense_ids >= 0
        dense_scores, dense_ids = dense_scores[keep], dense_ids[keep]
        t2 = time.perf_counter()
        timings["dense"] = (t2 - t1) * 1000

        bm25_scores, bm25_ids, bm25_all = self._lexical(
            query, n_cand, sources, hybrid or lexical_only
        )
        t3 = time.perf_counter()
        timings["bm25"] = (t3 - t2) * 1000

        if lexical_only:
            fused = {int(i): float(s) for i, s in zip(bm25_ids, bm25_scores, strict=True)}
        elif hybrid:
            fused = rrf([dense_ids, bm25_ids], cfg.rrf_k)
        else:
            fused = {int(i): float(s) for i, s in zip(dense_ids, dense_scores, strict=True)}
        top = self._diversify(sorted(fused.items(), key=lambda kv: (-kv[1], kv[0])), k)
        hits = self._hits(
            top, qvec, dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True)), bm25_all
        )
        t4 = time.perf_counter()
        timings["fusion"] = (t4 - t3) * 1000
        timings["total"] = (t4 - t0) * 1000
        return SearchResult(query, hits, timings)

    def search_parts(self, query: str, k: int | None = None, **kw: Any) -> SearchResult:
        """:meth:`search`, plus the best passages of each half of a two-event question
        (see :func:`sub_queries`) that the whole question did not find, after its own."""
        result = self.search(query, k, **kw)
        seen = {h.chunk.chunk_id for h in result.hits}
        for part in sub_queries(result.query):
            found = self.search(part, 2, **kw)
            result.timings_ms["total"] += found.timings_ms["total"]
            for h in found.hits:
                if h.chunk.chunk_id not in seen:
                    seen.add(h.chunk.chunk_id)
                    result.hits.append(dataclasses.replace(h, rank=len(result.hits) + 1))
        return result

    def _lexical(
        self, query: str, k: int, sources: Sequence[str] | None, wanted: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | dict[int, float] | None]:
        """Top-``k`` lexical (scores, ids), plus every row's BM25 score for the hits' display:
        an array from bm25s, or the candidates' scores when Milvus ranks the words."""
        none = np.zeros(0, np.float32), np.zeros(0, np.int64), None
        if not wanted:
            return none
        if self.config.lexical == "milvus":
            scores, ids = self.index.store.lexical_search(terms(query), k, sources=sources)
            return scores, ids, dict(zip(ids.tolist(), scores.tolist(), strict=True))
        bm25_all = self.index.bm25.scores(query)
        if bm25_all is not None and sources is not None:
            mask = np.zeros(len(bm25_all), dtype=bool)
            mask[self._rows_of(sources)] = True
            bm25_all = np.where(mask, bm25_all, 0.0)
        if bm25_all is None:
            return none
        scores, ids = self.index.bm25.search(query, k, scores=bm25_all)
        return scores, ids, bm25_all

    def _rows_of(self, sources: Sequence[str]) -> np.ndarray:
        """Row ids of the chunks of the named documents."""
        wanted = {i for i, d in enumerate(self.index.docs) if d.source in set(sources)}
        docs = np.asarray(self.index.chunks.rows["doc"])
        return np.flatnonzero(np.isin(docs, list(wanted))).astype(np.int64)

    def _diversify(self, ranked: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
        """The top ``k``, but when they all come from one document and another document is
        among the candidates, its best passage takes the last slot (questions that span
        two articles need both)."""
        top = ranked[:k]
        if k < 3 or len(ranked) <= k:
            return top
        rows = self.index.chunks.rows
        docs = {int(rows[i]["doc"]) for i, _ in top}
        if len(docs) > 1:
            return top
        other = next((item for item in ranked[k:] if int(rows[item[0]]["doc"]) not in docs), None)
        return top if other is None else [*top[:-1], other]

    def _hits(
        self,
        top: list[tuple[int, float]],
        qvec: np.ndarray,
        dense: dict[int, float],
        bm25_all: np.ndarray | dict[int, float] | None,
    ) -> list[Hit]:
        missing = [i for i, _ in top if i not in dense]
        if missing:
            vecs = self.index.store.reconstruct(np.array(missing, dtype=np.int64))
            dense.update(zip(missing, (vecs @ qvec).tolist(), strict=True))
        return [
            Hit(
                rank=r,
                chunk=self.index.chunks[i],
                dense_score=dense[i],
                bm25_score=_bm25_of(bm25_all, i),
                score=s,
            )
            for r, (i, s) in enumerate(top, start=1)
        ]


def _bm25_of(scores: np.ndarray | dict[int, float] | None, row: int) -> float:
    if scores is None:
        return 0.0
    if isinstance(scores, dict):
        return float(scores.get(row, 0.0))
    return float(scores[row])
