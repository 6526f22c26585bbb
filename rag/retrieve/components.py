"""Load the shared components once: embedder, index, retriever."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.config import Config
from rag.embed.encoder import Embedder
from rag.retrieve.retriever import Retriever
from rag.retrieve.routing import ENGLISH, RoutedRetriever, make_retriever
from rag.store.build import open_index
from rag.store.index import Index


@dataclass
class Components:
    """What every front end needs: the config, the model, the index and a retriever."""

    config: Config
    embedder: Embedder
    index: Index
    retriever: Retriever


def load_components(
    config: Config, *, warn: Callable[[str], None] | None = None, progress: bool = False
) -> Components:
    """Open (building or updating if needed) the index and wire a retriever to it.

    When the corpus holds documents in other languages than English, the multilingual
    index is opened (built) now as well: every question needs it then, and building it at
    the first question would make that one wait (see :mod:`rag.retrieve.routing`).
    """
    embedder = Embedder(
        config.embedding_model,
        batch_size=config.embed_batch_size,
        cache_size=config.query_cache_size,
        backend=config.embed_backend,
    )
    index = open_index(config, embedder, warn=warn, progress=progress)
    retriever = make_retriever(index, embedder, config, warn=warn)
    routed = isinstance(retriever, RoutedRetriever) and retriever.route is not None
    if routed and set(retriever.languages) - {ENGLISH}:
        retriever.route.retriever(index)
    return Components(config, embedder, index, retriever)
