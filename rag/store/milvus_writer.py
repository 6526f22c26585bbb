"""Write the shared Milvus index in place (issue 21): one batch of added, replaced and
removed documents per commit, under the writer lease, touching only their rows.

A batch at committed version ``V``:

1. take the lease (a second indexer is refused); undo a crashed or failed writer's
   leftovers, unless the lease was released as clean (the previous batch finished);
2. insert the new documents' chunks, then their document rows, at ``ver = V + 1``
   (invisible to readers, who filter on ``ver <= V``);
3. tombstone the removed documents (``gone = V + 1``; readers at ``V`` still see them);
4. commit: the state row says ``V + 1`` (replicas polling it reload);
5. purge the removed documents' rows; release the lease as clean.

Every step but the recovery works by primary key (the state row, a document's parts
``<doc_id>#<n>``, its chunks :func:`~rag.store.milvus_state.chunk_key` of ``doc_id`` and
ordinal): no filter that scans the collection, so a batch's Milvus work follows its own
rows, not the index's size.

Documents already in Milvus are not read, re-embedded or re-inserted. A new document's
chunks re-use the stored vector of any chunk with the same embedded text (an edited
article re-embeds only the sentences that changed), then ``precomputed``, then the
local index this folder held before (migration from the FAISS or per-generation Milvus
layout without re-embedding), and only the rest is embedded.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.embed.encoder import Embedder
from rag.errors import CorpusError, IndexCorruptError, IndexMissingError, RagError
from rag.ingest.chunking import chunk_document
from rag.ingest.readers import load_corpus, relative_source
from rag.store.faiss_store import choose_index_type
from rag.store.index import Index, embed_text, lexical_text, load_index
from rag.store.manifest import settings_fingerprint
from rag.store.milvus_shared import forget, load_shared, state_for
from rag.store.milvus_state import (
    LeaseHeldError,
    SharedState,
    chunk_key,
    keyed,
    legacy_chunk_key,
    me,
)
from rag.store.milvus_store import INDEX_TYPES, _index_params
from rag.text import terms
from rag.types import Chunk, Document

EMBED_SLICE = 4096  # chunks embedded between two renewals of the lease
FLUSH_OVER = 10_000  # a batch inserting this many chunk rows is flushed (sealed) at its end


@dataclass
class SharedBuildReport:
    """What one in-place batch did: the fields of :class:`rag.store.build.BuildReport`
    (same names, so callers need not tell them apart) plus the rows it touched. Not a
    subclass: :mod:`rag.store.build` calls this module, so importing it would be a cycle."""

    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    removed_docs: int = 0
    seconds: float = 0.0
    index_type: str = "milvus"
    path: str | Path = "milvus"  # the Milvus URI (a Path would fold its "//")
    up_to_date: bool = False
    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    version: int = 0
    inserted_chunks: int = 0
    deleted_chunks: int = 0
    milvus_seconds: float = 0.0  # the Milvus writes of the batch (not reading, not embedding)

    def summary(self) -> str:
        if self.up_to_date:
            return (
                f"shared index {self.path} is up to date (version {self.version}): "
                f"{self.documents} documents, {self.chunks} chunks"
            )
        return (
            f"indexed {self.documents} documents into {self.chunks} chunks "
            f"({self.embedded} embedded, {self.reused} reused) in {self.seconds:.1f} s "
            f"-> {self.path} [milvus, shared] version {self.version}: "
            f"+{self.inserted_chunks} -{self.deleted_chunks} chunk rows in "
            f"{self.milvus_seconds:.2f} s of Milvus writes"
        )


def text_hash(text: str) -> str:
    """The embedded text's hash (as :mod:`rag.store.build` keys ``precomputed``)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def build_shared(
    config: Config,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
    skip_unreadable: bool = False,
    precomputed: Mapping[str, np.ndarray] | None = None,
    remove: Sequence[str] = (),
) -> SharedBuildReport:
    """Bring the shared index up to date with this folder's corpus, in place.

    Added or changed files are written; a source whose text changed loses its old
    document. Removals: the sources in ``remove``, and files of the corpus folder
    (``RAG_CORPUS_DIR``, when it exists here) that are gone from it. Uploads other
    replicas made live in their folders, not here, so a missing upload is not a
    removal: uploads go only through ``remove`` (:func:`remove_shared`).
    """
    started = time.perf_counter()
    holder = f"{me()}:{uuid.uuid4().hex[:6]}"  # one name per batch, even within a process
    report = SharedBuildReport(path=config.milvus_uri)
    folders = [p for p in config.corpus_paths if p.is_dir()]
    try:
        docs = load_corpus(
            folders, config.root, warn=warn, skip_errors=skip_unreadable, skipped=report.skipped
        )
    except CorpusError:  # an empty folder: a replica that only uploads and removes
        docs = []
    st = state_for(config)
    settings = _settings(config, embedder, len(docs))
    state = st.read_state()
    seed: dict[str, np.ndarray] = {}
    if state is None or rebuild or state.settings.get("fingerprint") != settings["fingerprint"]:
        if state is not None and state.holder and state.expires > time.time():
            st.acquire(config.milvus_lease_s, holder)  # raises: another indexer is writing
        seed = _local_vectors(config)
        if state is not None and _same_encoder(state.settings["fingerprint"], config):
            seed.update(st.vectors_where(""))  # a rebuild re-uses the vectors it replaces
        _create(st, config, settings, len(docs))
    known = {**seed, **(precomputed or {})}
    write_locked(st, config, embedder, docs, remove, report, known, holder, progress)
    forget(config)
    report.seconds = time.perf_counter() - started
    return report


