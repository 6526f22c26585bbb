"""rag: answers questions from a document collection, with citations you can check.

The public API::

    from rag import Assistant, Config
    bot = Assistant.from_config(Config.from_env())
    answer = bot.ask("How many hotline calls did the two border forces make in 2025?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.errors import RagError
from rag.types import Answer, Chunk, Citation, Document, Hit

if TYPE_CHECKING:
    from rag.answer.assistant import Assistant

__all__ = ["Answer", "Assistant", "Chunk", "Citation", "Config", "Document", "Hit", "RagError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Import the answer chain lazily: `rag --help` should not load torch.
    if name == "Assistant":
        from rag.answer.assistant import Assistant

        return Assistant
    raise AttributeError(name)
