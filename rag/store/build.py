"""Build and persist the index under ``index/`` (:func:`build_index`), or open it,
building first when it is missing or stale (:func:`open_index`).

A build writes a complete new generation (see :mod:`rag.store.manifest` for the
layout), then replaces ``manifest.json`` atomically (temp file + rename), then deletes
the older generation. A crash at any point leaves the previous manifest pointing at
complete files, so the old index still loads. Unchanged chunks are not re-embedded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.embed.encoder import Embedder
from rag.errors import CorpusError, IndexCorruptError, IndexMissingError, RagError
from rag.ingest.chunking import chunk_document
from rag.ingest.readers import load_corpus, relative_source
from rag.store.base import RowMeta, VectorStore
from rag.store.faiss_store import FaissStore, choose_index_type
from rag.store.index import (
    CHUNK_DTYPE,
    ChunkTable,
    Index,
    embed_text,
    file_size,
    lexical_text,
    load_index,
)
from rag.store.lexical import BM25Index
from rag.store.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    file_stats,
    index_status,
    settings_fingerprint,
)
from rag.text import terms
from rag.types import Chunk, Document

LOW_DISK_BYTES = 16_000_000  # a failed write with less free space than this: "disk full"


class IndexWriteError(RagError):
    """A build could not write its files (disk full, read-only, ...); the old index is intact."""


@dataclass
class BuildReport:
    """What a build did, for the CLI's summary line."""

    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    removed_docs: int = 0
    seconds: float = 0.0
    index_type: str = "flat"
    path: Path = Path("index")
    up_to_date: bool = False
    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # source -> why it is not indexed
    added: list[str] = field(default_factory=list)  # sources an upload batch added

    def summary(self) -> str:
        if self.up_to_date:
            return (
                f"index {self.path} is up to date: {self.documents} documents, {self.chunks} chunks"
            )
        return (
            f"indexed {self.documents} documents into {self.chunks} chunks "
            f"({self.embedded} embedded, {self.reused} reused) in {self.seconds:.1f} s "
            f"-> {self.path} [{self.index_type}]"
        )


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder (a second one waits)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_index(
    config: Config,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
    skip_unreadable: bool = False,
    precomputed: Mapping[str, np.ndarray] | None = None,
    defer_unprepared: bool = False,
) -> BuildReport:
    """Bring ``index/`` up to date with the corpus, re-embedding only changed chunks.

    The corpus is read completely before anything is written, so an unreadable file
    stops the build with the old index intact -- or, with ``skip_unreadable`` (the app:
    one truncated upload must not take the service down), is left out, reported
    through ``warn`` and recorded in the manifest's ``skipped`` (with duplicates).
    ``precomputed`` holds vectors already embedded for this build (:func:`chunk_vectors`).
    With ``defer_unprepared`` (the app's removals and uploads, while a background update
    embeds what changed), a document the old index does not hold is left out unless all
    its vectors are at hand (old or precomputed): its file is recorded as not indexed, so
    the index stays stale and the update adds it, and this build embeds nothing new.
    """
    if config.store == "milvus" and config.milvus_state == "shared":  # issue 21: all in Milvus
        from rag.store.milvus_writer import build_shared

        return build_shared(  # type: ignore[return-value]  # same fields as BuildReport
            config,
            embedder,
            rebuild=rebuild,
            progress=progress,
            warn=warn,
            skip_unreadable=skip_unreadable,
            precomputed=precomputed,
        )
    started = time.perf_counter()
    index_dir = config.index_path
    report = BuildReport(path=index_dir)
    docs = load_corpus(
        config.corpus_paths,
        config.root,
        warn=warn,
        skip_errors=skip_unreadable,
        skipped=report.skipped,
    )
    stats = file_stats(config)
    with _build_lock(index_dir):
        old = None if rebuild else _load_previous(config, warn)
        if defer_unprepared and old is not None:
            docs, deferred = _unprepared(docs, old, config, precomputed or {})
            stats = {src: st for src, st in stats.items() if src not in deferred}
        if old is not None and _same_content(old, docs, config):
            return _record_up_to_date(report, old, docs, stats, index_dir)
        chunks = [
            c for d in docs for c in chunk_document(d, config.chunk_size, config.chunk_overlap)
        ]
        vectors, report.reused = _vectors_for(chunks, old, embedder, config, progress, precomputed)
        report.embedded = len(chunks) - report.reused
        generation = (
            int(old.manifest.get("generation", 0)) + 1 if old else _next_generation(index_dir)
        )
        with _writing(index_dir, generation):
            store = _build_store(config, vectors, chunks, generation, progress)
            report.seconds = time.perf_counter() - started
            manifest = _write_generation(
                index_dir,
                generation,
                docs,
                ChunkTable.from_chunks(docs, chunks),
                store,
                BM25Index.build([lexical_text(c) for c in chunks]),
                config,
                stats,
                report.seconds,
                embedder.dim,
                report.skipped,
            )
        _remove_other_generations(index_dir, manifest["files"])
        if old is not None:
            _drop_replaced_store(old.manifest, manifest, config)
    report.documents, report.chunks, report.index_type = len(docs), len(chunks), store.kind
    report.removed_docs = len({d.doc_id for d in old.docs} - {d.doc_id for d in docs}) if old else 0
    report.seconds = time.perf_counter() - started
    return report


