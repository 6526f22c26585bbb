"""The chat app: ask the indexed articles, check every citation.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

Settings come from ``RAG_*`` variables (``RAG_ROOT`` picks the project root; see
``rag/config.py``). The model and index load once, in the background, while the page
is already served; a missing or stale index is built then (``Assistant.from_config``).

This file only builds the page and wires events: answers come from
:mod:`rag.answer`, HTML from :mod:`rag.render`, ratings go to :mod:`rag.feedback`.
Named API endpoints (for ``gradio_client``): ``/ask``, ``/reset``, ``/documents``,
``/document``, ``/upload``, ``/remove``, ``/feedback`` -- see the README.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag import feedback, render  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.ingest import supported_suffixes  # noqa: E402
from rag.limits import RateLimiter  # noqa: E402
from rag.types import Answer  # noqa: E402

TITLE = "Ask the articles"
BACKENDS = ["extractive", "llamacpp", "openai"]
LOAD_TIMEOUT_S = 600.0


class Engine:
    """The process's one :class:`~rag.answer.Assistant`, loaded once in the background."""

    def __init__(self, config: Config | None = None, assistant: Any = None) -> None:
        self.config: Config = (
            assistant.config if assistant is not None else (config or Config.from_env())
        )
        self._assistant = assistant
        self._error: BaseException | None = None
        self._ready = threading.Event()
        if assistant is not None:
            self._ready.set()

    def start(self) -> Engine:
        if not self._ready.is_set():
            threading.Thread(target=self._load, name="rag-load", daemon=True).start()
        return self

    def _load(self) -> None:
        try:
            from rag.answer import Assistant  # imports torch: keep it off the startup path

            self._assistant = Assistant.from_config(self.config, warn=_warn, progress=True)
            print(f"rag: ready ({len(self._assistant.documents)} documents)", file=sys.stderr)
        except Exception as exc:  # reported to every request
            self._error = exc
            _warn(f"could not load the engine: {exc}")
        finally:
            self._ready.set()

    @property
    def assistant(self) -> Any:
        if not self._ready.wait(LOAD_TIMEOUT_S):
            raise gr.Error("The model and index are still loading; try again in a moment.")
        if self._error is not None:
            raise gr.Error(f"The engine could not load: {self._error}")
        return self._assistant


def _warn(msg: str) -> None:
    print(f"rag: {msg}", file=sys.stderr)


def _history(turns: Sequence[Answer]) -> list[dict[str, str]]:
    """Finished turns as OpenAI-style messages (with the standalone rewrite kept)."""
    out: list[dict[str, str]] = []
    for a in turns:
        out.append({"role": "user", "content": a.question})
        out.append({"role": "assistant", "content": a.answer, "standalone": a.standalone_question})
    return out


def _settings(backend: str, k: float, hybrid: bool) -> dict[str, Any]:
    return {"backend": backend or "extractive", "k": max(1, int(k or 1)), "hybrid": bool(hybrid)}


def _error(exc: Exception) -> gr.Error:
    return exc if isinstance(exc, gr.Error) else gr.Error(str(exc))


def _client_key(request: gr.Request | None) -> str:
    """Who is asking, for the rate limit: the Gradio session, else the client address."""
    if request is None:
        return "-"
    if request.session_hash:
        return f"session:{request.session_hash}"
    client = getattr(request, "client", None)
    return f"host:{getattr(client, 'host', '-')}"


