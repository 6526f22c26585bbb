"""Build, persist, check and load the index under ``index/``.

Layout (one *generation* of files per build, named by its number)::

    index/manifest.json          which generation is current + settings + counts
    index/documents-<g>.jsonl    documents with their normalised text and metadata
    index/chunks-<g>.npy         chunk table: (document row, start, end) per chunk
    index/vectors-<g>.faiss      the FAISS index, row i = chunk i
    index/bm25-<g>/              the BM25 index, row i = chunk i

A build writes a complete new generation, then replaces ``manifest.json`` atomically
(temp file + rename), then deletes the older generation. A crash at any point
leaves the previous manifest pointing at complete files, so the old index still loads.
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
from rag.ingest.readers import corpus_files, load_corpus, relative_source, supported_suffixes
from rag.store.faiss_store import FaissStore, RowMeta, VectorStore, choose_index_type
from rag.store.lexical import BM25Index
from rag.text import terms
from rag.types import Chunk, Document

FORMAT_VERSION = 1
SPLITTER_VERSION = "rag.text.sentence_spans/1"
MANIFEST = "manifest.json"
LOW_DISK_BYTES = 16_000_000  # a failed write with less free space than this: "disk full"
_CHUNK_DTYPE = np.dtype([("doc", "<i4"), ("ordinal", "<i4"), ("start", "<i8"), ("end", "<i8")])


class IndexWriteError(RagError):
    """A build could not write its files (disk full, read-only, ...); the old index is intact."""


class ChunkTable:
    """Chunks addressed by row id; :class:`Chunk` objects are made only when asked for."""

    def __init__(self, docs: list[Document], rows: np.ndarray) -> None:
        self.docs = docs
        self.rows = rows

    @classmethod
    def from_chunks(cls, docs: list[Document], chunks: list[Chunk]) -> ChunkTable:
        pos = {d.doc_id: i for i, d in enumerate(docs)}
        rows = np.array(
            [(pos[c.doc_id], int(c.chunk_id.rsplit(":", 1)[1]), c.start, c.end) for c in chunks],
            dtype=_CHUNK_DTYPE,
        )
        return cls(docs, rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Chunk:
        doc_row, ordinal, start, end = self.rows[int(i)].tolist()
        doc = self.docs[doc_row]
        return Chunk(
            f"{doc.doc_id}:{ordinal}",
            doc.doc_id,
            doc.source,
            doc.title,
            start,
            end,
            doc.text[start:end],
        )

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))


@dataclass
class Index:
    """A loaded index: documents, chunks, dense vectors and BM25, plus the manifest."""

    docs: list[Document]
    chunks: ChunkTable
    store: VectorStore
    bm25: BM25Index
    manifest: dict[str, Any]
    path: Path
    _by_id: dict[str, Document] = field(default_factory=dict, repr=False)
    _by_source: dict[str, Document] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {d.doc_id: d for d in self.docs}
        self._by_source = {d.source: d for d in self.docs}

    @property
    def skipped(self) -> dict[str, str]:
        """Corpus files the build left out, ``source -> reason`` (unreadable, duplicate)."""
        return dict(self.manifest.get("skipped") or {})

    def document(self, key: str) -> Document:
        """A document by id or by source path."""
        doc = self._by_id.get(key) or self._by_source.get(key)
        if doc is None:
            raise KeyError(f"no indexed document {key!r}")
        return doc


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


# ---------------------------------------------------------------------------- status


@dataclass(frozen=True)
class Status:
    """``state`` is one of: missing, fresh, stale, corrupt."""

    state: str
    reason: str = ""


def settings_fingerprint(config: Config) -> dict[str, Any]:
    """The settings an index depends on; a change makes it stale."""
    return {
        "format_version": FORMAT_VERSION,
        "embedding_model": config.embedding_model,
        "embed_title": config.embed_title,
        "chunker": {
            "chunk_size": config.chunk_size,
            "chunk_overlap": config.chunk_overlap,
            "splitter": SPLITTER_VERSION,
        },
        "index_type": config.index_type,
        "store": config.store,
        "lexical": config.lexical,
    }


def _file_stats(config: Config) -> dict[str, list[int]]:
    out = {}
    for p in (p for d in config.corpus_paths for p in corpus_files(d)):
        if p.suffix.lower() in supported_suffixes():
            st = p.stat()
            out[relative_source(p, config.root)] = [st.st_size, st.st_mtime_ns]
    return out


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """Parse ``manifest.json``; raise a clear error when missing or unreadable."""
    path = index_dir / MANIFEST
    if not path.exists():
        raise IndexMissingError(f"no index at {index_dir}; build it with `rag index`")
    try:
        manifest = json.loads(path.read_text("utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{path} is unreadable ({exc}); run `rag index --rebuild`"
        ) from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{path} is index format {version!r}, this version reads format {FORMAT_VERSION}; "
            "run `rag index --rebuild`"
        )
    return manifest


def index_status(config: Config) -> Status:
    """Whether the index is missing, fresh, stale (corpus or settings changed) or corrupt."""
    try:
        manifest = read_manifest(config.index_path)
    except IndexMissingError:
        return Status("missing", f"no index at {config.index_path}")
    except IndexCorruptError as exc:
        return Status("corrupt", str(exc))
    if manifest.get("settings") != settings_fingerprint(config):
        return Status("stale", "index settings changed (model, chunking or index type)")
    try:
        stats = _file_stats(config)
    except Exception as exc:
        return Status("stale", f"corpus cannot be listed: {exc}")
    recorded = {k: v[:2] for k, v in manifest.get("sources", {}).items()}
    if stats != recorded:
        added = set(stats) - set(recorded)
        removed = set(recorded) - set(stats)
        changed = {k for k in set(stats) & set(recorded) if stats[k] != recorded[k]}
        return Status(
            "stale",
            f"corpus changed: {len(added)} added, {len(removed)} removed, {len(changed)} modified",
        )
    return Status("fresh")


# ---------------------------------------------------------------------------- build


def lexical_text(chunk: Chunk) -> str:
    """The text whose words are indexed for a chunk (title included, as for embeddings)."""
    return f"{chunk.doc_title}\n{chunk.text}"


def embed_text(chunk: Chunk, with_title: bool) -> str:
    """The text that is embedded for a chunk (the title adds document context)."""
    return f"{chunk.doc_title}\n{chunk.text}" if with_title else chunk.text


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
) -> BuildReport:
    """Bring ``index/`` up to date with the corpus, re-embedding only changed chunks.

    The corpus is read completely before anything is written, so an unreadable file
    stops the build with the old index intact -- or, with ``skip_unreadable`` (the app:
    one truncated upload must not take the service down), is left out, reported
    through ``warn`` and recorded in the manifest's ``skipped`` (with duplicates).
    ``precomputed`` holds vectors already embedded for this build (:func:`chunk_vectors`).
    """
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
    stats = _file_stats(config)
    with _build_lock(index_dir):
        old = None if rebuild else _load_previous(config, warn)
        if old is not None and _same_content(old, docs, config):
            report.documents, report.chunks, report.up_to_date = len(docs), len(old.chunks), True
            report.index_type = old.store.kind
            with _writing(index_dir, None):
                _write_manifest(
                    index_dir,
                    {**old.manifest, "sources": _sources(stats, docs), "skipped": report.skipped},
                )
            return report
        chunks = [
            c for d in docs for c in chunk_document(d, config.chunk_size, config.chunk_overlap)
        ]
        vectors, report.reused = _vectors_for(chunks, old, embedder, config, progress, precomputed)
        report.embedded = len(chunks) - report.reused
        bm25 = BM25Index.build([lexical_text(c) for c in chunks])
        table = ChunkTable.from_chunks(docs, chunks)
        generation = (
            int(old.manifest.get("generation", 0)) + 1 if old else _next_generation(index_dir)
        )
        with _writing(index_dir, generation):
            store = _build_store(config, vectors, chunks, generation, progress)
            kind = store.kind
            report.seconds = time.perf_counter() - started
            manifest = _write_generation(
                index_dir,
                generation,
                docs,
                table,
                store,
                bm25,
                config,
                stats,
                report.seconds,
                embedder.dim,
                report.skipped,
            )
        _remove_other_generations(index_dir, manifest["files"])
        if old is not None:
            _drop_replaced_store(old.manifest, manifest, config)
    report.documents, report.chunks, report.index_type = len(docs), len(chunks), kind
    report.removed_docs = len({d.doc_id for d in old.docs} - {d.doc_id for d in docs}) if old else 0
    report.seconds = time.perf_counter() - started
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


def chunk_vectors(
    docs: list[Document], config: Config, embedder: Embedder
) -> dict[str, np.ndarray]:
    """The vectors of ``docs``' chunks, by embedded-text hash, for a later
    :func:`build_index` (``precomputed``): an upload is embedded before the index lock
    is taken, so a removal meanwhile does not wait for it."""
    texts = [
        embed_text(c, config.embed_title)
        for d in docs
        for c in chunk_document(d, config.chunk_size, config.chunk_overlap)
    ]
    if not texts:
        return {}
    vectors = embedder.encode_documents(texts, progress=False)
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
    np.save(buf, np.asarray(table.rows, dtype=_CHUNK_DTYPE))
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
        "sizes": {k: _size(index_dir / v) for k, v in files.items()},
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


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# ---------------------------------------------------------------------------- stores


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


def _open_store(
    config: Config,
    manifest: dict[str, Any],
    index_dir: Path,
    docs: list[Document],
    rows: np.ndarray,
) -> VectorStore:
    info = manifest.get("store", {"kind": "faiss"})
    if info.get("kind") == "milvus":
        from rag.store.milvus_store import MilvusStore, connect, resolve_uri

        client = connect(resolve_uri(info["uri"], config.root), config.milvus_token)
        return MilvusStore.open(
            client,
            info["collection"],
            expected=len(rows),
            dim=manifest["dimension"],
            ef_search=config.hnsw_ef_search,
            nprobe=config.ivf_nprobe,
        )
    return FaissStore.load(
        index_dir / manifest["files"]["vectors"],
        manifest["index_type"],
        expected=len(rows),
        dim=manifest["dimension"],
        meta=_row_meta(docs, rows),
        ef_search=config.hnsw_ef_search,
        nprobe=config.ivf_nprobe,
    )


def _row_meta(docs: list[Document], rows: np.ndarray) -> RowMeta:
    """The store metadata of every row, from the chunk table (no Chunk objects made)."""
    of_doc = rows["doc"]
    doc_ids = np.array([d.doc_id for d in docs] or [""], dtype=object)[of_doc]
    sources = np.array([d.source for d in docs] or [""], dtype=object)[of_doc]
    return RowMeta([""] * len(rows), doc_ids, sources, rows["start"], rows["end"])


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


# ---------------------------------------------------------------------------- load


def load_index(config: Config) -> Index:
    """Load the current generation, checking every file against the manifest."""
    index_dir = config.index_path
    manifest = read_manifest(index_dir)
    try:
        files = manifest["files"]
        counts = manifest["counts"]
        sizes = manifest["sizes"]
    except KeyError as exc:
        raise IndexCorruptError(
            f"{index_dir / MANIFEST} lacks {exc}; run `rag index --rebuild`"
        ) from None
    for key, name in files.items():
        path = index_dir / name
        if not path.exists():
            raise IndexCorruptError(f"{path} is missing; run `rag index --rebuild`")
        if _size(path) != sizes.get(key):
            raise IndexCorruptError(
                f"{path} is {_size(path)} bytes, the manifest says {sizes.get(key)} "
                "(truncated or modified); run `rag index --rebuild`"
            )
    docs = _load_documents(index_dir / files["documents"])
    try:
        # Read into memory, not memory-mapped: the table is small (24 bytes a chunk), and
        # a mapped file truncated in place under a running app would kill it (SIGBUS).
        rows = np.load(index_dir / files["chunks"], allow_pickle=False)
        if rows.dtype != _CHUNK_DTYPE:
            raise ValueError(f"unexpected dtype {rows.dtype}")
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{index_dir / files['chunks']} is unreadable ({exc}); run `rag index --rebuild`"
        ) from None
    if len(docs) != counts["documents"] or len(rows) != counts["chunks"]:
        raise IndexCorruptError(
            f"{index_dir} counts disagree with its manifest; run `rag index --rebuild`"
        )
    store = _open_store(config, manifest, index_dir, docs, rows)
    bm25 = BM25Index.load(index_dir / files["bm25"], expected=len(rows))
    return Index(docs, ChunkTable(docs, rows), store, bm25, manifest, index_dir)


def _load_documents(path: Path) -> list[Document]:
    docs = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                docs.append(
                    Document(
                        d["doc_id"],
                        d["source"],
                        d["title"],
                        d["text"],
                        d["dateline"],
                        d["byline"],
                        tuple(tuple(p) for p in d.get("pages", [])),
                        d.get("date", ""),
                    )
                )
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(
            f"{path} is unreadable ({exc}); run `rag index --rebuild`"
        ) from None
    return docs


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
