"""The page's layout: the chat column (conversation, question box, rating, settings,
documents, admin panel), the sources column, the hidden API components, and the wiring
of their events to :class:`rag.app.handlers.Handlers`.

:func:`build` is the entry point; :func:`rag.app.start.launch` serves what it returns.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr

from rag.app import assets, render
from rag.app import auth as app_auth
from rag.app.engine import UPLOAD_WAIT_S, Engine
from rag.app.handlers import MAX_TOP_K, SCOPES, Handlers, enabled_backends
from rag.config import Config
from rag.ingest.readers import supported_suffixes
from rag.server.limits import RateLimiter, RequestLimits, setting
from rag.server.routes import service_routes

TITLE = "Ask the articles"
CACHE_SWEEP = (600, 1800)  # every 10 min, delete Gradio's temp uploads older than 30 min
PRIVATE: dict[str, Any] = {"api_visibility": "private"}  # page events are not API endpoints


def build(
    engine: Engine,
    limiter: RateLimiter | None = None,
    limits: RequestLimits | None = None,
    upload_wait_s: float | None = None,
    access: app_auth.Access | None = None,
) -> gr.Blocks:
    """The page and its API. ``engine`` holds the (possibly still loading) assistant;
    ``limiter`` caps questions per session (default: from the config's rate limit), and
    ``limits`` every request per session and client address (default: derived from
    ``limiter``, see :class:`~rag.server.limits.RequestLimits`); an upload request waits for
    its indexing ``upload_wait_s`` at most (default ``RAG_UPLOAD_WAIT_S``, 60 s).
    ``access`` decides who may do what (default: from the config's users file; see
    :mod:`rag.app.auth`): every event checks the caller's role on the server."""
    cfg = engine.config
    access = access if access is not None else app_auth.Access(cfg)
    if limits is None:
        limits = (
            RequestLimits.around(limiter, cfg)
            if limiter is not None
            else RequestLimits.from_config(cfg)
        )
    if upload_wait_s is None:
        upload_wait_s = float(setting(cfg, "upload_wait_s", UPLOAD_WAIT_S))
    h = Handlers(engine, access, limits, upload_wait_s)
    with gr.Blocks(title=TITLE, delete_cache=CACHE_SWEEP) as demo:
        c = SimpleNamespace(turns=gr.State([]), failed=gr.State([]), rated=gr.State(None))
        # failed: questions that got an error, kept on screen; rated: the answer being rated
        gr.Markdown(
            f"## {TITLE}\nAnswers come only from the indexed news articles, with a "
            "numbered citation for every claim. Click a **[n]** marker to check the quote."
        )
        c.status = gr.Markdown("Loading the model and index…", elem_id="rag-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                _chat_panel(c, cfg)
                _settings_panel(c, cfg)
                _narrow_panel(c)
                _documents_panel(c)
                app_auth.admin_panel(demo, access, c.backend, enabled_backends(cfg))
            with gr.Column(scale=2, min_width=340):
                _sources_panel(c)
        c.bridge = gr.HTML("", js_on_load=assets.CLICK_JS, visible="hidden", elem_id="rag-bridge")
        api = _api_components(cfg)
        _wire_page(demo, h, c)
        _wire_api(h, api)
    demo.rag_limits = limits  # type: ignore[attr-defined]  # for launch()'s FloodGuard
    demo.rag_access = access  # type: ignore[attr-defined]  # for launch()'s login
    demo.rag_services = service_routes(engine.loaded, cfg)  # type: ignore[attr-defined]
    return demo


def _chat_panel(c: SimpleNamespace, cfg: Config) -> None:
    """The conversation, the question box, the examples, and rating an answer."""
    c.chatbot = gr.Chatbot(
        label="Conversation",
        elem_id="rag-chat",
        height=520,
        render_markdown=False,
        sanitize_html=True,
        buttons=["copy"],
        feedback_options=("Like", "Dislike"),
        placeholder="Ask a question about the articles, or pick an example below.",
    )
    c.question = gr.Textbox(
        placeholder="Ask a question… (Enter to send)",
        show_label=False,
        lines=1,
        max_lines=4,
        autofocus=True,
        submit_btn="Send",
        elem_id="rag-question",
    )
    c.examples = gr.Examples(
        cfg.examples or [""],
        inputs=[c.question],
        label="Example questions",
        api_visibility="private",
        visible=bool(cfg.examples),
    )
    with gr.Row():
        c.clear_btn = gr.Button("Clear chat", size="sm", variant="secondary")
    with gr.Accordion("Rate an answer", open=False):
        c.rate_status = gr.Markdown(
            "Use 👍 / 👎 under an answer; it is saved with the question, the answer "
            "and its citations. Then add a comment here if you like."
        )
        c.comment_box = gr.Textbox(label="Comment (optional)", lines=2)
        c.comment_btn = gr.Button("Save comment", size="sm")


def _settings_panel(c: SimpleNamespace, cfg: Config) -> None:
    """Backend, top-k and hybrid retrieval, bounded again on the server per request."""
    enabled = enabled_backends(cfg)
    with gr.Accordion("Settings", open=False):
        c.backend = gr.Radio(
            enabled,
            value=next(iter({cfg.backend} & {*enabled}), "extractive"),
            label="Answer backend",
            info="extractive: quotes sentences; llamacpp/openai: a generative model",
        )
        c.top_k = gr.Slider(
            1,
            MAX_TOP_K,
            value=cfg.k,
            step=1,
            label="Passages to retrieve (top-k)",
            elem_id="rag-topk",
        )
        c.hybrid = gr.Checkbox(
            value=cfg.hybrid,
            label="Hybrid retrieval (dense + BM25 fused)",
            elem_id="rag-hybrid",
        )


def _narrow_panel(c: SimpleNamespace) -> None:
    """Restrict questions to chosen documents, a date range, or uploaded / bundled
    documents (checked again and enforced on the server)."""
    with gr.Accordion("Narrow the sources", open=False):
        c.narrow_docs = gr.Dropdown(
            [],
            value=[],
            multiselect=True,
            label="Only these documents (none chosen: all)",
            elem_id="rag-narrow-docs",
        )
        with gr.Row():
            c.since = gr.Textbox(
                label="Published since",
                placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                elem_id="rag-since",
            )
            c.until = gr.Textbox(
                label="Published until",
                placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                elem_id="rag-until",
            )
        c.scope = gr.Radio(
            list(SCOPES),
            value="all",
            label="Documents",
            info="all, uploaded only, or the bundled corpus only; a date bound leaves "
            "undated documents out",
            elem_id="rag-scope",
        )


def _documents_panel(c: SimpleNamespace) -> None:
    """Upload files, see the indexed documents, remove an uploaded one."""
    with gr.Accordion("Documents", open=False):
        c.files = gr.File(
            label=f"Add files ({', '.join(supported_suffixes())})",
            file_count="multiple",
            file_types=supported_suffixes(),
            type="filepath",
            elem_id="rag-files",
        )
        c.add_btn = gr.Button("Add to the index", variant="primary", size="sm")
        c.doc_status = gr.Markdown("", elem_id="rag-doc-status")
        c.docs_table = gr.HTML(render.documents_html([]), elem_id="rag-documents")
        with gr.Row():
            c.to_remove = gr.Dropdown(
                [], label="Uploaded document", scale=4, allow_custom_value=False
            )
            c.remove_btn = gr.Button("Remove", variant="stop", size="sm", scale=1)


def _sources_panel(c: SimpleNamespace) -> None:
    """The cited passages (a clicked marker highlights its quote) and the details."""
    c.sources = gr.HTML(
        render.empty_sources_html(),
        elem_id="rag-sources",
        js_on_load=assets.SCROLL_JS,
        padding=True,
        container=True,
        label="Sources",
    )
    with gr.Accordion("Details: rewrite, passages, scores, timings", open=False):
        c.details = gr.HTML(render.empty_details_html(), elem_id="rag-details")


def _wire_page(demo: gr.Blocks, h: Handlers, c: SimpleNamespace) -> None:
    """The visible page's events (none of them is an API endpoint)."""
    chat_io = {
        "fn": h.on_chat,
        "inputs": [
            *(c.question, c.turns, c.failed, c.backend, c.top_k, c.hybrid),
            *(c.narrow_docs, c.since, c.until, c.scope),
        ],
        "outputs": [c.question, c.chatbot, c.turns, c.failed, c.sources, c.details],
        **PRIVATE,
    }
    c.question.submit(**chat_io)
    c.examples.load_input_event.then(**chat_io)
    c.bridge.change(h.on_select, [c.bridge, c.turns], [c.sources, c.details], **PRIVATE)
    cleared = [c.chatbot, c.turns, c.failed, c.sources, c.details, c.rated, c.comment_box]
    c.clear_btn.click(h.on_clear, None, cleared, **PRIVATE)
    c.chatbot.clear(h.on_clear, None, cleared, **PRIVATE)
    c.chatbot.like(h.on_like, [c.turns, c.failed], [c.rate_status, c.rated], **PRIVATE)
    c.comment_btn.click(
        h.on_comment,
        [c.comment_box, c.rated, c.turns],
        [c.rate_status, c.comment_box, c.rated],
        **PRIVATE,
    )
    documents = [c.status, c.docs_table, c.to_remove]
    added = c.add_btn.click(h.on_add, [c.files], [c.doc_status, *documents, c.files], **PRIVATE)
    removed = c.remove_btn.click(h.on_remove, [c.to_remove], [c.doc_status, *documents], **PRIVATE)
    loaded = demo.load(h.on_load, None, documents, **PRIVATE)
    for event in (added, removed, loaded):  # the documents a question can be narrowed to
        event.then(h.on_narrow_choices, None, c.narrow_docs, **PRIVATE)


def _api_components(cfg: Config) -> SimpleNamespace:
    """Hidden components that carry the named API endpoints' inputs and outputs."""
    with gr.Column(visible=False):
        return SimpleNamespace(
            question=gr.Textbox(label="question"),
            backend=gr.Textbox(value=cfg.backend, label="backend"),
            k=gr.Number(value=cfg.k, precision=0, label="top_k"),
            hybrid=gr.Checkbox(value=cfg.hybrid, label="hybrid"),
            sources=gr.Dropdown(
                [], value=[], multiselect=True, allow_custom_value=True, label="sources"
            ),
            since=gr.Textbox(value="", label="since"),
            until=gr.Textbox(value="", label="until"),
            scope=gr.Textbox(value="all", label="scope"),
            out=gr.JSON(label="result"),
            turns=gr.State([]),
            source=gr.Textbox(label="source"),
            files=gr.File(file_count="multiple", type="filepath", label="files"),
            answer=gr.JSON(label="answer"),
            rating=gr.Textbox(label="rating", value="up"),
            comment=gr.Textbox(label="comment", value=""),
            buttons={
                name: gr.Button(name)
                for name in (
                    "ask",
                    "reset",
                    "documents",
                    "document",
                    "upload",
                    "remove",
                    "feedback",
                )
            },
        )


def _wire_api(h: Handlers, a: SimpleNamespace) -> None:
    """The named endpoints for ``gradio_client`` (see the README's API section)."""
    endpoints = [
        (
            "ask",
            h.api_ask,
            [a.question, a.backend, a.k, a.hybrid, a.turns, a.sources, a.since, a.until, a.scope],
            [a.out, a.turns],
            "Answer a question (follow-ups use this session's history); optionally only "
            "from some documents (sources), a date range (since/until) or a scope.",
        ),
        ("reset", h.api_reset, None, [a.turns], "Forget this session's conversation."),
        ("documents", h.api_documents, None, [a.out], "The indexed documents (metadata)."),
        ("document", h.api_document, [a.source], [a.out], "One indexed document, with its text."),
        (
            "upload",
            h.api_upload,
            [a.files],
            [a.out],
            "Add .txt/.md/.html/.htm/.pdf files to the index.",
        ),
        (
            "remove",
            h.api_remove,
            [a.source],
            [a.out],
            "Remove an uploaded document from the index.",
        ),
        (
            "feedback",
            h.api_feedback,
            [a.answer, a.rating, a.comment],
            [a.out],
            "Save a rating ('up'/'down') and comment for an /ask result.",
        ),
    ]
    for name, fn, inputs, outputs, description in endpoints:
        a.buttons[name].click(fn, inputs, outputs, api_name=name, api_description=description)
