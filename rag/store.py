"""The vector store: what it is (:class:`VectorStore`) and the FAISS implementation.

Vectors are addressed by their row in the chunk table (0..n-1). The FAISS store
uses exact inner-product search (``IndexFlatIP``; vectors are L2-normalised, so this
is cosine similarity) by default, and an approximate index (HNSW or IVF) when
configured or when the corpus passes ``approx_threshold`` chunks.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import IndexCorruptError


class VectorStore(Protocol):
    """Dense vectors addressed by row id, searched by inner product."""

    @property
    def dim(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row; missing results have id -1."""
        ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors for ``ids`` (used for scores of lexical-only hits and re-use)."""
        ...

    def save(self, path: Path) -> None: ...


def choose_index_type(requested: str, n: int, threshold: int) -> str:
    """Resolve ``"auto"``: exact search below ``threshold`` vectors, HNSW above."""
    if requested != "auto":
        return requested
    return "hnsw" if n >= threshold else "flat"


class FaissStore:
    """A FAISS index over row ids 0..n-1."""

    def __init__(self, index: object, kind: str) -> None:
        self.index = index
        self._kind = kind

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        kind: str = "flat",
        *,
        hnsw_m: int = 32,
        hnsw_ef_search: int = 128,
        ivf_nlist: int = 0,
        ivf_nprobe: int = 16,
    ) -> FaissStore:
        """Index ``vectors`` (float32, normalised) with the given index kind."""
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
        if n:
            index.add(vectors)
        return cls(index, kind)

    @classmethod
    def load(
        cls,
        path: Path,
        kind: str,
        *,
        expected: int,
        dim: int,
        ef_search: int = 128,
        nprobe: int = 16,
    ) -> FaissStore:
        """Read a saved index; flat indexes are memory-mapped. Checks count and dimension."""
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
        return cls(index, kind)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def kind(self) -> str:
        return self._kind

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if len(q) < _FEW_QUERIES:
            with _omp_threads(1):
                return self.index.search(q, k)
        return self.index.search(q, k)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        if self._kind == "ivf" and self.index.direct_map.type == 0:  # NoMap
            self.index.make_direct_map()
        try:  # one call into FAISS, not one per row
            return self.index.reconstruct_batch(ids)
        except RuntimeError:  # pragma: no cover - index types without batch reconstruction
            return np.vstack([self.index.reconstruct(int(i)) for i in ids])

    def all_vectors(self) -> np.ndarray:
        """Every stored vector, in row order."""
        return self.reconstruct(np.arange(len(self)))

    def save(self, path: Path) -> None:
        """Write atomically: a temp file in the same folder, then rename."""
        import faiss

        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_index(self.index, str(tmp))
        _fsync_file(tmp)
        os.replace(tmp, path)


_FEW_QUERIES = 20  # FAISS's own BLAS threshold: below it, searches are scalar loops


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
