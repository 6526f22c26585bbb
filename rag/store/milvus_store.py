"""The Milvus implementation of :class:`rag.store.faiss_store.VectorStore`.

Milvus Lite (``pip install milvus-lite``) stores a collection in a local file, with the
same client API as a Milvus cluster, so ``RAG_MILVUS_URI=index/milvus.db`` and
``RAG_MILVUS_URI=http://milvus.internal:19530`` (+ ``RAG_MILVUS_TOKEN``) differ only in
the URI. Each index generation is one collection (``<prefix>_g<generation>``); rows
carry the chunk id, document id, source path and character offsets next to the vector,
so citations survive the round trip through Milvus exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError, RagError, StoreError
from rag.store.base import RowMeta
from rag.store.milvus_schema import add_bm25

BATCH = 2000
INDEX_TYPES = {"flat": "FLAT", "hnsw": "HNSW", "ivf": "IVF_FLAT"}  # RAG_INDEX_TYPE -> Milvus
FIELDS = ("chunk_id", "doc_id", "source", "start", "end")
CONNECT_TIMEOUT_S = 60.0


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
    if "://" not in uri:
        _check_not_locked(Path(uri))
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise RagError(
            "the Milvus store needs pymilvus and milvus-lite: pip install pymilvus milvus-lite"
        ) from None
    try:
        # a server URI gets a generous connect timeout: a busy host answers, just late
        kw: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_S} if "://" in uri else {}
        return MilvusClient(uri=uri, token=token, **kw) if token else MilvusClient(uri=uri, **kw)
    except Exception as exc:
        raise RagError(
            f"cannot connect to Milvus at {uri} ({type(exc).__name__}: "
            f"{str(exc)[:160]}); check RAG_MILVUS_URI / RAG_MILVUS_TOKEN"
        ) from None


def release_local(uri: str) -> None:
    """Stop this process's Milvus Lite server for a local file, so that another process can
    open the file (one process at a time); clients of it stop working. No-op for servers."""
    if "://" in uri:
        return
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return
    server_manager_instance.release_server(uri)


def _check_not_locked(path: Path) -> None:
    """A Milvus Lite file serves one process at a time: say so, instead of pymilvus's
    "Open local milvus failed", when another process (the app?) has it open."""
    lock = path / "LOCK"
    if not lock.is_file() or _open_in_this_process(path):
        return
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RagError(
                f"another process has the Milvus Lite file {path} open (a running app?); a "
                "Milvus Lite file serves one process at a time. Stop that process, or share "
                "the index through a server: `python -m milvus_lite server --data-dir "
                f"{path} --host 127.0.0.1 --port 19530` and "
                "RAG_MILVUS_URI=http://127.0.0.1:19530 (or a Milvus cluster)"
            ) from None
        fcntl.flock(fh, fcntl.LOCK_UN)


def _open_in_this_process(path: Path) -> bool:
    """Whether this process already serves ``path`` (pymilvus then reuses that server)."""
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return False
    return os.path.abspath(path) in getattr(server_manager_instance, "_servers", {})


class MilvusStore:
    """Vectors (row id -> vector + chunk metadata) in one Milvus collection.

    With ``full_text=True`` the collection also holds each chunk's folded words and a
    Milvus BM25 function over them, so :meth:`lexical_search` runs the lexical side of
    hybrid retrieval inside Milvus too (``RAG_LEXICAL=milvus``).
    """

    def __init__(
        self,
        client: Any,
        collection: str,
        dim: int,
        count: int,
        *,
        index_type: str = "FLAT",
        ef_search: int = 128,
        nprobe: int = 16,
        full_text: bool = False,
    ) -> None:
        self.client = client
        self.collection = collection
        self.index_type = index_type
        self.full_text = full_text
        self._dim = dim
        self._count = count
        self._search_params = _search_params(index_type, ef_search, nprobe)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def build(
        cls,
        client: Any,
        collection: str,
        vectors: np.ndarray,
        meta: RowMeta,
        *,
        index_type: str = "FLAT",
        hnsw_m: int = 32,
        ef_search: int = 128,
        nlist: int = 0,
        nprobe: int = 16,
        progress: bool = False,
    ) -> MilvusStore:
        """Create ``collection`` (replacing one of that name) holding ``vectors`` and ``meta``
        as rows 0..n-1; ``meta.text``, when given, is indexed for Milvus BM25 search."""
        n, dim = vectors.shape
        if client.has_collection(collection):
            client.drop_collection(collection)
        full_text = meta.text is not None
        schema = _schema(client, dim, full_text)
        index = client.prepare_index_params()
        index.add_index(
            "vector",
            index_type=index_type,
            metric_type="IP",
            params=_index_params(index_type, n, hnsw_m, nlist),
        )
        if full_text:
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(collection, schema=schema, index_params=index)
        store = cls(
            client,
            collection,
            dim,
            0,
            index_type=index_type,
            ef_search=ef_search,
            nprobe=nprobe,
            full_text=full_text,
        )
        store.add(np.arange(n, dtype=np.int64), vectors, meta, progress=progress)
        return store

    @classmethod
    def open(
        cls,
        client: Any,
        collection: str,
        *,
        expected: int,
        dim: int,
        ef_search: int = 128,
        nprobe: int = 16,
    ) -> MilvusStore:
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
        fields = {f["name"] for f in client.describe_collection(collection)["fields"]}
        index_type = client.describe_index(collection, "vector").get("index_type", "FLAT")
        return cls(
            client,
            collection,
            dim,
            count,
            index_type=index_type,
            ef_search=ef_search,
            nprobe=nprobe,
            full_text="sparse" in fields,
        )

    def add(
        self, ids: np.ndarray, vectors: np.ndarray, meta: RowMeta, *, progress: bool = False
    ) -> None:
        """Insert rows in batches; ``ids`` must be new (Milvus would keep both copies).
        ``progress`` shows a bar when there are several batches."""
        ids = np.asarray(ids, dtype=np.int64)
        if not (len(ids) == len(vectors) == len(meta)):
            raise ValueError("ids, vectors and meta must have the same length")
        if self.full_text and meta.text is None:
            raise ValueError(f"collection {self.collection!r} indexes words: meta.text is needed")
        starts = range(0, len(ids), BATCH)
        if progress and len(starts) > 2:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=f"Milvus {self.collection}", unit="batch", leave=False)
        for a in starts:
            part = meta.slice(a, a + BATCH)
            rows = [
                {
                    "id": int(ids[a + j]),
                    "vector": vectors[a + j].tolist(),
                    "chunk_id": part.chunk_id[j],
                    "doc_id": part.doc_id[j],
                    "source": part.source[j],
                    "start": int(part.start[j]),
                    "end": int(part.end[j]),
                    **({"lexical": part.text[j]} if self.full_text else {}),
                }
                for j in range(len(part))
            ]
            self.client.insert(self.collection, rows)
        with contextlib.suppress(Exception):
            self.client.flush(self.collection)
        self._count += len(ids)

    def delete_document(self, doc_id: str) -> int:
        """Remove every row of one document; returns how many rows went."""
        self.client.delete(self.collection, filter=f"doc_id == {_quote(doc_id)}")
        with contextlib.suppress(Exception):
            self.client.flush(self.collection)
        before = self._count
        self._count = int(self.client.get_collection_stats(self.collection).get("row_count", 0))
        return before - self._count

    def drop(self) -> None:
        self.client.drop_collection(self.collection)

    def persist(self, path: Path | None = None) -> None:
        """Milvus keeps the rows itself; flush so they are durable. ``path`` is unused."""
        with contextlib.suppress(Exception):
            self.client.flush(self.collection)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

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
        self, queries: np.ndarray, k: int, *, sources: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        with self._errors("search"):
            res = self.client.search(
                self.collection,
                data=q.tolist(),
                anns_field="vector",
                limit=max(1, min(k, max(len(self), 1))),
                search_params=self._search_params,
                **_filter(sources),
            )
        return _ranked(res, k)

    def lexical_search(
        self, query: str, k: int, *, sources: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Milvus's own BM25 over the folded chunk words: top-``k`` (scores, ids)."""
        if not self.full_text:
            raise RagError(
                f"collection {self.collection!r} has no word index; rebuild with "
                "RAG_LEXICAL=milvus (`rag index --rebuild`)"
            )
        with self._errors("BM25 search"):
            res = self.client.search(
                self.collection,
                data=[query],
                anns_field="sparse",
                limit=max(1, min(k, max(len(self), 1))),
                search_params={"metric_type": "BM25"},
                **_filter(sources),
            )
        scores, ids = _ranked(res, k)
        keep = ids[0] >= 0
        # Milvus Lite reports BM25 as a negated distance; a score is the larger the better
        return np.abs(scores[0][keep]), ids[0][keep]

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        pos = {int(i): n for n, i in enumerate(ids)}
        found = 0
        for a in range(0, len(ids), BATCH):
            with self._errors("vector lookup"):
                rows = self.client.query(
                    self.collection,
                    filter=_ids_filter(ids[a : a + BATCH]),
                    output_fields=["id", "vector"],
                )
            for row in rows:
                out[pos[int(row["id"])]] = row["vector"]
                found += 1
        if found < len(pos):
            raise KeyError(f"{len(pos) - found} requested rows are not in {self.collection!r}")
        return out

    def all_vectors(self) -> np.ndarray:
        """Every stored vector, in row order (rows 0..n-1 of a fresh build)."""
        return self.reconstruct(np.arange(len(self), dtype=np.int64))

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """pymilvus exceptions as :class:`StoreError`, naming the collection."""
        try:
            yield
        except Exception as exc:
            raise StoreError(
                f"Milvus {what} in collection {self.collection!r} failed "
                f"({type(exc).__name__}: {str(exc)[:200]}); the index may have been rebuilt "
                "by another process, or the server is down"
            ) from None

    def rows(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Stored metadata of some rows (for checks that nothing was lost in transit)."""
        return self.client.query(
            self.collection, filter=_ids_filter(ids), output_fields=["id", *FIELDS]
        )


def _schema(client: Any, dim: int, full_text: bool) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=128)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("source", DataType.VARCHAR, max_length=2048)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    if full_text:
        add_bm25(schema)
    return schema


def _index_params(index_type: str, n: int, hnsw_m: int, nlist: int) -> dict[str, Any]:
    if index_type == "HNSW":
        return {"M": hnsw_m, "efConstruction": max(40, 2 * hnsw_m)}
    if index_type.startswith("IVF"):
        return {"nlist": nlist or max(1, min(int(4 * math.sqrt(max(n, 1))), 65536))}
    return {}


def _search_params(index_type: str, ef_search: int, nprobe: int) -> dict[str, Any]:
    params: dict[str, Any] = {"metric_type": "IP"}
    if index_type == "HNSW":
        params["params"] = {"ef": ef_search}
    elif index_type.startswith("IVF"):
        params["params"] = {"nprobe": nprobe}
    return params


def _filter(sources: Collection[str] | None) -> dict[str, str]:
    if sources is None:
        return {}
    return {"filter": f"source in [{', '.join(_quote(s) for s in sources)}]"}


def _ids_filter(ids: Sequence[int] | np.ndarray) -> str:
    return f"id in [{', '.join(str(int(i)) for i in ids)}]"


def _ranked(res: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Milvus search results as FAISS-shaped (scores, ids) arrays, padded with id -1."""
    scores = np.full((len(res), k), -np.inf, dtype=np.float32)
    ids = np.full((len(res), k), -1, dtype=np.int64)
    for r, hits in enumerate(res):
        for j, hit in enumerate(list(hits)[:k]):
            scores[r, j] = hit["distance"]
            ids[r, j] = hit["id"]
    return scores, ids


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
