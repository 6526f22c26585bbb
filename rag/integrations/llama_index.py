"""LlamaIndex components over this assistant, for people building their own LlamaIndex apps.

    from rag import Assistant
    from rag.integrations.llama_index import RagRetriever, RagQueryEngine

    bot = Assistant.from_config()
    nodes = RagRetriever(bot, k=5).retrieve("How many hotline calls were made in 2025?")
    nodes[0].node.metadata["source"], nodes[0].node.start_char_idx   # exact offsets
    response = RagQueryEngine(bot).query("How many hotline calls were made in 2025?")
    response.source_nodes   # the verified citations: minimal spans, not whole chunks

Both keep this project's guarantees: a node's text is the file's text between its
``start_char_idx`` and ``end_char_idx``, and the query engine's sources are the
citations that verification kept (an abstention has none).
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.types import Answer, Citation, Hit


def hit_node(hit: Hit) -> NodeWithScore:
    """A retrieved passage as a LlamaIndex node with its exact offsets."""
    c = hit.chunk
    node = TextNode(
        id_=c.chunk_id,
        text=c.text,
        start_char_idx=c.start,
        end_char_idx=c.end,
        metadata={"source": c.source, "doc_title": c.doc_title, "start": c.start, "end": c.end},
    )
    return NodeWithScore(node=node, score=float(hit.score))


def citation_node(c: Citation) -> NodeWithScore:
    """A verified citation as a node: the minimal supporting span, with its number."""
    node = TextNode(
        id_=f"{c.chunk_id or c.source}#{c.start}-{c.end}",
        text=c.quote,
        start_char_idx=c.start,
        end_char_idx=c.end,
        metadata={
            "n": c.n,
            "source": c.source,
            "doc_title": c.doc_title,
            "start": c.start,
            "end": c.end,
        },
    )
    return NodeWithScore(node=node, score=float(c.score))


class RagRetriever(BaseRetriever):
    """Hybrid (dense + BM25) retrieval from the assistant's index."""

    def __init__(self, assistant: Any, k: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._assistant = assistant
        self._k = k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._assistant.search(query_bundle.query_str, self._k)
        return [hit_node(h) for h in result.hits]


class RagQueryEngine(CustomQueryEngine):
    """The whole answer chain: a :class:`Response` whose ``source_nodes`` are the citations."""

    assistant: Any
    settings: dict[str, Any] = {}

    def custom_query(self, query_str: str) -> Response:
        answer: Answer = self.assistant.ask(query_str, **self.settings)
        return Response(
            response=answer.answer,
            source_nodes=[citation_node(c) for c in answer.citations],
            metadata={
                "abstained": answer.abstained,
                "backend": answer.backend,
                "standalone_question": answer.standalone_question,
                "notes": list(answer.notes),
            },
        )
