"""The stock LlamaIndex baseline: ``VectorStoreIndex`` over ``FaissVectorStore``, defaults."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.bench.measure import env_flag, log, quiet
from rag.config import Config


class Stock:
    """A stock LlamaIndex pipeline: VectorStoreIndex over FaissVectorStore, defaults."""

    def __init__(self, model_folder: str, k: int) -> None:
        with quiet():
            from llama_index.core import Settings
            from llama_index.embeddings.huggingface import HuggingFaceEmbedding
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            Settings.llm = None  # MockLLM: nothing may reach for an OpenAI key
            self.embed_model = HuggingFaceEmbedding(model_name=model_folder)
            Settings.embed_model = self.embed_model
        self.k = k
        self.index: Any = None
        self.retriever: Any = None
        self.engine: Any = None
        self.vector_store: Any = None

    def build(
        self, texts: Sequence[str], ids: Sequence[str], embeddings: np.ndarray | None = None
    ) -> float:
        """Index nodes (embedding them unless ``embeddings`` is given); seconds taken."""
        import faiss
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.schema import TextNode
        from llama_index.vector_stores.faiss import FaissVectorStore

        t0 = time.perf_counter()
        nodes = [
            TextNode(
                text=t,
                id_=i,
                embedding=None if embeddings is None else embeddings[j].tolist(),
            )
            for j, (t, i) in enumerate(zip(texts, ids, strict=True))
        ]
        dim = len(self.embed_model.get_text_embedding("dimension probe"))
        self.vector_store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(dim))
        ctx = StorageContext.from_defaults(vector_store=self.vector_store)
        with quiet():
            self.index = VectorStoreIndex(nodes, storage_context=ctx, embed_model=self.embed_model)
            self.retriever = self.index.as_retriever(similarity_top_k=self.k)
            self.engine = self.index.as_query_engine(similarity_top_k=self.k)
        return time.perf_counter() - t0

    def embed(self, q: str) -> list[float]:
        return self.embed_model.get_query_embedding(q)

    def dense(self, qvec: list[float]) -> Any:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        return self.vector_store.query(
            VectorStoreQuery(query_embedding=qvec, similarity_top_k=self.k)
        )

    def retrieve(self, q: str) -> Any:
        return self.retriever.retrieve(q)

    def answer(self, q: str) -> Any:
        with quiet():
            return self.engine.query(q)


def make_stock(config: Config, k: int) -> Stock | None:
    if not env_flag("RAG_BENCH_STOCK"):
        return None
    from rag.embed.models import resolve_model

    try:
        return Stock(resolve_model(config.embedding_model), k)
    except ImportError as exc:
        log(f"stock LlamaIndex baseline skipped: {exc}")
        return None
