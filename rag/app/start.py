"""Start the page: ``python app.py`` (see :func:`main`) or :func:`launch` from a test."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from rag import prompts
from rag.app import assets
from rag.app import auth as app_auth
from rag.app.engine import Engine, warn
from rag.app.page import build
from rag.config import Config
from rag.errors import RagError
from rag.server.limits import FloodGuard
from rag.server.routes import check_exposure

MAX_QUEUE = 64  # requests waiting at most; more are refused at once ("queue full")


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    prevent_thread_lock: bool = False,
    concurrency: int = 8,
    max_upload_mb: int | None = None,
    max_queue: int = MAX_QUEUE,
    trusted_proxies: str | None = None,
) -> Any:
    """Start the server with the queue on (``concurrency`` requests at a time, at most
    ``max_queue`` waiting: a flood beyond that is refused at once, not queued for minutes).

    ``max_upload_mb`` makes Gradio refuse larger files while they are being
    received, before they reach its cache folder (the app checks again on add).
    With users configured (``build``'s ``access``), a login is required and failed logins
    are throttled per address (:class:`rag.app.auth.LoginGuard`). ``trusted_proxies``
    (``RAG_TRUSTED_PROXIES``; None: uvicorn's default, loopback) are the proxies whose
    ``X-Forwarded-For`` names the client address the limits count; others' is ignored.
    """
    if trusted_proxies is not None:  # uvicorn reads it when the server starts
        os.environ["FORWARDED_ALLOW_IPS"] = trusted_proxies
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    limits = getattr(demo, "rag_limits", None)
    guard = (
        [Middleware(FloodGuard, limiter=limits.requests, files=limits.files)]
        if limits is not None
        else []
    )
    access = getattr(demo, "rag_access", None)
    accounts = access is not None and access.accounts
    if accounts:
        guard.append(Middleware(app_auth.LoginGuard, access=access))
    app_kwargs: dict[str, Any] = {"middleware": guard}
    services = getattr(demo, "rag_services", None)
    if services is not None:  # /v1 (OpenAI-compatible) and /mcp beside the page
        app_kwargs["routes"], app_kwargs["lifespan"] = services
    return demo.launch(
        app_kwargs=app_kwargs,
        auth=access.login if accounts else None,
        auth_message=prompts.LOGIN_MESSAGE if accounts else None,
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=prevent_thread_lock,
        css=assets.CSS,
        footer_links=["api"],
        show_error=True,
        max_file_size=f"{max_upload_mb}mb" if max_upload_mb else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The chat app over the indexed articles.")
    parser.add_argument(
        "--host",
        default=os.environ.get("RAG_HOST", "127.0.0.1"),
        help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("RAG_PORT", "7860")),
        help="port (default 7860)",
    )
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve beyond 127.0.0.1 (or --share) with no accounts: anyone may use it",
    )
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
        # before anything loads: no open app on a network by accident
        check_exposure(
            config, "a public --share link" if args.share else args.host, no_auth=args.no_auth
        )
    except RagError as exc:
        warn(str(exc))
        return 2
    engine = Engine(config)
    demo = build(engine)
    # Serve the page first, then load the model and index (the page says when ready).
    launch(
        demo,
        host=args.host,
        port=args.port,
        share=args.share,
        prevent_thread_lock=True,
        max_upload_mb=config.max_upload_mb,
        trusted_proxies=config.trusted_proxies,
    )
    engine.start()
    demo.block_thread()  # until Ctrl+C
    return 0