def build(engine: Engine, limiter: RateLimiter | None = None) -> gr.Blocks:
    """The page and its API. ``engine`` holds the (possibly still loading) assistant;
    ``limiter`` caps questions per session (default: from the config's rate limit)."""
    cfg = engine.config
    limiter = limiter if limiter is not None else RateLimiter.from_config(cfg)

    def check_rate(request: gr.Request | None) -> None:
        try:
            limiter.check(_client_key(request))
        except RagError as exc:
            raise gr.Error(str(exc)) from None

    def uploaded_sources(docs: Sequence[Any]) -> list[str]:
        up = cfg.upload_path.resolve()
        return [d.source for d in docs if cfg.path(Path(d.source)).resolve().is_relative_to(up)]

    def doc_views() -> tuple[str, str, Any]:
        """The status line, the documents table and the removable-documents choice."""
        docs = engine.assistant.documents
        removable = uploaded_sources(docs)
        return (
            f"Ready · {len(docs)} documents indexed.",
            render.documents_html(docs, removable),
            gr.update(choices=removable, value=removable[0] if removable else None),
        )

    def doc_list() -> list[dict[str, Any]]:
        docs = engine.assistant.documents
        up = set(uploaded_sources(docs))
        return [{**d.meta(), "uploaded": d.source in up} for d in docs]

    # ------------------------------------------------------------------ chat

    def on_chat(
        question: str,
        turns: list[Answer],
        failed: list[render.Failed],
        backend: str,
        k: float,
        hybrid: bool,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        if not question:
            yield (gr.skip(),) * 6
            return
        turn = len(turns)
        base = [
            *render.chat_messages(turns, failed),
            {"role": "user", "content": render.user_html(question)},
        ]
        bot = {"role": "assistant", "content": render.pending_html()}
        yield "", [*base, bot], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        answer: Answer | None = None
        try:
            check_rate(request)
            stream = engine.assistant.stream(
                question, _history(turns), **_settings(backend, k, hybrid)
            )
            for event in stream:
                if isinstance(event, Answer):
                    answer = event
                elif event:
                    bot = {"role": "assistant", "content": render.streaming_html(event)}
                    yield gr.skip(), [*base, bot], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except Exception as exc:  # shown in the conversation (and kept), not left "searching"
            if not isinstance(exc, RagError | gr.Error):
                _warn(f"unexpected error answering {question!r}: {exc!r}")
            message = exc.message if isinstance(exc, gr.Error) else str(exc)
            failed = [*failed, (turn, question, message)]
            chat = render.chat_messages(turns, failed)
            yield gr.skip(), chat, gr.skip(), failed, gr.skip(), gr.skip()
            return
        assert answer is not None
        turns = [*turns, answer]
        yield (
            gr.skip(),
            render.chat_messages(turns, failed),
            turns,
            gr.skip(),
            render.sources_html(answer, turn),
            render.details_html(answer, turn),
        )

    def on_select(value: str, turns: list[Answer]) -> tuple[Any, Any]:
        sel = render.parse_selection(value)
        if sel is None or sel[1] >= len(turns):
            return gr.skip(), gr.skip()
        kind, turn, n = sel
        answer = turns[turn]
        source = next(
            (c.source for c in answer.citations if kind == "cite" and c.n == n),
            next(
                (h.chunk.source for h in answer.passages if kind == "passage" and h.rank == n), ""
            ),
        )
        try:
            doc = engine.assistant.document(source) if source else None
        except (KeyError, RagError):
            doc = None  # removed since: the panel shows the quote on its own
        return (
            render.sources_html(answer, turn, selected=(kind, n), document=doc),
            render.details_html(answer, turn),
        )

    def on_clear() -> tuple[Any, ...]:
        return [], [], [], render.empty_sources_html(), render.empty_details_html(), None, ""

    # ------------------------------------------------------------------ feedback

    def on_like(
        data: gr.LikeData, turns: list[Answer], failed: list[render.Failed], request: gr.Request
    ) -> tuple[str, dict[str, Any] | None]:
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn = render.message_turn(turns, failed, int(index))
        liked = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(data.liked)
        if liked is None or turn is None:
            return gr.skip(), gr.skip()
        rec = feedback.save(
            cfg.path(cfg.feedback_path),
            turns[turn],
            liked,
            session=request.session_hash or "",
            turn=turn,
        )
        icon = "👍" if liked == "up" else "👎"
        return (
            f"Saved {icon} for answer {turn + 1}. You can add a comment below.",
            {"id": rec["id"], "turn": turn, "rating": liked},
        )

    def on_comment(
        text: str, rated: dict[str, Any] | None, turns: list[Answer], request: gr.Request
    ) -> tuple[str, Any, Any]:
        if not rated or rated["turn"] >= len(turns):
            return (
                "Rate an answer with 👍 or 👎 first (the icons under each answer).",
                gr.skip(),
                gr.skip(),
            )
        if not (text or "").strip():
            return "Write a comment first.", gr.skip(), gr.skip()
        rec = feedback.save(
            cfg.path(cfg.feedback_path),
            turns[rated["turn"]],
            rated["rating"],
            text,
            session=request.session_hash or "",
            turn=rated["turn"],
            replaces=rated["id"],
        )
        return f"Comment saved for answer {rated['turn'] + 1}.", "", {**rated, "id": rec["id"]}

    # ------------------------------------------------------------------ documents

    def on_add(
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        if not files:
            return ("Choose one or more files first.", *(gr.skip(),) * 4)
        paths = [Path(f) for f in files]
        progress(0.1, desc=f"Reading and indexing {len(paths)} file(s)")
        try:
            report = engine.assistant.add_files(paths, warn=_warn)
        except RagError as exc:
            return (
                f"**Nothing was added** (the index is unchanged): {render.esc(exc)}",
                *(gr.skip(),) * 4,
            )
        progress(1.0, desc="Done")
        names = ", ".join(Path(p).name for p in paths)
        return (f"Added {render.esc(names)}. {render.esc(report.summary())}", *doc_views(), None)

    def on_remove(source: str | None) -> tuple[Any, ...]:
        if not source:
            return ("Pick an uploaded document to remove.", *(gr.skip(),) * 3)
        try:
            report = engine.assistant.remove_document(source)
        except (RagError, KeyError) as exc:
            return (f"**Not removed:** {render.esc(exc)}", *(gr.skip(),) * 3)
        return (f"Removed {render.esc(source)}. {render.esc(report.summary())}", *doc_views())

    def on_load() -> tuple[Any, ...]:
        try:
            return doc_views()
        except gr.Error as exc:
            return (f"**{render.esc(exc.message)}**", gr.skip(), gr.skip())

    # ------------------------------------------------------------------ API only

    def api_ask(
        question: str,
        backend: str,
        top_k: float,
        hybrid: bool,
        turns: list[Answer],
        request: gr.Request,
    ) -> tuple[dict[str, Any], list[Answer]]:
        if not (question or "").strip():
            raise gr.Error("The question is empty.")
        check_rate(request)
        try:
            answer = engine.assistant.ask(
                question, _history(turns), **_settings(backend, top_k, hybrid)
            )
        except (RagError, gr.Error) as exc:
            raise _error(exc) from None
        return answer.to_dict(), [*turns, answer]

    def api_reset() -> list[Answer]:
        return []

    def api_document(source: str) -> dict[str, Any]:
        try:
            doc = engine.assistant.document(source)
        except (KeyError, RagError) as exc:
            raise gr.Error(f"No indexed document {source!r}") from exc
        return {**doc.meta(), "text": doc.text}

    def api_upload(files: list[str] | None) -> dict[str, Any]:
        if not files:
            raise gr.Error("No files given.")
        bot = engine.assistant
        before = {d.doc_id for d in bot.documents}
        try:
            report = bot.add_files([Path(f) for f in files], warn=_warn)
        except RagError as exc:
            raise gr.Error(f"Nothing was added: {exc}") from None
        added = [d.source for d in bot.documents if d.doc_id not in before]
        return {"added": added, "summary": report.summary(), "documents": doc_list()}

    def api_remove(source: str) -> dict[str, Any]:
        try:
            report = engine.assistant.remove_document(source)
        except (RagError, KeyError) as exc:
            raise gr.Error(str(exc)) from None
        return {"removed": source, "summary": report.summary(), "documents": doc_list()}

    def api_feedback(
        answer: dict[str, Any], rating: str, comment: str, request: gr.Request
    ) -> dict[str, Any]:
        try:
            return feedback.save(
                cfg.path(cfg.feedback_path),
                answer or {},
                rating,
                comment or "",
                session=request.session_hash or "",
            )
        except RagError as exc:
            raise gr.Error(str(exc)) from None

    # ------------------------------------------------------------------ layout

    with gr.Blocks(title=TITLE) as demo:
        turns = gr.State([])
        failed = gr.State([])  # questions that got an error, kept on screen
        rated = gr.State(None)
        gr.Markdown(
            f"## {TITLE}\nAnswers come only from the indexed news articles, with a "
            "numbered citation for every claim. Click a **[n]** marker to check the quote."
        )
        status = gr.Markdown("Loading the model and index…", elem_id="rag-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="rag-chat",
                    height=520,
                    render_markdown=False,
                    sanitize_html=True,
                    buttons=["copy"],
                    feedback_options=("Like", "Dislike"),
                    placeholder="Ask a question about the articles, or pick an example below.",
                )
                question = gr.Textbox(
                    placeholder="Ask a question… (Enter to send)",
                    show_label=False,
                    lines=1,
                    max_lines=4,
                    autofocus=True,
                    submit_btn="Send",
                    elem_id="rag-question",
                )
                examples = gr.Examples(
                    cfg.examples or [""],
                    inputs=[question],
                    label="Example questions",
                    api_visibility="private",
                    visible=bool(cfg.examples),
                )
                with gr.Row():
                    clear_btn = gr.Button("Clear chat", size="sm", variant="secondary")
                with gr.Accordion("Rate an answer", open=False):
                    rate_status = gr.Markdown(
                        "Use 👍 / 👎 under an answer; it is saved with the question, the answer "
                        "and its citations. Then add a comment here if you like."
                    )
                    comment_box = gr.Textbox(label="Comment (optional)", lines=2)
                    comment_btn = gr.Button("Save comment", size="sm")
                with gr.Accordion("Settings", open=False):
                    backend = gr.Radio(
                        BACKENDS,
                        value=cfg.backend,
                        label="Answer backend",
                        info="extractive: quotes sentences; llamacpp/openai: a generative model",
                    )
                    top_k = gr.Slider(
                        1,
                        20,
                        value=cfg.k,
                        step=1,
                        label="Passages to retrieve (top-k)",
                        elem_id="rag-topk",
                    )
                    hybrid = gr.Checkbox(
                        value=cfg.hybrid,
                        label="Hybrid retrieval (dense + BM25 fused)",
                        elem_id="rag-hybrid",
                    )
                with gr.Accordion("Documents", open=False):
                    files = gr.File(
                        label=f"Add files ({', '.join(supported_suffixes())})",
                        file_count="multiple",
                        file_types=supported_suffixes(),
                        type="filepath",
                        elem_id="rag-files",
                    )
                    add_btn = gr.Button("Add to the index", variant="primary", size="sm")
                    doc_status = gr.Markdown("", elem_id="rag-doc-status")
                    docs_table = gr.HTML(render.documents_html([]), elem_id="rag-documents")
                    with gr.Row():
                        to_remove = gr.Dropdown(
                            [], label="Uploaded document", scale=4, allow_custom_value=False
                        )
                        remove_btn = gr.Button("Remove", variant="stop", size="sm", scale=1)
            with gr.Column(scale=2, min_width=340):
                sources = gr.HTML(
                    render.empty_sources_html(),
                    elem_id="rag-sources",
                    js_on_load=render.SCROLL_JS,
                    padding=True,
                    container=True,
                    label="Sources",
                )
                with gr.Accordion("Details: rewrite, passages, scores, timings", open=False):
                    details = gr.HTML(render.empty_details_html(), elem_id="rag-details")
        bridge = gr.HTML("", js_on_load=render.CLICK_JS, visible="hidden", elem_id="rag-bridge")

        # API-only components (not shown).
        with gr.Column(visible=False):
            api_question = gr.Textbox(label="question")
            api_backend = gr.Textbox(value=cfg.backend, label="backend")
            api_k = gr.Number(value=cfg.k, precision=0, label="top_k")
            api_hybrid = gr.Checkbox(value=cfg.hybrid, label="hybrid")
            api_out = gr.JSON(label="result")
            api_turns = gr.State([])
            api_source = gr.Textbox(label="source")
            api_files = gr.File(file_count="multiple", type="filepath", label="files")
            api_answer = gr.JSON(label="answer")
            api_rating = gr.Textbox(label="rating", value="up")
            api_comment = gr.Textbox(label="comment", value="")
            api_buttons = {
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
            }

        # ---------------------------------------------------------------- events
        private: dict[str, Any] = {"api_visibility": "private"}
        chat_io = {
            "fn": on_chat,
            "inputs": [question, turns, failed, backend, top_k, hybrid],
            "outputs": [question, chatbot, turns, failed, sources, details],
            **private,
        }
        question.submit(**chat_io)
        examples.load_input_event.then(**chat_io)
        bridge.change(on_select, [bridge, turns], [sources, details], **private)
        cleared = [chatbot, turns, failed, sources, details, rated, comment_box]
        clear_btn.click(on_clear, None, cleared, **private)
        chatbot.clear(on_clear, None, cleared, **private)
        chatbot.like(on_like, [turns, failed], [rate_status, rated], **private)
        comment_btn.click(
            on_comment, [comment_box, rated, turns], [rate_status, comment_box, rated], **private
        )
        add_btn.click(
            on_add, [files], [doc_status, status, docs_table, to_remove, files], **private
        )
        remove_btn.click(
            on_remove, [to_remove], [doc_status, status, docs_table, to_remove], **private
        )
        demo.load(on_load, None, [status, docs_table, to_remove], **private)

        b = api_buttons
        b["ask"].click(
            api_ask,
            [api_question, api_backend, api_k, api_hybrid, api_turns],
            [api_out, api_turns],
            api_name="ask",
            api_description="Answer a question (follow-ups use this session's history).",
        )
        b["reset"].click(
            api_reset,
            None,
            [api_turns],
            api_name="reset",
            api_description="Forget this session's conversation.",
        )
        b["documents"].click(
            doc_list,
            None,
            [api_out],
            api_name="documents",
            api_description="The indexed documents (metadata).",
        )
        b["document"].click(
            api_document,
            [api_source],
            [api_out],
            api_name="document",
            api_description="One indexed document, with its text.",
        )
        b["upload"].click(
            api_upload,
            [api_files],
            [api_out],
            api_name="upload",
            api_description="Add .txt/.md/.html/.htm/.pdf files to the index.",
        )
        b["remove"].click(
            api_remove,
            [api_source],
            [api_out],
            api_name="remove",
            api_description="Remove an uploaded document from the index.",
        )
        b["feedback"].click(
            api_feedback,
            [api_answer, api_rating, api_comment],
            [api_out],
            api_name="feedback",
            api_description="Save a rating ('up'/'down') and comment for an /ask result.",
        )
    return demo


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    prevent_thread_lock: bool = False,
    concurrency: int = 8,
    max_upload_mb: int | None = None,
) -> Any:
    """Start the server with the queue on (``concurrency`` requests at a time).

    ``max_upload_mb`` makes Gradio refuse larger files while they are being
    received, before they reach its cache folder (the app checks again on add).
    """
    demo.queue(default_concurrency_limit=concurrency)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=prevent_thread_lock,
        css=render.CSS,
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
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except RagError as exc:
        _warn(str(exc))
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
    )
    engine.start()
    demo.block_thread()  # until Ctrl+C
    return 0


if __name__ == "__main__":
    sys.exit(main())
