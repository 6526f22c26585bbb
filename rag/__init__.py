"""rag: answers questions from a document collection, with citations you can check.

The public API::

    from rag import Assistant, Config
    bot = Assistant.from_config(Config.from_env())
    answer = bot.ask("How many hotline calls did the two border forces make in 2025?")

Exported here: :class:`Assistant` (the answer chain), :class:`Config`, the records that
pass between stages (:class:`Document`, :class:`Chunk`, :class:`Hit`, :class:`Citation`,
:class:`Answer`), the store interface (:class:`VectorStore`, :class:`RowMeta`) and
:class:`RagError`. Everything else (``rag.ingest``, ``rag.embed``, ``rag.store``,
``rag.retrieve``, ``rag.answer``, ``rag.evaluation``, ``rag.bench``, ``rag.app``,
``rag.server``) is internal and may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.errors import RagError
from rag.types import Answer, Chunk, Citation, Document, Hit

if TYPE_CHECKING:
    from rag.answer.assistant import Assistant
    from rag.store.base import RowMeta, VectorStore

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Config",
    "Document",
    "Hit",
    "RagError",
    "RowMeta",
    "VectorStore",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Import the answer chain and the store lazily: `rag --help` should not load torch.
    if name == "Assistant":
        from rag.answer.assistant import Assistant

        return Assistant
    if name in ("RowMeta", "VectorStore"):
        from rag.store import base

        return getattr(base, name)
    raise AttributeError(name)
