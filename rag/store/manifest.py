"""The index's manifest and freshness: which generation is current, with which
settings, over which files (:func:`index_status` says whether ``index/`` is fresh).

Layout of ``index/`` (one *generation* of files per build, named by its number)::

    index/manifest.json          which generation is current + settings + counts
    index/documents-<g>.jsonl    documents with their normalised text and metadata
    index/chunks-<g>.npy         chunk table: (document row, start, end) per chunk
    index/vectors-<g>.faiss      the FAISS index, row i = chunk i
    index/bm25-<g>/              the BM25 index, row i = chunk i
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.config import Config
from rag.errors import IndexCorruptError, IndexMissingError
from rag.ingest.readers import corpus_files, relative_source, supported_suffixes

FORMAT_VERSION = 1
LEXICAL_TERMS = "porter-1980"
"""How the word index's terms are made (rag.text.index_terms); a change makes an index
stale, so it is rebuilt rather than searched with terms it does not hold."""
SPLITTER_VERSION = "rag.text.sentence_spans/2"  # /2: 。！？ end sentences; Chinese BM25 bigrams
MANIFEST = "manifest.json"


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
        "lexical_terms": LEXICAL_TERMS,
    }


def file_stats(config: Config) -> dict[str, list[int]]:
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
        stats = file_stats(config)
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