def _record_up_to_date(
    report: BuildReport,
    old: Index,
    docs: list[Document],
    stats: dict[str, list[int]],
    index_dir: Path,
) -> BuildReport:
    """Nothing to embed or write but the manifest's file list (sizes and times may have
    changed with the same text, and skipped files are recorded)."""
    report.documents, report.chunks, report.up_to_date = len(docs), len(old.chunks), True
    report.index_type = old.store.kind
    with _writing(index_dir, None):
        _write_manifest(
            index_dir,
            {**old.manifest, "sources": _sources(stats, docs), "skipped": report.skipped},
        )
    return report


@contextlib.contextmanager
def _writing(index_dir: Path, generation: int | None) -> Iterator[None]:
    """Turn a failed write (disk full, read-only folder, ...) into :class:`IndexWriteError`.

    The half-written files of ``generation`` are removed, so a full disk is not left
    fuller; the manifest still names the previous generation, which still loads.
    """
    try:
        yield
    except RagError:  # already says what failed (e.g. the Milvus server)
        if generation is not None:
            _remove_generation(index_dir, generation)
        raise
    except Exception as exc:  # OSError from Python writers, RuntimeError from FAISS's C++ writer
        try:
            free = shutil.disk_usage(index_dir).free
        except OSError:
            free = -1
        if generation is not None:
            _remove_generation(index_dir, generation)
        enospc = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
        full = enospc or "No space" in str(exc) or 0 <= free < LOW_DISK_BYTES
        if isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        elif full:  # FAISS says "Error in void faiss::write_index(...) ... write error"
            reason = os.strerror(errno.ENOSPC)
        else:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        if full:
            hint = "free some disk space" + (f" ({free / 1e6:.1f} MB free)" if free >= 0 else "")
        else:
            hint = "check that the folder is writable"
        raise IndexWriteError(
            f"cannot write the index to {index_dir} ({reason}); {hint} and run `rag index` "
            "again. The previous index is unchanged."
        ) from exc


def _remove_generation(index_dir: Path, generation: int) -> None:
    """Delete generation ``generation``'s files and temp files, unless the manifest uses them."""
    try:
        keep = set(json.loads((index_dir / MANIFEST).read_text("utf-8"))["files"].values())
    except Exception:
        keep = set()
    names = {f"documents-{generation}.jsonl", f"chunks-{generation}.npy"}
    names |= {f"vectors-{generation}.faiss", f"bm25-{generation}"}
    for p in index_dir.iterdir():
        own_tmp = p.name.startswith(".") and f".{os.getpid()}.tmp" in p.name
        if p.name in keep or not (p.name in names or own_tmp):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()


def _load_previous(config: Config, warn: Callable[[str], None] | None) -> Index | None:
    try:
        old = load_index(config)
    except IndexMissingError:
        return None
    except IndexCorruptError as exc:
        if warn:
            warn(f"existing index unusable, building from scratch: {exc}")
        return None
    if old.manifest.get("settings", {}).get("embedding_model") != config.embedding_model:
        return None  # vectors from another model cannot be reused
    return old


def _same_content(old: Index, docs: list[Document], config: Config) -> bool:
    return (
        old.manifest.get("settings") == settings_fingerprint(config)
        and [d.doc_id for d in old.docs] == [d.doc_id for d in docs]
        and [d.source for d in old.docs] == [d.source for d in docs]
    )


