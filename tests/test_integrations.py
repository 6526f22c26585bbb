"""The assistant through the clients people already use: the ``openai`` SDK, LlamaIndex's
``OpenAILike``, the ``mcp`` client library, and LlamaIndex components.

A real HTTP server (``rag.server.routes.create_app`` under uvicorn on a free loopback port, or
``rag serve`` / ``rag mcp`` as subprocesses) over the session's seed index; nothing is
mocked. Every citation is checked against the document text.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from rag import prompts
from rag.answer.assistant import Assistant
from tests.conftest import rag_env
from tests.llm_server import free_port

openai = pytest.importorskip("openai")
HOTLINE_Q = "How many hotline calls did the border guards make in 2025?"
LETTERS_FOLLOW_UP = "And how many official letters did they exchange?"
SILENT_Q = "Who is the Prime Minister of China?"


def assert_exact(citations: list[dict], bot: Assistant) -> None:
    assert citations
    for c in citations:
        assert bot.document(c["source"]).text[c["start"] : c["end"]] == c["quote"]


class ThreadServer:
    """uvicorn serving an ASGI app in a thread on 127.0.0.1 (stopped on exit)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(assistant: Assistant) -> Iterator[str]:
    from rag.server.routes import create_app

    config = assistant.config.replace(rate_limit_per_minute=0)
    with ThreadServer(create_app(assistant, config)) as url:
        yield url


@pytest.fixture()
def client(base_url: str):
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def ask(client, messages: list[dict], **kw):
    return client.chat.completions.create(model="rag", messages=messages, **kw)


# ------------------------------------------------------------------ the openai SDK


def test_models_name_the_enabled_backends(client) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[:2] == ["rag", "rag-extractive"]


def test_chat_completion_answers_with_exact_citations(client, assistant) -> None:
    reply = ask(client, [{"role": "user", "content": HOTLINE_Q}])
    content = reply.choices[0].message.content
    assert "113 hotline calls" in content and "[1]" in content
    assert "**Sources**" in content and "seeds/" in content
    extra = reply.model_extra["rag"]
    assert extra["abstained"] is False and extra["backend"] == "extractive"
    assert_exact(extra["citations"], assistant)
    assert reply.choices[0].finish_reason == "stop"


def test_streaming_sends_the_same_answer_and_the_citations_last(client, assistant) -> None:
    plain = ask(client, [{"role": "user", "content": HOTLINE_Q}]).choices[0].message.content
    chunks = list(ask(client, [{"role": "user", "content": HOTLINE_Q}], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert_exact(last.model_extra["rag"]["citations"], assistant)
    assert all("rag" not in (c.model_extra or {}) for c in chunks[:-1])


def test_follow_up_uses_the_conversation(client) -> None:
    first = ask(client, [{"role": "user", "content": HOTLINE_Q}]).choices[0].message.content
    reply = ask(
        client,
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": HOTLINE_Q},
            {"role": "assistant", "content": first},
            {"role": "user", "content": LETTERS_FOLLOW_UP},
        ],
    )
    assert "679" in reply.choices[0].message.content
    assert reply.model_extra["rag"]["standalone_question"] != LETTERS_FOLLOW_UP


def test_unanswerable_question_abstains(client) -> None:
    reply = ask(client, [{"role": "user", "content": SILENT_Q}])
    assert reply.choices[0].message.content == prompts.NOT_IN_SOURCES.format(question=SILENT_Q)
    assert reply.model_extra["rag"]["abstained"] is True
    assert reply.model_extra["rag"]["citations"] == []


def test_errors_have_openai_shape_and_status(client, assistant) -> None:
    with pytest.raises(openai.BadRequestError, match="empty"):
        ask(client, [{"role": "user", "content": "   "}])
    too_long = "x" * (assistant.config.max_question_chars + 1)
    with pytest.raises(openai.BadRequestError, match="RAG_MAX_QUESTION_CHARS"):
        ask(client, [{"role": "user", "content": too_long}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        ask(client, [{"role": "assistant", "content": "hi"}])
    with pytest.raises(openai.NotFoundError, match="rag-extractive") as err:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "x"}])
    assert err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):  # not enabled on this server: not offered
        client.chat.completions.create(
            model="rag-openai", messages=[{"role": "user", "content": HOTLINE_Q}]
        )


def test_rate_limit_is_429(assistant) -> None:
    from rag.server.routes import create_app

    config = assistant.config.replace(rate_limit_per_minute=1, rate_limit_burst=1)
    with ThreadServer(create_app(assistant, config)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        ask(client, [{"role": "user", "content": HOTLINE_Q}])
        with pytest.raises(openai.RateLimitError):
            ask(client, [{"role": "user", "content": HOTLINE_Q}])


# ------------------------------------------------------------------ LlamaIndex


def test_llama_index_openai_like_chats_with_the_endpoint(base_url: str) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model="rag", api_base=f"{base_url}/v1", api_key="unused", is_chat_model=True)
    reply = llm.chat([ChatMessage(role="user", content=HOTLINE_Q)])
    assert "113" in reply.message.content


