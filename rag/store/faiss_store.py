"""The FAISS implementation of :class:`rag.store.base.VectorStore`.

Vectors are addressed by their row in the chunk table (0..n-1). The FAISS store
uses exact inner-product search (``IndexFlatIP``; vectors are L2-normalised, so this
is cosine similarity) by default, and an approximate index (HNSW or IVF) when
configured or when the corpus passes ``approx_threshold`` chunks.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError
from rag.store.base import RowMeta


def bare_flat_index(vectors: np.ndarray) -> object:
    """A bare ``faiss.IndexFlatIP`` over ``vectors``: the floor benchmarks compare with (no
    row mapping, no filters; its ``search(queries, k)`` is FAISS's own)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def choose_index_type(requested: str, n: int, threshold: int) -> str:
    """Resolve ``"auto"``: exact search below ``threshold`` vectors, HNSW above."""
    if requested != "auto":
        return requested
    return "hnsw" if n >= threshold else "flat"


class FaissStore:
    """A FAISS index plus the row ids and document/source of each stored vector.

    FAISS labels are positions (0..ntotal-1, in insertion order); ``_row_ids`` maps them
    to row ids. The FAISS file holds the vectors only: the caller supplies the row
    metadata again when loading (the index keeps it in its chunk table). Deleted rows are
    tombstoned and skipped through a FAISS ID selector, the same way for flat, HNSW and
    IVF indexes (HNSW cannot remove vectors); :meth:`persist` writes the live rows only.
    """

    def __init__(self, index: object, kind: str, meta: RowMeta, row_ids: np.ndarray) -> None:
        if len(meta) != index.ntotal or len(row_ids) != index.ntotal:
            raise ValueError("one RowMeta entry and one row id per FAISS vector expected")
        self.index = index
        self._kind = kind
        self._row_ids = np.asarray(row_ids, dtype=np.int64)
        self._doc_ids = _objects(meta.doc_id)
        self._sources = _objects(meta.source)
        self._live = np.ones(index.ntotal, dtype=bool)
        self._deleted = 0
        self._positions: dict[int, int] | None = None  # row id -> position, unless identity
        self._mapped = False  # a read-only memory map: copied into memory before a write
        self._index_positions()

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        kind: str = "flat",
        *,
        meta: RowMeta | None = None,
        hnsw_m: int = 32,
        hnsw_ef_search: int = 128,
        ivf_nlist: int = 0,
        ivf_nprobe: int = 16,
    ) -> FaissStore:
        """Index ``vectors`` (float32, normalised) as rows 0..n-1 with the given index kind."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = max(40, 2 * hnsw_m)
            index.hnsw.efSearch = hnsw_ef_search
        elif kind == "ivf":
            nlist = ivf_nlist or max(1, int(4 * math.sqrt(max(n, 1))))
            nlist = min(nlist, max(1, n // 39))  # FAISS wants ~39 training points per list
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(_training_sample(vectors, nlist))
            index.nprobe = min(ivf_nprobe, nlist)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        store = cls(index, kind, RowMeta.empty(0), np.zeros(0, np.int64))
        if n:
            store.add(np.arange(n, dtype=np.int64), vectors, meta or RowMeta.empty(n))
        return store

    @classmethod
    def load(
        cls,
        path: Path,
        kind: str,
        *,
        expected: int,
        dim: int,
        meta: RowMeta | None = None,
        row_ids: np.ndarray | None = None,
        ef_search: int = 128,
        nprobe: int = 16,
    ) -> FaissStore:
        """Read a saved index; flat indexes are memory-mapped. Checks count and dimension.

        The file holds vectors only: ``meta`` and ``row_ids`` (default 0..n-1) describe its
        rows in storage order, as the caller kept them (the index: in its chunk table).
        """
        import faiss

        try:
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if kind == "flat" else 0
            index = faiss.read_index(str(path), flags)
        except Exception as exc:  # faiss raises RuntimeError with C++ text
            raise IndexCorruptError(
                f"{path} cannot be read as a FAISS index ({str(exc).splitlines()[0][:120]}); "
                "run `rag index --rebuild`"
            ) from None
        if index.ntotal != expected or index.d != dim:
            raise IndexCorruptError(
                f"{path} holds {index.ntotal} vectors of dimension {index.d}, the manifest expects "
                f"{expected} of dimension {dim}; run `rag index --rebuild`"
            )
        if kind == "hnsw":
            index.hnsw.efSearch = ef_search
        elif kind == "ivf":
            index.nprobe = nprobe
        n = int(index.ntotal)
        ids = np.arange(n, dtype=np.int64) if row_ids is None else row_ids
        store = cls(index, kind, meta or RowMeta.empty(n), ids)
        store._mapped = kind == "flat"
        return store

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def kind(self) -> str:
        return self._kind

    def __len__(self) -> int:
        return int(self.index.ntotal) - self._deleted

    # ------------------------------------------------------------------ writes

    def add(self, ids: np.ndarray, vectors: np.ndarray, meta: RowMeta) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not (len(ids) == len(vectors) == len(meta)):
            raise ValueError("ids, vectors and meta must have the same length")
        taken = np.isin(ids, self._row_ids[self._live])
        if taken.any() or len(np.unique(ids)) != len(ids):
            raise ValueError(f"row ids already stored or repeated: {ids[taken][:5].tolist()}")
        if self._mapped:
            import faiss

            self.index, self._mapped = faiss.clone_index(self.index), False
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._row_ids = np.concatenate([self._row_ids, ids])
        self._doc_ids = np.concatenate([self._doc_ids, _objects(meta.doc_id)])
        self._sources = np.concatenate([self._sources, _objects(meta.source)])
        self._live = np.concatenate([self._live, np.ones(len(ids), dtype=bool)])
        self._index_positions()

    def delete_document(self, doc_id: str) -> int:
        hit = (self._doc_ids == doc_id) & self._live
        n = int(hit.sum())
        self._live[hit] = False
        self._deleted += n
        return n

    def persist(self, path: Path) -> None:
        """Write the live vectors atomically (a temp file in the same folder, then rename).

        Their row ids and metadata are not in the file: see :meth:`load` and :meth:`row_ids`.
        """
        import faiss

        if self._deleted:
            self._compact()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_index(self.index, str(tmp))
        _fsync_file(tmp)
        os.replace(tmp, path)

    def close(self) -> None:
        """Nothing to release: a memory-mapped index is unmapped when collected."""

    # ------------------------------------------------------------------ reads

    def search(
        self, queries: np.ndarray, k: int, *, sources: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if sources is not None or self._deleted:
            allowed = (
                self._live
                if sources is None
                else self._live & np.isin(self._sources, list(sources))
            )
            return self._search_subset(q, k, np.flatnonzero(allowed))
        if len(self) == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        k = max(1, min(k, len(self)))
        if len(q) < _FEW_QUERIES:
            with _omp_threads(1):
                scores, pos = self.index.search(q, k)
        else:
            scores, pos = self.index.search(q, k)
        return scores, self._to_rows(pos)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        return self._vectors_at(self._to_positions(ids))

    def row_ids(self) -> np.ndarray:
        """The row id of every live vector, in storage order (what :meth:`persist` writes)."""
        return self._row_ids[self._live]

    def all_vectors(self) -> np.ndarray:
        """Every live vector, in storage order."""
        return self._vectors_at(np.flatnonzero(self._live))

    # ------------------------------------------------------------------ helpers

    def _search_subset(
        self, q: np.ndarray, k: int, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Search only ``positions``: exactly when they are few, else through FAISS's ID
        selector (approximate for HNSW/IVF, like an unfiltered search)."""
        k = max(1, min(k, len(positions))) if len(positions) else 0
        if k == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if len(positions) <= _EXACT_SUBSET:
            sims = q @ self._vectors_at(positions).T
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            return (
                np.take_along_axis(sims, order, axis=1).astype(np.float32),
                self._row_ids[positions[order]],
            )
        import faiss

        sel = faiss.IDSelectorBatch(positions.astype(np.int64))
        params = _search_params(self.index, self._kind, sel)
        scores, pos = self.index.search(q, k, params=params)
        return scores, self._to_rows(pos)

    def _to_rows(self, pos: np.ndarray) -> np.ndarray:
        if self._positions is None and not self._deleted:
            return pos
        return np.where(pos >= 0, self._row_ids[np.maximum(pos, 0)], -1)

    def _index_positions(self) -> None:
        """Row ids are usually positions (a fresh build); map them only when they are not."""
        n = len(self._row_ids)
        identity = bool(
            n == 0
            or (
                self._row_ids[0] == 0
                and np.array_equal(self._row_ids, np.arange(n, dtype=np.int64))
            )
        )
        self._positions = None if identity else {int(r): p for p, r in enumerate(self._row_ids)}

    def _to_positions(self, ids: np.ndarray) -> np.ndarray:
        if self._positions is None:
            if len(ids) and (ids.min() < 0 or ids.max() >= len(self._row_ids)):
                raise KeyError("a requested row is not in this store")
            return ids
        try:
            return np.array([self._positions[int(i)] for i in ids], dtype=np.int64)
        except KeyError as exc:
            raise KeyError(f"row {exc.args[0]} is not in this store") from None

    def _vectors_at(self, positions: np.ndarray) -> np.ndarray:
        if not len(positions):
            return np.zeros((0, self.dim), np.float32)
        if self._kind == "ivf" and self.index.direct_map.type == 0:  # NoMap
            self.index.make_direct_map()
        try:  # one call into FAISS, not one per row
            return self.index.reconstruct_batch(np.asarray(positions, dtype=np.int64))
        except RuntimeError:  # pragma: no cover - index types without batch reconstruction
            return np.vstack([self.index.reconstruct(int(i)) for i in positions])

    def _compact(self) -> None:
        """Rebuild the FAISS index from the live rows, keeping its type and training."""
        import faiss

        keep = np.flatnonzero(self._live)
        vectors = self._vectors_at(keep)
        index = faiss.clone_index(self.index)
        index.reset()
        if len(keep):
            index.add(vectors)
        self.index, self._mapped = index, False
        self._row_ids = self._row_ids[keep]
        self._doc_ids, self._sources = self._doc_ids[keep], self._sources[keep]
        self._live = np.ones(len(keep), dtype=bool)
        self._deleted = 0
        self._index_positions()