def open_shared(
    config: Config,
    embedder: Embedder,
    *,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Index:
    """The shared index; built from this folder's corpus first when Milvus has none
    (``auto_index``). It is not rebuilt when its settings differ from this replica's:
    one replica's settings must not wipe the index the others serve (that raises)."""
    try:
        return load_shared(config)
    except IndexMissingError:
        if not config.auto_index:
            raise
    if warn:
        warn(f"no shared index in Milvus at {config.milvus_uri}: building it")
    build_shared(config, embedder, progress=progress, warn=warn, skip_unreadable=True)
    return load_shared(config)


def remove_shared(config: Config, embedder: Embedder, source: str) -> SharedBuildReport:
    """Remove one document (by source) from the shared index, wherever it was uploaded."""
    return build_shared(config, embedder, progress=False, skip_unreadable=True, remove=[source])


def _settings(config: Config, embedder: Embedder, n: int) -> dict[str, Any]:
    kind = choose_index_type(config.index_type, n, config.approx_threshold)
    return {"fingerprint": settings_fingerprint(config), "dim": embedder.dim, "index_type": kind}


def _create(st: SharedState, config: Config, settings: dict[str, Any], n: int) -> None:
    kind = settings["index_type"]
    index = st.client.prepare_index_params()
    index.add_index(
        "vector",
        index_type=INDEX_TYPES[kind],
        metric_type="IP",
        params=_index_params(INDEX_TYPES[kind], n, config.hnsw_m, config.ivf_nlist),
    )
    if config.lexical == "milvus":
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    with st.errors("create"):
        st.create(settings["dim"], settings, full_text=config.lexical == "milvus", index=index)


def write_locked(
    st: SharedState,
    config: Config,
    embedder: Embedder,
    docs: list[Document],
    remove: Sequence[str],
    report: SharedBuildReport,
    known: dict[str, np.ndarray],
    holder: str,
    progress: bool = False,
) -> None:
    """Steps 1-5 of the module docstring: take the lease, undo what a crashed or failed
    writer left (only then: a writer that finished released the lease as clean), write
    the batch, release the lease (clean only when the batch finished)."""
    taken = st.acquire(config.milvus_lease_s, holder)
    clean = False
    try:
        if not taken.taken_clean:
            known.update(st.recover(taken.version, keyed(taken.settings)))
        _write_batch(st, config, embedder, docs, remove, report, known, holder, progress)
        clean = True
    finally:
        st.release(holder, clean=clean)


def _write_batch(
    st: SharedState,
    config: Config,
    embedder: Embedder,
    docs: list[Document],
    remove: Sequence[str],
    report: SharedBuildReport,
    known: Mapping[str, np.ndarray],
    holder: str,
    progress: bool = False,
) -> None:
    """Steps 2-5 of the module docstring, for the difference between ``docs`` and the
    committed version; ``known`` holds vectors at hand, by embedded-text hash."""
    state = st.read_state()
    assert state is not None
    version = state.version
    heads = {h["doc_id"]: h["meta"] for h in st.document_heads(version)}
    by_source = {m["source"]: d for d, m in heads.items()}
    new_docs = [d for d in docs if d.doc_id not in heads]
    gone = _removed(config, docs, new_docs, heads, by_source, remove)
    report.version = version
    report.documents = len(heads) - len(gone) + len(new_docs)
    report.removed_docs = len(gone)
    if not new_docs and not gone:
        report.up_to_date = True
        report.chunks = int(state.counts.get("chunks", 0))
        return
    chunks = {
        d.doc_id: chunk_document(d, config.chunk_size, config.chunk_overlap) for d in new_docs
    }
    flat = [c for d in new_docs for c in chunks[d.doc_id]]
    vectors, report.reused = _vectors(
        st, config, embedder, flat, known, lambda: st.renew(config.milvus_lease_s, holder), progress
    )
    report.embedded = len(flat) - report.reused
    gone_rows = st.head_rows(gone)  # read before the first write (see tombstone)
    st.renew(config.milvus_lease_s, holder)
    t0 = time.perf_counter()
    nxt = version + 1
    by_id = {d.doc_id: d for d in new_docs}
    ids = keyed(state.settings)
    rows = [
        _chunk_row(c, by_id[c.doc_id], vectors[i], nxt, config, ids) for i, c in enumerate(flat)
    ]
    st.insert_chunks(rows)
    st.insert_documents(new_docs, {d: len(cs) for d, cs in chunks.items()}, nxt)
    st.tombstone(gone, nxt, gone_rows)
    removed_chunks = sum(int(heads[d]["chunks"]) for d in gone)
    counts = {
        "documents": report.documents,
        "chunks": int(state.counts.get("chunks", 0)) + len(rows) - removed_chunks,
    }
    st.commit(nxt, counts, config.milvus_lease_s, holder, ([d.doc_id for d in new_docs], gone))
    report.deleted_chunks = st.purge({d: heads[d] for d in gone}, ids) if gone else 0
    if len(rows) >= FLUSH_OVER:
        st.flush_all()  # seal a bulk load; a small batch stays in Milvus's log (durable)
    report.deleted_chunks = report.deleted_chunks or removed_chunks
    report.milvus_seconds = time.perf_counter() - t0
    report.inserted_chunks, report.version = len(rows), nxt
    report.chunks, report.index_type = counts["chunks"], "milvus"


def _removed(
    config: Config,
    docs: list[Document],
    new_docs: list[Document],
    heads: dict[str, dict[str, Any]],
    by_source: dict[str, str],
    remove: Sequence[str],
) -> list[str]:
    """Document ids leaving the index: replaced texts, explicit removals, and files gone
    from the corpus folder (only when that folder exists here)."""
    local = {d.source for d in docs}
    gone = [by_source[d.source] for d in new_docs if d.source in by_source]
    gone += [by_source[s] for s in remove if s in by_source]  # unknown: nothing to remove
    if config.corpus_path.is_dir():
        prefix = relative_source(config.corpus_path, config.root).rstrip("/") + "/"
        gone += [d for s, d in by_source.items() if s.startswith(prefix) and s not in local]
    return list(dict.fromkeys(gone))


def _chunk_row(
    c: Chunk, doc: Document, vector: np.ndarray, ver: int, config: Config, ids: bool = True
) -> dict[str, Any]:
    """The chunk's row; ``ids``: a :func:`keyed` index (else the legacy id)."""
    ordinal = int(c.chunk_id.rsplit(":", 1)[1])
    key = (
        chunk_key(c.doc_id, ordinal) if ids else legacy_chunk_key(c.doc_id, ordinal, c.start, c.end)
    )
    row = {
        "id": key,
        "doc_id": c.doc_id,
        "ordinal": ordinal,
        "start": c.start,
        "end": c.end,
        "source": c.source,
        "date": doc.date,
        "ver": ver,
        "thash": text_hash(embed_text(c, config.embed_title)),
        "vector": vector.tolist(),
    }
    if config.lexical == "milvus":
        row["lexical"] = terms(lexical_text(c))
    return row


def _vectors(
    st: SharedState,
    config: Config,
    embedder: Embedder,
    chunks: list[Chunk],
    at_hand: Mapping[str, np.ndarray],
    keepalive: Callable[[], None],
    progress: bool,
) -> tuple[np.ndarray, int]:
    """Vectors for ``chunks``: those at hand (precomputed, migrated) and stored ones,
    by embedded-text hash; the rest embedded, in slices with ``keepalive`` (the lease
    renewal) between them. Returns them and how many were not embedded."""
    hashes = [text_hash(embed_text(c, config.embed_title)) for c in chunks]
    known = dict(at_hand)
    stored = st.vectors_by_text_hash([h for h in dict.fromkeys(hashes) if h not in known])
    known.update(stored)
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    todo = []
    for i, h in enumerate(hashes):
        if h in known:
            vectors[i] = known[h]
        else:
            todo.append(i)
    for a in range(0, len(todo), EMBED_SLICE):
        part = todo[a : a + EMBED_SLICE]
        texts = [embed_text(chunks[i], config.embed_title) for i in part]
        vectors[part] = embedder.encode_documents(texts, progress=progress)
        if a + EMBED_SLICE < len(todo):
            keepalive()  # the caller renews once more after the last slice
    return vectors, len(chunks) - len(todo)


def _same_encoder(fingerprint: dict[str, Any], config: Config) -> bool:
    """Whether vectors of an index with ``fingerprint`` are what ``config`` would embed."""
    return (
        fingerprint.get("embedding_model") == config.embedding_model
        and fingerprint.get("embed_title") == config.embed_title
    )


def _local_vectors(config: Config) -> dict[str, np.ndarray]:
    """The vectors of the index this folder held before (FAISS, or one Milvus collection
    per generation), by embedded-text hash: migration without re-embedding."""
    try:
        old = load_index(config.replace(milvus_state="local"))
    except (IndexMissingError, IndexCorruptError, RagError):
        return {}
    if not _same_encoder(old.manifest.get("settings", {}), config):
        return {}
    n = len(old.chunks)
    if not n:
        return {}
    vectors = old.store.reconstruct(np.arange(n, dtype=np.int64))
    out = {
        text_hash(embed_text(c, config.embed_title)): vectors[i] for i, c in enumerate(old.chunks)
    }
    old.store.close()
    return out


__all__ = ["LeaseHeldError", "SharedBuildReport", "build_shared", "remove_shared"]
