"""Replicas over the shared Milvus state (``RAG_STORE=milvus RAG_MILVUS_STATE=shared``):
load an :class:`~rag.store.index.Index` from Milvus alone, and follow the changes other
replicas commit (:func:`changed`, polled before each answer as the manifest is in the
local layout).

A replica keeps a snapshot: the documents of one committed version, their chunk table
and a map from the chunks' stable Milvus ids to local row numbers (what the retriever
addresses). A reload fetches only the documents added since the snapshot (their text and
chunk rows, by primary key); removed ones are dropped; with ``RAG_LEXICAL=bm25s`` only the
added documents are tokenized for the bm25s it rebuilds. The snapshot is checked before
it is served: each new document's text length and chunk count must match its metadata,
and the version must not have moved during the load (else it is loaded again), so a
replica never serves a half-written document. The writer is :mod:`rag.store.milvus_writer`.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.errors import IndexCorruptError, IndexMissingError, StoreError
from rag.store.index import CHUNK_DTYPE, ChunkTable, Index, lexical_text
from rag.store.lexical import BM25Index
from rag.store.manifest import settings_fingerprint
from rag.store.milvus_state import SharedState, State, in_filter, keyed
from rag.store.milvus_store import (
    INDEX_TYPES,
    _ranked,
    _search_params,
    connect,
    resolve_uri,
)
from rag.text import index_terms
from rag.types import Document

LOAD_TRIES = 5


def is_shared(config: Config) -> bool:
    """Whether every piece of index state lives in Milvus (issue 21)."""
    return config.store == "milvus" and config.milvus_state == "shared"


def state_for(config: Config) -> SharedState:
    """The shared state of ``config`` (one client per project root, URI and prefix)."""
    uri = resolve_uri(config.milvus_uri, config.root)
    key = (str(config.root), uri, config.milvus_collection)
    with _lock:
        st = _states.get(key)
        if st is None:
            st = SharedState(connect(uri, config.milvus_token), config.milvus_collection)
            _states[key] = st
        return st


@dataclass
class Snapshot:
    """One committed version as this replica holds it."""

    version: int
    index: Index
    chunks_of: dict[str, np.ndarray]  # doc_id -> rows of (id, ordinal, start, end)
    # RAG_LEXICAL=bm25s: each document's chunks as term ids (all of them, and the count per
    # chunk) under ``vocab``, so that a reload tokenizes only the documents it adds
    terms: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)


class SharedStore:
    """The :class:`~rag.store.base.VectorStore` of a snapshot: searches the shared chunks
    collection, filtered to the snapshot's version, and answers in local row numbers.

    Read-only: writes go through :mod:`rag.store.milvus_writer`, under the lease."""

    def __init__(
        self,
        st: SharedState,
        version: int,
        dim: int,
        ids: np.ndarray,
        config: Config,
        index_type: str = "flat",
        created: str = "",
    ) -> None:
        self.state = st
        self.collection = st.chunks
        self.version = version
        self.created = created
        self.ids = ids
        self._order = np.argsort(ids, kind="stable")  # id -> row by binary search
        self._sorted = ids[self._order]
        self.full_text = config.lexical == "milvus"
        self._dim = dim
        kind = INDEX_TYPES.get(index_type, "FLAT")  # as resolved when the index was created
        self._params = _search_params(kind, config.hnsw_ef_search, config.ivf_nprobe)

    def row_of(self, key: int) -> int | None:
        """The local row of a Milvus chunk id; None when this snapshot does not hold it."""
        at = int(np.searchsorted(self._sorted, key))
        if at < len(self._sorted) and self._sorted[at] == key:
            return int(self._order[at])
        return None

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> str:
        return "milvus"

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray, meta: Any) -> None:
        raise StoreError("the shared Milvus index is written by `rag index` / uploads only")

    def delete_document(self, doc_id: str) -> int:
        raise StoreError("the shared Milvus index is written by `rag index` / uploads only")

    def _filter(self, sources: Collection[str] | None) -> str:
        flt = f"ver <= {self.version}"
        return flt if sources is None else f"{flt} and {in_filter('source', sources)}"

    def _local(self, res: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Milvus ids as local rows; rows this snapshot does not hold (a document removed
        since, not yet purged) are dropped."""
        scores, ids = _ranked(res, k)
        out_s = np.full_like(scores, -np.inf)
        out_i = np.full_like(ids, -1)
        for q in range(len(ids)):
            j = 0
            for s, i in zip(scores[q], ids[q], strict=True):
                row = self.row_of(int(i)) if i != -1 else None
                if row is not None:
                    out_s[q, j], out_i[q, j] = s, row
                    j += 1
        return out_s, out_i

    def search(
        self, queries: np.ndarray, k: int, *, sources: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if not len(self) or (sources is not None and not sources):
            return _ranked([[] for _ in q], k)
        with self.state.errors("search"):
            res = self.state.client.search(
                self.collection,
                data=q.tolist(),
                anns_field="vector",
                limit=max(1, min(k, len(self))),
                search_params=self._params,
                filter=self._filter(sources),
            )
        return self._local(res, k)

    def lexical_search(
        self, query: str, k: int, *, sources: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Milvus's BM25 over the chunks' folded words (``RAG_LEXICAL=milvus``)."""
        if not self.full_text:
            raise StoreError("the shared index has no word index (RAG_LEXICAL=bm25s)")
        if not len(self) or not query.strip() or (sources is not None and not sources):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        with self.state.errors("BM25 search"):
            res = self.state.client.search(
                self.collection,
                data=[query],
                anns_field="sparse",
                limit=max(1, min(k, len(self))),
                search_params={"metric_type": "BM25"},
                filter=self._filter(sources),
            )
        scores, ids = self._local(res, k)
        keep = ids[0] >= 0
        return np.abs(scores[0][keep]), ids[0][keep]

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        rows = np.asarray(ids, dtype=np.int64)
        keys = self.ids[rows]
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        pos = {int(k): n for n, k in enumerate(keys.tolist())}
        for a in range(0, len(keys), 2000):
            part = keys[a : a + 2000]
            with self.state.errors("vector lookup"):
                found = self.state.client.query(
                    self.collection,
                    filter=f"id in [{', '.join(str(int(i)) for i in part)}]",
                    output_fields=["id", "vector"],
                )
            for row in found:
                out[pos[int(row["id"])]] = row["vector"]
        return out

    def persist(self, path: Path | None = None) -> None:
        """Nothing to do: the writer flushes."""

    def close(self) -> None:
        """The client is shared by this process's snapshots; it stays open."""


def load_shared(config: Config) -> Index:
    """The committed version of the shared index, loaded incrementally from this
    process's previous snapshot of it (only added documents are fetched)."""
    st = state_for(config)
    key = (str(config.root), st.prefix)
    with _lock:
        prev = _snapshots.get(key)
    snap = _load(st, config, prev)
    with _lock:
        _snapshots[key] = snap
    return snap.index


def changed(index: Index) -> bool:
    """Whether the shared index moved on from ``index`` (one small query)."""
    store = index.store
    if not isinstance(store, SharedStore):
        return False
    try:
        return store.state.poll() != (store.created, store.version)
    except StoreError:
        return False  # the server is briefly away: keep answering from the snapshot


def _load(st: SharedState, config: Config, prev: Snapshot | None) -> Snapshot:
    for _ in range(LOAD_TRIES):
        state = st.read_state()
        if state is None:
            raise IndexMissingError(
                f"no shared index in Milvus at {config.milvus_uri} (prefix {st.prefix!r}); "
                "build it with `rag index` (RAG_STORE=milvus RAG_MILVUS_STATE=shared)"
            )
        check_settings(state.settings, config)
        created = str(state.settings.get("created", ""))
        if prev is not None and prev.index.store.created != created:  # type: ignore[attr-defined]
            prev = None  # the index was rebuilt: nothing of the old snapshot carries over
        if prev is not None and prev.version == state.version:
            return prev
        snap = _fetch(st, config, state, prev)
        if snap is not None and st.poll() == (created, state.version):
            return snap
    raise StoreError(
        f"the shared index {st.prefix!r} kept changing while this replica loaded it; retry"
    )


def check_settings(settings: dict[str, Any], config: Config) -> None:
    """A replica must chunk and embed as the index was built (else citations break)."""
    want = settings_fingerprint(config)
    have = settings.get("fingerprint")
    if have != want:
        diff = sorted(k for k in set(want) | set(have or {}) if want.get(k) != (have or {}).get(k))
        raise IndexCorruptError(
            f"the shared index in Milvus was built with other settings ({', '.join(diff)} "
            "differ); use the indexer's settings, or rebuild it with `rag index --rebuild`"
        )


def _changes(
    log: list[dict[str, Any]], since: int, version: int
) -> tuple[set[str], set[str]] | None:
    """The documents added and removed after version ``since`` up to ``version``, from the
    state row's log; None when the log does not cover them all (then read every head)."""
    entries = {int(e["v"]): e for e in log}
    added: set[str] = set()
    removed: set[str] = set()
    for v in range(since + 1, version + 1):
        e = entries.get(v)
        if e is None or e.get("full"):
            return None
        added.update(e["added"])
        removed.update(e["removed"])
    return added, removed


def _fetch(st: SharedState, config: Config, state: State, prev: Snapshot | None) -> Snapshot | None:
    """The snapshot of ``state.version``, re-using ``prev``'s documents (only the ones
    the log says were added are read, when it covers the gap); None when what was read
    is not one consistent version (a writer committed meanwhile)."""
    version, settings = state.version, state.settings
    old = {d.doc_id: d for d in prev.index.docs} if prev is not None else {}
    changes = _changes(state.log, prev.version, version) if prev is not None else None
    if changes is None:
        heads = {h["doc_id"]: h for h in st.document_heads(version)}
        keep = [d for d in heads if d in old]
    else:
        added, removed = changes
        keep = [d for d in old if d not in removed]
        fresh = sorted(added - set(keep))
        heads = {h["doc_id"]: h for h in st.heads_of(fresh, version)}
    chunks_of = {d: prev.chunks_of[d] for d in keep} if prev else {}
    new = [d for d in heads if d not in old or d not in chunks_of]
    parts = {d: int(heads[d]["meta"]["parts"]) for d in new}  # rows read by primary key
    texts = st.document_texts(new, version, parts)
    counts = {d: int(heads[d]["meta"]["chunks"]) for d in new} if keyed(settings) else None
    by_doc: dict[str, list[tuple[int, int, int, int]]] = {}
    for r in st.chunk_rows(new, version, counts):
        by_doc.setdefault(r["doc_id"], []).append(
            (int(r["id"]), int(r["ordinal"]), int(r["start"]), int(r["end"]))
        )
    docs = {d: old[d] for d in chunks_of}
    for d in new:
        meta = heads[d]["meta"]
        text = texts.get(d, "")
        rows = sorted(by_doc.get(d, []), key=lambda t: t[1])
        if len(text) != meta["length"] or len(rows) != meta["chunks"]:
            return None  # parts or chunks of a document being purged or written
        docs[d] = _document(meta, text)
        chunks_of[d] = np.array(rows, dtype=np.int64).reshape(-1, 4)
    order = sorted(docs.values(), key=lambda d: d.source)
    blocks = [chunks_of[d.doc_id] for d in order]  # (id, ordinal, start, end) per chunk
    flat = np.concatenate(blocks) if blocks else np.zeros((0, 4), np.int64)
    rows = np.zeros(len(flat), dtype=CHUNK_DTYPE)
    rows["doc"] = np.repeat(np.arange(len(order)), [len(b) for b in blocks])
    rows["ordinal"], rows["start"], rows["end"] = flat[:, 1], flat[:, 2], flat[:, 3]
    ids = np.ascontiguousarray(flat[:, 0])
    table = ChunkTable(order, rows)
    terms, vocab = _terms(config, table, prev)
    bm25 = _bm25(table, terms, vocab) if config.lexical == "bm25s" else BM25Index.build([])
    dim = int(settings["dim"])
    kind, created = settings.get("index_type", "flat"), str(settings.get("created", ""))
    store = SharedStore(st, version, dim, ids, config, kind, created)
    manifest = {
        "generation": version,
        "settings": settings_fingerprint(config),
        "embedding_model": config.embedding_model,
        "dimension": dim,
        "index_type": "milvus",
        "store": {
            "kind": "milvus",
            "state": "shared",
            "uri": config.milvus_uri,
            "prefix": st.prefix,
        },
        "counts": {"documents": len(order), "chunks": len(table)},
        "skipped": {},
    }
    index = Index(order, table, store, bm25, manifest, config.index_path)
    return Snapshot(version, index, chunks_of, terms, vocab)


def _terms(
    config: Config, table: ChunkTable, prev: Snapshot | None
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, int]]:
    """Every document's chunks as term ids (``RAG_LEXICAL=bm25s``), re-using ``prev``'s for
    the documents it held (a document's chunks never change): tokenizing is most of a bm25s
    build, so a reload tokenizes only what it adds. One vocabulary grows across snapshots
    (a removed document's terms stay, matching nothing; BM25 scores do not depend on
    them); it is copied, so ``prev``'s index keeps its own."""
    if config.lexical != "bm25s":
        return {}, {}
    vocab = dict(prev.vocab) if prev is not None else {}
    old = prev.terms if prev is not None else {}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    counts = np.bincount(table.rows["doc"], minlength=len(table.docs))
    at = 0
    for doc, n in zip(table.docs, counts.tolist(), strict=True):
        got = old.get(doc.doc_id)
        if got is None:
            per = [
                [vocab.setdefault(t, len(vocab)) for t in index_terms(lexical_text(table[i]))]
                for i in range(at, at + n)
            ]
            flat = [t for p in per for t in p]
            got = (np.array(flat, np.int32), np.array([len(p) for p in per], np.int64))
        out[doc.doc_id] = got
        at += n
    return out, vocab


def _bm25(
    table: ChunkTable, terms: dict[str, tuple[np.ndarray, np.ndarray]], vocab: dict[str, int]
) -> BM25Index:
    """bm25s over the chunks in table order, from their term ids (what
    :meth:`BM25Index.build` makes from their texts, the same scores)."""
    import bm25s

    ids: list[list[int]] = []
    for doc in table.docs:
        flat, lens = terms[doc.doc_id]
        ids += [a.tolist() for a in np.split(flat, np.cumsum(lens)[:-1])] if len(lens) else []
    model = bm25s.BM25()
    if not any(ids):  # bm25s cannot index a corpus without a single term
        return BM25Index(model, {}, len(ids))
    model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return BM25Index(model, vocab, len(ids))


def _document(meta: dict[str, Any], text: str) -> Document:
    return Document(
        meta["doc_id"],
        meta["source"],
        meta["title"],
        text,
        meta.get("dateline", ""),
        meta.get("byline", ""),
        tuple(tuple(p) for p in meta.get("pages", [])),
        meta.get("date", ""),
    )


def forget(config: Config) -> None:
    """Drop this process's snapshot of ``config``'s shared index (tests, rebuilds)."""
    with _lock:
        _snapshots.pop((str(config.root), config.milvus_collection), None)


_lock = threading.Lock()
_states: dict[tuple[str, str, str], SharedState] = {}
_snapshots: dict[tuple[str, str], Snapshot] = {}
