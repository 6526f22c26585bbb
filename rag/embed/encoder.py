"""Sentence-transformers embeddings, loaded offline, with a fast ONNX Runtime encoder.

The configured model may be a packaged model name, a local folder, or a hub name that
is already in the local cache (:mod:`rag.embed.models`); nothing is downloaded.

Backends (``RAG_EMBED_BACKEND``, or ``Embedder(..., backend=...)``), all computing
mean-pooled, L2-normalised embeddings of the same model:

* ``onnx`` (what ``auto``, the default, picks when onnxruntime is installed and the
  model is a local sentence-transformers folder with mean pooling): the model exported
  once from its local folder to ONNX and graph-fused (attention, LayerNorm, GELU), run
  by ONNX Runtime with the ``tokenizers`` library. The same numbers as PyTorch (to
  float rounding), without importing torch: queries embed 2-3x faster and
  ``rag ask`` answers in about a second from process start.
* ``onnx-int8``: the same graph with int8 weights (per channel). About twice as fast
  again, for bulk ingest; embeddings stay within ~1% (cosine >= 0.99) of PyTorch, but
  the activations are quantised per batch, so near-ties in rankings can flip.
* ``onnx-qdq``: static int8 (QDQ): activation ranges calibrated once on dev-split
  texts, the feed-forward output layers and attention scores kept in fp32. Closer to
  fp32 than ``onnx-int8`` (cosine ~0.99 vs ~0.98 on held-out text), made on first use.
* ``torch``: sentence-transformers on PyTorch (the reference; ``auto`` falls back to it).

The ONNX export and its encoder are in :mod:`rag.embed.onnx`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.embed.models import load_sentence_transformer, model_prompts, resolve_model
from rag.embed.onnx import OnnxEncoder, lower_thread_priority
from rag.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Progress = bool | Callable[[int, int], None]  # a bar, or a (done, total) callback
BACKENDS = ("auto", "onnx", "onnx-int8", "onnx-qdq", "torch")
__all__ = ["BACKENDS", "Embedder", "Progress", "lower_thread_priority"]


class Embedder:
    """Normalised sentence embeddings with batching and a query cache.

    ``encode_documents`` is for indexing (batched, optional progress bar);
    ``encode_query`` is for the hot path (LRU-cached, thread-safe).
    ``backend`` is ``auto``, ``onnx`` or ``torch`` (default: ``RAG_EMBED_BACKEND`` or auto).
    """

    def __init__(
        self,
        model_name: str,
        *,
        batch_size: int = 64,
        cache_size: int = 1024,
        backend: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()  # encode_many's cache
        self._text_cache_size = max(0, 16 * cache_size)
        self._lock = threading.Lock()
        self._model: SentenceTransformer | None = None
        requested = (backend or os.environ.get("RAG_EMBED_BACKEND") or "auto").strip().lower()
        if requested not in BACKENDS:
            raise ModelLoadError(
                f"embedding backend must be one of {', '.join(BACKENDS)}, not {requested!r} "
                "(RAG_EMBED_BACKEND)"
            )
        self.requested_backend = requested
        self._onnx: OnnxEncoder | None = None
        self._backend: str | None = None
        self.backend_note = ""  # why auto fell back to torch, if it did
        self._prompts: tuple[str, str] | None = None  # (query, passage) prefixes

    @property
    def prompts(self) -> tuple[str, str]:
        """The model's (query, passage) prefixes, e.g. e5's ``query: ``; ``("", "")`` if none."""
        if self._prompts is None:
            self._prompts = model_prompts(resolve_model(self.model_name))
        return self._prompts

    @property
    def backend(self) -> str:
        """The backend in use, ``onnx`` or ``torch`` (resolving ``auto`` loads the encoder)."""
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._resolve_backend()
        return self._backend

    def _resolve_backend(self) -> str:
        if self.requested_backend == "torch":
            return "torch"
        precision = {"onnx-int8": "int8", "onnx-qdq": "qdq"}.get(self.requested_backend, "fp32")
        try:
            self._onnx = OnnxEncoder.for_model(self.model_name, precision=precision)
            return self.requested_backend if precision != "fp32" else "onnx"
        except ModelLoadError as exc:
            if self.requested_backend != "auto":
                raise
            self.backend_note = str(exc)
            return "torch"

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers (PyTorch) model, loaded on first use."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_sentence_transformer(self.model_name)
        return self._model

    @property
    def dim(self) -> int:
        if self.backend != "torch":
            assert self._onnx is not None
            return self._onnx.dim
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def warm_up(self) -> None:
        """Load the model and run it once per session the calling thread will use (the
        single-text query session and the batch session of this thread's priority), so
        that a server's first question does not pay ~1 s of session set-up and first runs."""
        self.encode_query("warm-up")
        self.encode_documents(["warm-up", "A warm-up passage, a sentence or two long. " * 4])

    def encode_documents(self, texts: Sequence[str], *, progress: Progress = False) -> np.ndarray:
        """Embed many texts: float32, L2-normalised, shape (len(texts), dim).

        A model with a passage prompt (e5's ``passage: ``) gets it before each text.
        ``progress``: True for a progress bar, or a callable given (texts done, total)
        after each batch (the app's status line shows it as a percentage).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        passage = self.prompts[1]
        return self._encode([passage + t for t in texts] if passage else texts, progress=progress)

    def _encode(
        self, texts: Sequence[str], *, progress: Progress = False, single: bool = False
    ) -> np.ndarray:
        if self.backend != "torch":
            assert self._onnx is not None
            if single:
                return self._onnx.encode(texts, single=True)
            return self._onnx.encode(texts, batch_size=self.batch_size, progress=progress)
        if callable(progress):  # in slices, reporting after each
            step = self.batch_size * 4
            parts = []
            for s in range(0, len(texts), step):
                parts.append(self._encode(texts[s : s + step]))
                progress(min(len(texts), s + step), len(texts))
            return np.concatenate(parts)
        vecs = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query (cached): float32, L2-normalised, shape (dim,).

        A model with a query prompt (e5's ``query: ``) gets it before the text.
        """
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self._encode([self.prompts[0] + text], single=True)[0]
        vec.setflags(write=False)
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    def encode_many(self, texts: Sequence[str]) -> np.ndarray:
        """Embed short texts (sentences of retrieved passages, claims), LRU-cached per text.

        The answer chain embeds the sentences of the passages it retrieved; passages
        recur across questions, so their sentences are embedded once per process.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            found = {t: v for t in dict.fromkeys(texts) if (v := self._texts.get(t)) is not None}
            for t in found:
                self._texts.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vecs = self.encode_documents(missing)
            vecs.setflags(write=False)
            new = dict(zip(missing, vecs, strict=True))
            found.update(new)
            with self._lock:
                self._texts.update(new)
                while len(self._texts) > self._text_cache_size:
                    self._texts.popitem(last=False)
        return np.vstack([found[t] for t in texts])

    def prefetch(self, texts: Sequence[str], stop: Callable[[], bool] | None = None) -> int:
        """Embed into :meth:`encode_many`'s cache the texts not yet in it, a batch at a
        time (``stop()`` is asked between batches), at most half the cache's capacity so
        that what questions use is not pushed out. For a background thread: the answer
        chain's sentences then cost nothing on a question (100-600 ms when a fresh
        question's sentences are embedded on 2 busy cores). Returns how many it embedded."""
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._texts]
        todo = todo[: max(0, self._text_cache_size // 2 - len(self._texts))]
        step = max(1, self.batch_size)
        for s in range(0, len(todo), step):
            if stop is not None and stop():
                return s
            self.encode_many(todo[s : s + step])
        return len(todo)

    def has_room(self) -> bool:
        """Whether :meth:`prefetch` may still add to the sentence cache."""
        with self._lock:
            return len(self._texts) < self._text_cache_size // 2

    def clear_cache(self, *, queries: bool = True, texts: bool = True) -> None:
        """Forget cached query and/or sentence embeddings (benchmarks measure encoding)."""
        with self._lock:
            if queries:
                self._cache.clear()
            if texts:
                self._texts.clear()
