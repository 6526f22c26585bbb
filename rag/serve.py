"""``rag serve``: the assistant over HTTP without the UI (OpenAI-compatible API and MCP).

    rag serve --port 8000
    # OpenAI-compatible: http://127.0.0.1:8000/v1  (models: rag, rag-extractive, ...)
    # MCP (Streamable HTTP): http://127.0.0.1:8000/mcp  (tools: search, ask)

The model and index load once before the port opens. It binds 127.0.0.1 unless told
otherwise; per-client rate limits are the app's (``RAG_RATE_LIMIT_PER_MINUTE``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from .config import Config
from .limits import RateLimiter


def enabled_backends(config: Config) -> list[str]:
    """The backends clients may pick: extractive plus the configured one."""
    return list(dict.fromkeys(["extractive", config.backend]))


def create_app(assistant: Any, config: Config) -> Any:
    """A FastAPI app serving ``/v1`` (OpenAI-compatible) and ``/mcp`` for ``assistant``."""
    from fastapi import FastAPI

    from .mcp_server import build_server
    from .openai_api import router

    limiter = RateLimiter.from_config(config)

    def check_rate(request: Any) -> None:
        address = request.client.host if request.client else "unknown"
        limiter.check(f"api:{address}")

    mcp = build_server(lambda: assistant).streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with mcp.router.lifespan_context(mcp):  # the MCP session manager
            yield

    app = FastAPI(title="rag", lifespan=lifespan)
    app.include_router(
        router(
            lambda: assistant,
            default_backend=config.backend,
            enabled=enabled_backends(config),
            max_question_chars=config.max_question_chars,
            check_rate=check_rate if limiter else None,
        )
    )
    app.mount("/", mcp)
    return app


def serve(config: Config, host: str, port: int) -> None:
    """Load the assistant, then serve it until interrupted."""
    import uvicorn

    from .answer import Assistant

    assistant = Assistant.from_config(config, warn=lambda m: print(f"rag: {m}"))
    print(f"rag: serving http://{host}:{port}/v1 (OpenAI-compatible) and /mcp (MCP)", flush=True)
    uvicorn.run(create_app(assistant, config), host=host, port=port, log_level="warning")