def test_llama_index_retriever_and_query_engine(assistant: Assistant) -> None:
    from llama_index.core.llms import MockLLM
    from llama_index.core.postprocessor import SimilarityPostprocessor
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.response_synthesizers.no_text import NoText

    from rag.integrations.llama_index import RagQueryEngine, RagRetriever

    retriever = RagRetriever(assistant, k=4)
    nodes = retriever.retrieve(HOTLINE_Q)
    assert len(nodes) == 4
    for n in nodes:
        text = assistant.document(n.node.metadata["source"]).text
        assert text[n.node.start_char_idx : n.node.end_char_idx] == n.node.text
    assert any("113 hotline calls" in n.node.text for n in nodes[:2])

    pipeline = RetrieverQueryEngine(  # a stock pipeline over our retriever
        retriever,
        # NoText synthesises nothing; LlamaIndex still wants an LLM object for it
        response_synthesizer=NoText(llm=MockLLM()),
        node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.0)],
    )
    assert [n.node.id_ for n in pipeline.query(HOTLINE_Q).source_nodes] == [
        n.node.id_ for n in nodes
    ]

    response = RagQueryEngine(assistant=assistant).query(HOTLINE_Q)
    assert "113" in str(response) and response.metadata["abstained"] is False
    assert response.source_nodes and all(
        len(s.node.text) < len(n.node.text) for s in response.source_nodes for n in nodes[:1]
    ), "citations are minimal spans, not chunks"
    for s in response.source_nodes:
        text = assistant.document(s.node.metadata["source"]).text
        assert text[s.node.start_char_idx : s.node.end_char_idx] == s.node.text
    silent = RagQueryEngine(assistant=assistant).query(SILENT_Q)
    assert silent.metadata["abstained"] is True and silent.source_nodes == []


# ------------------------------------------------------------------ MCP


def test_mcp_client_lists_the_tools_and_asks(base_url: str, assistant: Assistant) -> None:
    from mcp import Client

    async def run() -> tuple[set[str], dict, dict]:
        async with Client(f"{base_url}/mcp") as mcp:
            tools = {t.name: t for t in (await mcp.list_tools()).tools}
            answered = await mcp.call_tool("ask", {"question": HOTLINE_Q})
            found = await mcp.call_tool("search", {"query": "hotline calls", "k": 3})
        assert all(t.description for t in tools.values())
        return set(tools), answered.structured_content, found.structured_content

    names, answered, found = asyncio.run(run())
    assert names == {"search", "ask"}
    assert "113" in answered["answer"] and answered["abstained"] is False
    assert_exact(answered["citations"], assistant)
    assert len(found["passages"]) == 3
    for p in found["passages"]:
        assert assistant.document(p["source"]).text[p["start"] : p["end"]] == p["text"]


@pytest.mark.slow
def test_rag_mcp_over_stdio(seed_config, assistant: Assistant) -> None:
    """``rag mcp`` as an MCP client launches it: a subprocess speaking on stdin/stdout."""
    from mcp import Client, StdioServerParameters

    env = rag_env(seed_config.root)
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag", "mcp"], env=env)

    async def run() -> dict:
        async with Client(params, read_timeout_seconds=120) as mcp:
            assert {t.name for t in (await mcp.list_tools()).tools} == {"search", "ask"}
            return (await mcp.call_tool("ask", {"question": HOTLINE_Q})).structured_content

    answered = asyncio.run(run())
    assert "113" in answered["answer"]
    assert_exact(answered["citations"], assistant)


# ------------------------------------------------------------------ in the app process


@pytest.mark.slow
def test_the_gradio_app_serves_the_api_and_mcp_beside_the_page(assistant: Assistant) -> None:
    """``python app.py`` serves /v1 and /mcp from the same process and port as the page."""
    from mcp import Client

    from tests.test_app import load_app

    app = load_app()
    demo = app.build(app.Engine(assistant=assistant))
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}"
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = ask(client, [{"role": "user", "content": HOTLINE_Q}])
        assert "113" in reply.choices[0].message.content
        assert_exact(reply.model_extra["rag"]["citations"], assistant)

        async def tools() -> set[str]:
            async with Client(f"{url}/mcp") as mcp:
                return {t.name for t in (await mcp.list_tools()).tools}

        assert asyncio.run(tools()) == {"search", "ask"}
        import urllib.request

        with urllib.request.urlopen(f"{url}/", timeout=30) as page:  # the page still serves
            assert page.status == 200
    finally:
        demo.close()
