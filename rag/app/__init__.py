"""The Gradio chat page: layout (:mod:`~rag.app.page`), events and API endpoints
(:mod:`~rag.app.handlers`), the background engine (:mod:`~rag.app.engine`), HTML
rendering, feedback, sign-in, and start-up (:mod:`~rag.app.start`).

``Engine``, ``build``, ``launch`` and ``main`` are imported lazily: importing
:mod:`rag.app.render` alone must not load Gradio.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Engine", "build", "launch", "main"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from rag.app.engine import Engine

        return Engine
    if name == "build":
        from rag.app.page import build

        return build
    if name in ("launch", "main"):
        import importlib

        return getattr(importlib.import_module("rag.app.start"), name)
    raise AttributeError(name)
