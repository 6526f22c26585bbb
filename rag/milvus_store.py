"""The Milvus implementation of :class:`rag.store.VectorStore`.

Milvus Lite (``pip install milvus-lite``) stores a collection in a local file, with the
same client API as a Milvus cluster, so ``RAG_MILVUS_URI=index/milvus.db`` and
``RAG_MILVUS_URI=http://milvus.internal:19530`` (+ ``RAG_MILVUS_TOKEN``) differ only in
the URI. Each index generation is one collection (``<prefix>_g<generation>``); rows
carry the chunk id, document id, source path and character offsets next to the vector,
so citations survive the round trip through Milvus exactly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorruptError, RagError

BATCH = 2000
FIELDS = ("chunk_id", "doc_id", "source", "start", "end")


def resolve_uri(uri: str, root: Path) -> str:
    """A server URI as is; a local Milvus Lite file resolved against the project root."""
    if "://" in uri:
        return uri
    path = Path(uri)
    path = path if path.is_absolute() else root / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def connect(uri: str, token: str = "") -> Any:
    """A ``MilvusClient`` for ``uri``; a clear error when pymilvus or the server is missing."""
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise RagError(
            "the Milvus store needs pymilvus and milvus-lite: pip install pymilvus milvus-lite"
        ) from None
    try:
        return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
    except Exception as exc:
        raise RagError(
            f"cannot connect to Milvus at {uri} ({type(exc).__name__}: "
            f"{str(exc)[:160]}); check RAG_MILVUS_URI / RAG_MILVUS_TOKEN"
        ) from None


class MilvusStore:
    """Vectors (row id -> vector + chunk metadata) in one Milvus collection."""

    def __init__(self, client: Any, collection: str, dim: int, count: int) -> None:
        self.client = client
        self.collection = collection
        self._dim = dim
        self._count = count

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def build(
        cls, client: Any, collection: str, vectors: np.ndarray, meta: Sequence[dict[str, Any]]
    ) -> MilvusStore:
        """Create ``collection`` (replacing one of that name) holding ``vectors`` and ``meta``."""
        from pymilvus import DataType

        n, dim = vectors.shape
        if client.has_collection(collection):
            client.drop_collection(collection)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=128)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
        schema.add_field("source", DataType.VARCHAR, max_length=2048)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        client.create_collection(collection, schema=schema, index_params=index)
        store = cls(client, collection, dim, 0)
        store.add(np.arange(n, dtype=np.int64), vectors, meta)
        return store

    @classmethod
    def open(cls, client: Any, collection: str, *, expected: int, dim: int) -> MilvusStore:
        """Attach to an existing collection, checking it holds ``expected`` rows."""
        if not client.has_collection(collection):
            raise IndexCorruptError(
                f"Milvus collection {collection!r} is missing; run `rag index --rebuild`"
            )
        with contextlib.suppress(Exception):
            client.load_collection(collection)
        count = int(client.get_collection_stats(collection).get("row_count", -1))
        if count != expected:
            raise IndexCorruptError(
                f"Milvus collection {collection!r} holds {count} rows, the "
                f"manifest expects {expected}; run `rag index --rebuild`"
            )
        return cls(client, collection, dim, count)

    def add(self, ids: np.ndarray, vectors: np.ndarray, meta: Sequence[dict[str, Any]]) -> None:
        """Insert rows in batches; ``meta`` holds chunk_id, doc_id, source, start, end."""
        for a in range(0, len(ids), BATCH):
            rows = [
                {"id": int(i), "vector": v.tolist(), **{f: m[f] for f in FIELDS}}
                for i, v, m in zip(
                    ids[a : a + BATCH], vectors[a : a + BATCH], meta[a : a + BATCH], strict=True
                )
            ]
            self.client.insert(self.collection, rows)
        with contextlib.suppress(Exception):
            self.client.flush(self.collection)
        self._count += len(ids)

    def delete_document(self, doc_id: str) -> None:
        """Remove every row of one document."""
        self.client.delete(self.collection, filter=f"doc_id == {_quote(doc_id)}")
        self._count = int(self.client.get_collection_stats(self.collection).get("row_count", 0))

    def drop(self) -> None:
        self.client.drop_collection(self.collection)

    def save(self, path: Path) -> None:
        """Milvus persists on its own; nothing to write next to the index."""
        with contextlib.suppress(Exception):
            self.client.flush(self.collection)

    # ------------------------------------------------------------------ queries

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> str:
        return "milvus"

    def __len__(self) -> int:
        return self._count

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = max(1, min(k, max(len(self), 1)))
        kwargs: dict[str, Any] = {"search_params": {"metric_type": "IP"}}
        if allowed is not None:
            kwargs["filter"] = f"id in [{', '.join(str(int(i)) for i in allowed)}]"
        res = self.client.search(self.collection, data=q.tolist(), limit=k, **kwargs)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        for r, hits in enumerate(res):
            for j, hit in enumerate(hits[:k]):
                scores[r, j] = hit["distance"]
                ids[r, j] = hit["id"]
        return scores, ids

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        pos = {int(i): n for n, i in enumerate(ids)}
        for a in range(0, len(ids), BATCH):
            part = ids[a : a + BATCH]
            rows = self.client.query(
                self.collection,
                filter=f"id in [{', '.join(map(str, part))}]",
                output_fields=["id", "vector"],
            )
            for row in rows:
                out[pos[int(row["id"])]] = row["vector"]
        return out

    def all_vectors(self) -> np.ndarray:
        """Every stored vector, in row order."""
        return self.reconstruct(np.arange(len(self), dtype=np.int64))

    def rows(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Stored metadata of some rows (for checks that nothing was lost in transit)."""
        return self.client.query(
            self.collection,
            filter=f"id in [{', '.join(map(str, ids))}]",
            output_fields=["id", *FIELDS],
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