def _vectors_for(
    chunks: list[Chunk],
    old: Index | None,
    embedder: Embedder,
    config: Config,
    progress: bool,
    precomputed: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for ``chunks``: copied from the old index when the embedded text is
    unchanged, taken from ``precomputed`` (text hash -> vector, see :func:`chunk_vectors`)
    when there, embedded otherwise. Returns them and how many came from the old index."""
    texts = [embed_text(c, config.embed_title) for c in chunks]
    reuse: dict[str, int] = {}
    if old is not None and old.manifest["settings"].get("embed_title") == config.embed_title:
        for i, c in enumerate(old.chunks):
            reuse.setdefault(_hash(embed_text(c, config.embed_title)), i)
    dim = embedder.dim if old is None else old.store.dim
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    old_rows = [(i, reuse.get(_hash(t))) for i, t in enumerate(texts)]
    hits = [(i, r) for i, r in old_rows if r is not None]
    if hits:
        vectors[[i for i, _ in hits]] = old.store.reconstruct(np.array([r for _, r in hits]))
    todo = []
    for i, r in old_rows:
        if r is None:
            ready = (precomputed or {}).get(_hash(texts[i]))
            if ready is None:
                todo.append(i)
            else:
                vectors[i] = ready
    if todo:
        vectors[todo] = embedder.encode_documents([texts[i] for i in todo], progress=progress)
    return vectors, len(hits)


def _unprepared(
    docs: list[Document], old: Index, config: Config, precomputed: Mapping[str, np.ndarray]
) -> tuple[list[Document], set[str]]:
    """``docs`` without the new ones that would need embedding, and those left out's
    sources (see ``defer_unprepared`` in :func:`build_index`)."""
    known = {d.doc_id for d in old.docs}
    have = {_hash(embed_text(c, config.embed_title)) for c in old.chunks} | set(precomputed)
    kept, deferred = [], set()
    for d in docs:
        chunks = chunk_document(d, config.chunk_size, config.chunk_overlap)
        if d.doc_id in known or all(
            _hash(embed_text(c, config.embed_title)) in have for c in chunks
        ):
            kept.append(d)
        else:
            deferred.add(d.source)
    return kept, deferred


def chunk_vectors(
    docs: list[Document],
    config: Config,
    embedder: Embedder,
    *,
    known: Index | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """The vectors of ``docs``' chunks, by embedded-text hash, for a later
    :func:`build_index` (``precomputed``): an upload is embedded before the index lock
    is taken, so a removal meanwhile does not wait for it. Chunks whose text ``known``
    (the index being served) already holds are skipped: the build copies those.
    ``progress`` gets (chunks embedded, chunks to embed) after each batch."""
    texts = [
        embed_text(c, config.embed_title)
        for d in docs
        for c in chunk_document(d, config.chunk_size, config.chunk_overlap)
    ]
    if known is not None:
        have = {_hash(embed_text(c, config.embed_title)) for c in known.chunks}
        texts = [t for t in texts if _hash(t) not in have]
    if not texts:
        return {}
    vectors = embedder.encode_documents(texts, progress=progress or False)
    return {_hash(t): np.asarray(v, dtype=np.float32) for t, v in zip(texts, vectors, strict=True)}


def _sources(stats: dict[str, list[int]], docs: list[Document]) -> dict[str, list[Any]]:
    ids = {d.source: d.doc_id for d in docs}
    return {src: [*st, ids.get(src, "")] for src, st in stats.items()}


def _next_generation(index_dir: Path) -> int:
    gens = [
        int(p.stem.split("-")[-1])
        for p in index_dir.glob("vectors-*.faiss")
        if p.stem.split("-")[-1].isdigit()
    ]
    return max(gens, default=0) + 1


def _write_generation(
    index_dir: Path,
    gen: int,
    docs: list[Document],
    table: ChunkTable,
    store: VectorStore,
    bm25: BM25Index,
    config: Config,
    stats: dict[str, list[int]],
    seconds: float,
    dim: int,
    skipped: dict[str, str] | None = None,
) -> dict[str, Any]:
    files = {
        "documents": f"documents-{gen}.jsonl",
        "chunks": f"chunks-{gen}.npy",
        "bm25": f"bm25-{gen}",
    }
    if isinstance(store, FaissStore):  # a Milvus collection lives in Milvus, not in index/
        files["vectors"] = f"vectors-{gen}.faiss"
    _atomic_write(
        index_dir / files["documents"],
        "".join(
            json.dumps({**d.meta(), "text": d.text}, ensure_ascii=False) + "\n" for d in docs
        ).encode("utf-8"),
    )
    buf = io.BytesIO()
    np.save(buf, np.asarray(table.rows, dtype=CHUNK_DTYPE))
    _atomic_write(index_dir / files["chunks"], buf.getvalue())
    if "vectors" in files:
        store.persist(index_dir / files["vectors"])
    bm25.save(index_dir / files["bm25"])
    manifest = {
        "format_version": FORMAT_VERSION,
        "generation": gen,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "settings": settings_fingerprint(config),
        "embedding_model": config.embedding_model,
        "dimension": dim,
        "index_type": store.kind,
        "store": _store_info(store, config),
        "corpus_dir": relative_source(config.corpus_path, config.root),
        "corpus_fingerprint": hashlib.sha256("".join(d.doc_id for d in docs).encode()).hexdigest(),
        "counts": {"documents": len(docs), "chunks": len(table)},
        "files": files,
        "sizes": {k: file_size(index_dir / v) for k, v in files.items()},
        "sources": _sources(stats, docs),
        "skipped": dict(skipped or {}),
    }
    _write_manifest(index_dir, manifest)
    return manifest


def _write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    _atomic_write(index_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _build_store(
    config: Config, vectors: np.ndarray, chunks: list[Chunk], gen: int, progress: bool = False
) -> VectorStore:
    """The configured vector store for one generation: FAISS in index/, or a Milvus collection."""
    kind = choose_index_type(config.index_type, len(chunks), config.approx_threshold)
    if config.store == "milvus":
        from rag.store.milvus_store import INDEX_TYPES, MilvusStore, connect, resolve_uri

        client = connect(resolve_uri(config.milvus_uri, config.root), config.milvus_token)
        texts = [terms(lexical_text(c)) for c in chunks] if config.lexical == "milvus" else None
        collection = f"{config.milvus_collection}_g{gen}"
        try:
            return MilvusStore.build(
                client,
                collection,
                vectors,
                RowMeta.from_chunks(chunks, texts),
                index_type=INDEX_TYPES[kind],
                hnsw_m=config.hnsw_m,
                ef_search=config.hnsw_ef_search,
                nlist=config.ivf_nlist,
                nprobe=config.ivf_nprobe,
                progress=progress,
            )
        except Exception as exc:
            with contextlib.suppress(Exception):
                client.drop_collection(collection)
            raise RagError(
                f"writing collection {collection!r} to Milvus at {config.milvus_uri} failed "
                f"({type(exc).__name__}: {str(exc)[:200]}); the previous index is unchanged"
            ) from None
    return FaissStore.build(
        vectors,
        kind,
        meta=RowMeta.from_chunks(chunks),
        hnsw_m=config.hnsw_m,
        hnsw_ef_search=config.hnsw_ef_search,
        ivf_nlist=config.ivf_nlist,
        ivf_nprobe=config.ivf_nprobe,
    )


def _store_info(store: VectorStore, config: Config) -> dict[str, Any]:
    if store.kind == "milvus":
        return {"kind": "milvus", "uri": config.milvus_uri, "collection": store.collection}
    return {"kind": "faiss"}


def _drop_replaced_store(old: dict[str, Any], new: dict[str, Any], config: Config) -> None:
    """After the manifest moved on, drop the previous generation's Milvus collection."""
    info = old.get("store", {})
    if info.get("kind") != "milvus" or info == new.get("store"):
        return
    from rag.store.milvus_store import connect, resolve_uri

    with contextlib.suppress(Exception):
        client = connect(resolve_uri(info["uri"], config.root), config.milvus_token)
        client.drop_collection(info["collection"])
        client.close()


def _remove_other_generations(index_dir: Path, keep: dict[str, str]) -> None:
    keep_names = set(keep.values()) | {MANIFEST, ".lock"}
    for p in index_dir.iterdir():
        if p.name in keep_names:
            continue
        if p.name.startswith(("documents-", "chunks-", "vectors-", "bm25-", ".")):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


def open_index(
    config: Config,
    embedder: Embedder,
    *,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Index:
    """Load the index, first building or updating it when missing or stale (``auto_index``).

    A corrupt index is never silently replaced: that raises :class:`IndexCorruptError`.
    Unreadable corpus files are skipped and reported (see :func:`build_index`); an
    update that cannot be written (disk full, ...) leaves the previous index, which is
    then loaded and served, with a warning.
    """
    if config.store == "milvus" and config.milvus_state == "shared":  # issue 21: all in Milvus
        from rag.store.milvus_writer import open_shared

        return open_shared(config, embedder, progress=progress, warn=warn)
    status = index_status(config)
    if status.state == "corrupt":
        raise IndexCorruptError(status.reason)
    if status.state in {"missing", "stale"}:
        if not config.auto_index:
            if status.state == "missing":
                raise IndexMissingError(
                    f"no index at {config.index_path}; build it with `rag index`"
                )
            if warn:
                warn(f"index is stale ({status.reason}); run `rag index` to update it")
        else:
            if warn:
                warn(f"{status.reason}: updating the index")
            try:
                build_index(config, embedder, progress=progress, warn=warn, skip_unreadable=True)
            except (IndexWriteError, CorpusError) as exc:
                if status.state == "missing":
                    raise
                if warn:
                    warn(f"serving the previous index: the update failed: {exc}")
    return load_index(config)