_FEW_QUERIES = 20  # FAISS's own BLAS threshold: below it, searches are scalar loops
_EXACT_SUBSET = 20_000  # a filtered search over at most this many rows is an exact scan


def _objects(values: Sequence[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _search_params(index: object, kind: str, sel: object) -> object:
    """Search parameters carrying an ID selector, of the type the index expects."""
    import faiss

    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=sel, efSearch=index.hnsw.efSearch)
    if kind == "ivf":
        return faiss.SearchParametersIVF(sel=sel, nprobe=index.nprobe)
    return faiss.SearchParameters(sel=sel)


@contextlib.contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """Run FAISS with ``n`` OpenMP threads in this thread, then restore the setting.

    A single query is a short serial scan; waking a second OpenMP thread for it costs
    more than it saves, and on a busy 2-core machine the team's barrier spins turned
    0.4 ms into 9 ms at 10k vectors (8.7 ms into 71 ms at 100k). The setting is OpenMP's
    per-thread ``nthreads-var``, so other threads (an index build) keep theirs.
    """
    import faiss

    prev = faiss.omp_get_max_threads()
    if prev == n:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


def _training_sample(vectors: np.ndarray, nlist: int, per_list: int = 64) -> np.ndarray:
    """At most ``per_list`` vectors per IVF list, drawn with a fixed seed.

    FAISS's own cap is 256 points per centroid; 64 is inside the range it recommends
    (39-256) and training time grows with the sample: at 1M vectors and 4,000 lists this
    trains on 256k vectors instead of all 1M (IVF build 86 s on 2 cores; recall@10
    0.964 at nprobe 32 in `rag bench --scale 1000000`).
    """
    n = len(vectors)
    if n <= per_list * nlist:
        return vectors
    rows = np.sort(np.random.default_rng(0).choice(n, per_list * nlist, replace=False))
    return np.ascontiguousarray(vectors[rows])


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
