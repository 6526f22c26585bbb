"""The assistant as MCP tools: ``search`` (passages with offsets) and ``ask`` (a verified answer).

Agents that speak the Model Context Protocol call these tools instead of scraping a
chat page. Served over Streamable HTTP at ``/mcp`` by ``rag serve`` and over stdio by
``rag mcp`` (the form desktop MCP clients launch); see the README, "Integrations".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag.server.openai_api import structured
from rag.types import Answer

INSTRUCTIONS = (
    "Answers questions from an indexed document collection. Call `ask` for an answer whose "
    "every claim carries a numbered citation to an exact passage (source file and character "
    "offsets); it says plainly when the documents do not hold the answer. Call `search` to "
    "see the ranked passages themselves."
)
MAX_K = 20


def answer_dict(answer: Answer) -> dict[str, Any]:
    """The parts of an :class:`Answer` a tool caller needs (as the chat API's ``rag`` field)."""
    return {"answer": answer.answer, **structured(answer)}


def build_server(assistant: Callable[[], Any]) -> Any:
    """An ``MCPServer`` whose tools call ``assistant()`` (the loaded Assistant)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name="rag", instructions=INSTRUCTIONS)

    @server.tool(
        description=(
            "Search the document collection. Returns the top-k passages for the query, best "
            "first, each with its source file, document title, start/end character offsets "
            "into the file's text, the passage text and its retrieval score."
        )
    )
    def search(query: str, k: int = 5) -> dict[str, Any]:
        result = assistant().search(query, max(1, min(int(k), MAX_K)))
        return {"query": query, "passages": [h.to_dict() for h in result.hits]}

    @server.tool(
        description=(
            "Ask a question about the documents. Returns a short answer whose claims carry "
            "[n] markers, the citations (n, source, start, end, quote: the exact text of the "
            "source at those offsets), and abstained=true when the documents do not answer "
            "it. For a follow-up, pass the earlier turns as history: a list of "
            '{"role": "user"|"assistant", "content": "..."} messages.'
        )
    )
    def ask(question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        return answer_dict(assistant().ask(question, history or []))

    return server
