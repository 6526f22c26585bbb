"""``rag serve``: the assistant over HTTP without the UI (OpenAI-compatible API and MCP).

    rag serve --port 8000
    # OpenAI-compatible: http://127.0.0.1:8000/v1  (models: rag, rag-extractive, ...)
    # MCP (Streamable HTTP): http://127.0.0.1:8000/mcp  (tools: search, ask)

The model and index load once before the port opens. It binds 127.0.0.1 unless told
otherwise; per-client rate limits are the app's (``RAG_RATE_LIMIT_PER_MINUTE``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from rag.config import Config
from rag.server.accounts import UserStore
from rag.server.limits import RateLimiter
from rag.server.openai_api import ApiError, bearer_role


def service_routes(assistant: Callable[[], Any], config: Config) -> tuple[list[Any], Any]:
    """The ``/v1`` (OpenAI-compatible) and ``/mcp`` routes over ``assistant()``, and the
    lifespan the MCP part needs, for any Starlette app: ``rag serve``'s own and the Gradio
    app's (``app.py`` passes them to Gradio as ``app_kwargs``)."""
    from starlette.routing import Route

    from rag.server.mcp import build_server
    from rag.server.openai_api import router

    limiter = RateLimiter.from_config(config)
    users = UserStore(config.users_path)

    def check_rate(request: Any) -> None:
        address = request.client.host if request.client else "unknown"
        limiter.check(f"api:{address}")

    api = router(
        assistant,
        default_backend=config.backend,
        enabled=config.enabled_backends(),
        max_question_chars=config.max_question_chars,
        check_rate=check_rate if limiter else None,
        users=users,
    )
    mcp = build_server(assistant).streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True
    )
    routes = [*api.routes]
    routes += [Route(r.path, endpoint=KeyRequired(r.endpoint, users)) for r in mcp.routes]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with mcp.router.lifespan_context(mcp):  # the MCP session manager
            yield

    return routes, lifespan


def create_app(assistant: Any, config: Config) -> Any:
    """A FastAPI app serving ``/v1`` (OpenAI-compatible) and ``/mcp`` for ``assistant``."""
    from fastapi import FastAPI

    routes, lifespan = service_routes(lambda: assistant, config)
    return FastAPI(title="rag", routes=routes, lifespan=lifespan)


class KeyRequired:
    """ASGI wrapper: with users configured, a request needs a valid API key (else 401)."""

    def __init__(self, app: Any, users: UserStore) -> None:
        self.app, self.users = app, users

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from starlette.responses import JSONResponse

            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                bearer_role(self.users, headers.get("authorization", ""))
            except ApiError as exc:
                await JSONResponse(exc.body(), status_code=exc.status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def check_exposure(config: Config, host: str, *, no_auth: bool = False) -> None:
    """Refuse to serve beyond this machine with no accounts, unless told ``--no-auth``."""
    from rag.errors import ConfigError

    loopback = host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")
    if not loopback and not no_auth and not UserStore(config.users_path):
        raise ConfigError(
            f"refusing to serve on {host} with no accounts: anyone who can reach it could "
            "use it. Add a user (`rag users add NAME --role admin`) or pass --no-auth"
        )


def serve(config: Config, host: str, port: int, *, no_auth: bool = False) -> None:
    """Load the assistant, then serve it until interrupted."""
    import uvicorn

    from rag.answer.assistant import Assistant

    check_exposure(config, host, no_auth=no_auth)
    assistant = Assistant.from_config(config, warn=lambda m: print(f"rag: {m}"))
    print(f"rag: serving http://{host}:{port}/v1 (OpenAI-compatible) and /mcp (MCP)", flush=True)
    uvicorn.run(
        create_app(assistant, config),
        host=host,
        port=port,
        log_level="warning",
        forwarded_allow_ips=config.trusted_proxies,  # whose X-Forwarded-For names the client
    )
