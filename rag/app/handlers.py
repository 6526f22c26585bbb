"""The page's event handlers and its named API endpoints (``/ask``, ``/upload``, …).

Every handler checks the caller's role and rate limits on the server
(:class:`rag.app.auth.Access`, :class:`rag.server.limits.RequestLimits`) before it
touches the assistant; errors reach the client redacted (:func:`public_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import gradio as gr

from rag import prompts
from rag.app import auth as app_auth
from rag.app import feedback, render
from rag.app.engine import (
    Engine,
    UploadJobs,
    claim_temp_uploads,
    discard_temp_uploads,
    public_text,
    warn,
)
from rag.config import Config
from rag.errors import RagError
from rag.server.limits import RequestLimits
from rag.types import Answer

BACKENDS = ["extractive", "llamacpp", "openai"]
MAX_TOP_K = 20  # passages a client may ask for (the slider's range)
MAX_NARROW_SOURCES = 1000  # documents a client may restrict one question to
SCOPES = ("all", "uploaded", "bundled")  # as rag.retrieve.filters.SCOPES (not imported: light)


def _history(turns: Sequence[Answer]) -> list[dict[str, str]]:
    """Finished turns as OpenAI-style messages (with the standalone rewrite kept)."""
    out: list[dict[str, str]] = []
    for a in turns:
        out.append({"role": "user", "content": a.question})
        out.append({"role": "assistant", "content": a.answer, "standalone": a.standalone_question})
    return out


def enabled_backends(cfg: Config) -> list[str]:
    """The answer backends clients may pick (``RAG_ALLOWED_BACKENDS``; default: extractive
    and the configured one, see :meth:`rag.config.Config.enabled_backends`)."""
    return [b for b in cfg.enabled_backends() if b in BACKENDS] or ["extractive"]


def _settings(
    backend: str, k: float, hybrid: bool, cfg: Config, enabled: list[str] | None = None
) -> dict[str, Any]:
    """The per-call settings a client picked, bounded on the server: top-k in
    1..MAX_TOP_K (junk, NaN or infinity: the configured k), a backend in ``enabled``
    (default: :func:`enabled_backends`; an admin may pick any)."""
    name = (backend or cfg.backend or "extractive").strip()
    enabled = enabled if enabled is not None else enabled_backends(cfg)
    if name not in enabled:
        raise gr.Error(prompts.BACKEND_NOT_ENABLED.format(backend=name, enabled=", ".join(enabled)))
    try:
        top_k = int(float(k))
    except (TypeError, ValueError, OverflowError):
        top_k = cfg.k
    return {"backend": name, "k": min(MAX_TOP_K, max(1, top_k)), "hybrid": bool(hybrid)}


def narrowing(sources: Any, since: str | None, until: str | None, scope: str | None) -> Any:
    """The restriction a client asked for (chosen documents, a date range, uploaded or
    bundled documents only) as a checked :class:`~rag.retrieve.filters.SourceFilter`,
    or None for the whole corpus. It is enforced on the server: the assistant searches
    only the documents it allows. ``sources`` is a list of indexed paths (or one string,
    comma- or newline-separated); a bad date or scope is a clear ``gr.Error``."""
    from rag.errors import QueryError
    from rag.retrieve.filters import SourceFilter  # here: the page loads before retrieval

    if sources is None or sources == "":
        picked: list[str] = []
    elif isinstance(sources, str):
        picked = [p.strip() for p in re.split(r"[\n,]", sources) if p.strip()]
    elif isinstance(sources, list | tuple) and all(isinstance(x, str) for x in sources):
        picked = [x for x in sources if x.strip()]
    else:
        raise gr.Error("sources must be a list of document paths (see /documents)")
    if len(picked) > MAX_NARROW_SOURCES or any(len(x) > 1000 for x in picked):
        raise gr.Error(f"sources: at most {MAX_NARROW_SOURCES} document paths, each a path")
    try:
        narrow = SourceFilter.parse(
            picked,
            str(since or "").strip() or None,
            str(until or "").strip() or None,
            str(scope or "all").strip().lower() or "all",
        )
    except QueryError as exc:
        raise gr.Error(str(exc)) from None
    return narrow if narrow.active else None


def document_dates(engine: Engine) -> dict[str, str]:
    """Each indexed document's publication date (ISO; "" unknown), by source."""
    try:
        return {d.source: d.date for d in engine.assistant.documents}
    except RagError:  # still loading
        return {}


def narrow_choices(engine: Engine) -> Any:
    """The documents a question can be restricted to, as (title · date, source)."""
    docs = sorted(engine.assistant.documents, key=lambda d: (d.date or "0", d.source), reverse=True)
    choices = [
        (f"{d.title} · {render.show_date(d.date) or 'undated'}" if d.title else d.source, d.source)
        for d in docs
    ]
    return gr.update(choices=choices)


def _error(exc: Exception, cfg: Config) -> gr.Error:
    message = exc.message if isinstance(exc, gr.Error) else str(exc)
    return gr.Error(public_text(cfg, message))


def _public_answer(answer: Answer, cfg: Config) -> Answer:
    """``answer`` with its notes redacted (a fallback note names the failing server);
    the full notes go to the server's log."""
    shown = [public_text(cfg, n) for n in answer.notes]
    if shown != answer.notes:
        warn(f"notes for {answer.question[:80]!r}: {answer.notes}")
        answer.notes = shown
    return answer


def _who(request: gr.Request | None) -> tuple[str, str]:
    """(session, client address) of a request, for the rate limits."""
    if request is None:
        return "-", "-"
    client = getattr(request, "client", None)
    return request.session_hash or "-", str(getattr(client, "host", None) or "-")


def _uploaded(cfg: Config, sources: Sequence[str]) -> list[str]:
    """The sources that live in the upload folder (those can be removed)."""
    up = cfg.upload_path.resolve()
    return [s for s in sources if cfg.path(Path(s)).resolve().is_relative_to(up)]


def _not_indexed(engine: Engine) -> dict[str, str]:
    """Files the index left out (unreadable, duplicate), with a client-safe reason."""
    skipped = engine.assistant.parts.index.skipped
    return {s: public_text(engine.config, why) for s, why in skipped.items()}


def document_views(engine: Engine) -> tuple[str, str, Any]:
    """The status line, the documents table and the removable-documents choice (files
    that are not indexed are listed in both, uploaded ones removable; a background
    update or its failure is in the status line)."""
    docs = engine.assistant.documents
    skipped = _not_indexed(engine)
    removable = _uploaded(engine.config, [*(d.source for d in docs), *skipped])
    status = f"Ready · {len(docs)} documents indexed."
    if engine.updating:
        status += f" {engine.updating}"
    elif engine.update_error:
        status += " " + prompts.UPDATE_FAILED.format(reason=engine.update_error)
    if skipped:
        files = "; ".join(f"{s} ({why})" for s, why in sorted(skipped.items()))
        status += " " + prompts.SKIPPED_FILES.format(n=len(skipped), files=files)
    return (
        render.esc(status),
        render.documents_html(docs, removable, skipped),
        gr.update(choices=removable, value=removable[0] if removable else None),
    )


def document_list(engine: Engine) -> list[dict[str, Any]]:
    """``/documents``: every indexed document's metadata, then the files not indexed
    (``"indexed": false`` and the ``"error"`` that kept them out)."""
    docs = engine.assistant.documents
    skipped = _not_indexed(engine)
    up = set(_uploaded(engine.config, [*(d.source for d in docs), *skipped]))
    listed = [{**d.meta(), "uploaded": d.source in up, "indexed": True} for d in docs]
    listed += [
        {"source": s, "uploaded": s in up, "indexed": False, "error": why}
        for s, why in sorted(skipped.items())
    ]
    return listed


def authorize(
    access: app_auth.Access,
    limits: RequestLimits,
    action: str,
    request: gr.Request | None,
    file: str = "",
) -> None:
    """Let ``action`` through when the caller's role allows it and their rate limits
    too, else raise ``gr.Error``; a refused upload or removal goes to the audit log."""
    access.require(action, request, file)
    try:
        limits.check(action, *_who(request), user=access.account(request))
    except RagError as exc:
        if action in app_auth.CORPUS_ACTIONS:
            access.record(access.name(request), action, "refused", file, str(exc))
        raise gr.Error(str(exc)) from None


def upload_audit(access: app_auth.Access, cfg: Config, user: str, label: str) -> Any:
    """A done-callback for an upload job that writes its outcome to the audit log
    (a batch may finish after its request has returned "still indexing")."""

    def audited(job: Future) -> None:
        if job.exception() is not None:
            access.record(user, "upload", "failed", label, public_text(cfg, job.exception()))
        else:
            access.record(user, "upload", "ok", label, job.result().summary())

    return audited


def remove_audited(
    engine: Engine, access: app_auth.Access, source: str, request: gr.Request | None
) -> Any:
    """Remove an uploaded document (already authorised) and audit the outcome."""
    try:
        report = engine.assistant.remove_document(source)
    except (RagError, KeyError) as exc:
        access.record(access.name(request), "remove", "failed", source, str(exc))
        raise
    access.record(access.name(request), "remove", "ok", source, report.summary())
    return report


class Handlers:
    """What the page's events and API endpoints do, for one page (one engine, one
    access policy, one set of limits, one upload worker)."""

    def __init__(
        self, engine: Engine, access: app_auth.Access, limits: RequestLimits, upload_wait_s: float
    ) -> None:
        self.engine = engine
        self.cfg: Config = engine.config
        self.access = access
        self.limits = limits
        self.issued = feedback.IssuedAnswers()  # what /ask answered, for /feedback to refer to
        self.jobs = UploadJobs(engine, upload_wait_s)

    def check(self, action: str, request: gr.Request | None, file: str = "") -> None:
        authorize(self.access, self.limits, action, request, file)

    def backends(self, request: gr.Request | None) -> list[str]:
        return self.access.backends(request, enabled_backends(self.cfg))

    def doc_views(self) -> tuple[str, str, Any]:
        return document_views(self.engine)

    def doc_list(self) -> list[dict[str, Any]]:
        return document_list(self.engine)

    def on_narrow_choices(self, request: gr.Request) -> Any:
        """The narrowing control's documents (after load, an upload or a removal)."""
        try:
            self.access.require("read", request)
            return narrow_choices(self.engine)
        except (gr.Error, RagError):
            return gr.skip()

    def add_uploads(self, files: Sequence[str], request: gr.Request | None) -> Any:
        """Index uploaded files (see :class:`UploadJobs`: None while still indexing);
        Gradio's temp copies are deleted whatever happens."""
        paths = [Path(f) for f in files]
        claim_temp_uploads(paths)  # released by every outcome below
        label = app_auth.files_label(files)
        try:
            self.check("upload", request, label)
            self.engine.assistant  # noqa: B018 - a clear error while the engine is not ready
        except BaseException:
            discard_temp_uploads(paths)
            raise
        user = self.access.name(request)
        try:
            return self.jobs.add(paths, on_done=upload_audit(self.access, self.cfg, user, label))
        except RagError as exc:  # too many waiting
            self.access.record(user, "upload", "refused", label, str(exc))
            raise

    def remove(self, source: str, request: gr.Request | None) -> Any:
        self.check("remove", request, source)
        return remove_audited(self.engine, self.access, source, request)

    # ------------------------------------------------------------------ chat

    def on_chat(
        self,
        question: str,
        turns: list[Answer],
        failed: list[render.Failed],
        backend: str,
        k: float,
        hybrid: bool,
        sources: list[str] | None,
        since: str,
        until: str,
        scope: str,
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
            self.check("ask", request)
            stream = self.engine.assistant.stream(
                question,
                _history(turns),
                narrow=narrowing(sources, since, until, scope),
                **_settings(backend, k, hybrid, self.cfg, self.backends(request)),
            )
            for event in stream:
                if isinstance(event, Answer):
                    answer = event
                elif event:
                    bot = {"role": "assistant", "content": render.streaming_html(event)}
                    yield gr.skip(), [*base, bot], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except Exception as exc:  # shown in the conversation (and kept), not left "searching"
            if not isinstance(exc, RagError | gr.Error):
                warn(f"unexpected error answering {question!r}: {exc!r}")
            message = public_text(self.cfg, exc.message if isinstance(exc, gr.Error) else str(exc))
            failed = [*failed, (turn, question, message)]
            chat = render.chat_messages(turns, failed)
            yield gr.skip(), chat, gr.skip(), failed, gr.skip(), gr.skip()
            return
        assert answer is not None
        turns = [*turns, _public_answer(answer, self.cfg)]
        yield (
            gr.skip(),
            render.chat_messages(turns, failed),
            turns,
            gr.skip(),
            render.sources_html(answer, turn, dates=document_dates(self.engine)),
            render.details_html(answer, turn),
        )

    def on_select(self, value: str, turns: list[Answer], request: gr.Request) -> tuple[Any, Any]:
        self.access.require("read", request)
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
            doc = self.engine.assistant.document(source) if source else None
        except (KeyError, RagError):
            doc = None  # removed since: the panel shows the quote on its own
        return (
            render.sources_html(
                answer, turn, selected=(kind, n), document=doc, dates=document_dates(self.engine)
            ),
            render.details_html(answer, turn),
        )

    def on_clear(self, request: gr.Request) -> tuple[Any, ...]:
        self.access.require("ask", request)
        return [], [], [], render.empty_sources_html(), render.empty_details_html(), None, ""

    # ------------------------------------------------------------------ feedback

    def on_like(
        self,
        data: gr.LikeData,
        turns: list[Answer],
        failed: list[render.Failed],
        request: gr.Request,
    ) -> tuple[str, dict[str, Any] | None]:
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn = render.message_turn(turns, failed, int(index))
        liked = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(data.liked)
        if liked is None or turn is None:
            return gr.skip(), gr.skip()
        try:
            self.check("feedback", request)
        except gr.Error as exc:
            return render.esc(exc.message), gr.skip()
        rec = feedback.save(
            self.cfg.path(self.cfg.feedback_path),
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
        self, text: str, rated: dict[str, Any] | None, turns: list[Answer], request: gr.Request
    ) -> tuple[str, Any, Any]:
        if not rated or rated["turn"] >= len(turns):
            return (
                "Rate an answer with 👍 or 👎 first (the icons under each answer).",
                gr.skip(),
                gr.skip(),
            )
        if not (text or "").strip():
            return "Write a comment first.", gr.skip(), gr.skip()
        try:
            self.check("feedback", request)
            rec = feedback.save(
                self.cfg.path(self.cfg.feedback_path),
                turns[rated["turn"]],
                rated["rating"],
                text,
                session=request.session_hash or "",
                turn=rated["turn"],
                replaces=rated["id"],
            )
        except (RagError, gr.Error) as exc:
            return render.esc(_error(exc, self.cfg).message), gr.skip(), gr.skip()
        return f"Comment saved for answer {rated['turn'] + 1}.", "", {**rated, "id": rec["id"]}

    # ------------------------------------------------------------------ documents

    def on_add(
        self,
        files: list[str] | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        if not files:
            return ("Choose one or more files first.", *(gr.skip(),) * 4)
        progress(0.1, desc=f"Reading and indexing {len(files)} file(s)")
        try:
            report = self.add_uploads(files, request)
        except (RagError, gr.Error) as exc:  # the temp files are gone: the picker is cleared
            reason = render.esc(_error(exc, self.cfg).message)
            return (f"**{prompts.NOTHING_ADDED.format(reason=reason)}**", *(gr.skip(),) * 3, None)
        progress(1.0, desc="Done")
        if report is None:
            names = ", ".join(Path(f).name for f in files)
            return (render.esc(prompts.STILL_INDEXING.format(names=names)), *self.doc_views(), None)
        names = ", ".join(Path(source).name for source in report.added)
        return (
            f"Added {render.esc(names)}. {render.esc(public_text(self.cfg, report.summary()))}",
            *self.doc_views(),
            None,
        )

    def on_remove(self, source: str | None, request: gr.Request) -> tuple[Any, ...]:
        if not source:
            return ("Pick an uploaded document to remove.", *(gr.skip(),) * 3)
        try:
            report = self.remove(source, request)
        except (RagError, KeyError, gr.Error) as exc:
            message = _error(exc, self.cfg).message
            return (f"**Not removed:** {render.esc(message)}", *(gr.skip(),) * 3)
        summary = public_text(self.cfg, report.summary())
        return (f"Removed {render.esc(source)}. {render.esc(summary)}", *self.doc_views())

    def on_load(self, request: gr.Request) -> tuple[Any, ...]:
        try:
            self.access.require("read", request)
            return self.doc_views()
        except gr.Error as exc:
            return (f"**{render.esc(exc.message)}**", gr.skip(), gr.skip())

    # ------------------------------------------------------------------ API only

    def api_ask(
        self,
        question: str,
        backend: str,
        top_k: float,
        hybrid: bool,
        turns: list[Answer],
        sources: Any = None,
        since: str = "",
        until: str = "",
        scope: str = "all",
        request: gr.Request = None,  # type: ignore[assignment]  # Gradio passes it
    ) -> tuple[dict[str, Any], list[Answer]]:
        if not (question or "").strip():
            raise gr.Error("The question is empty.")
        self.check("ask", request)
        narrow = narrowing(sources, since, until, scope)
        try:
            answer = self.engine.assistant.ask(
                question,
                _history(turns),
                narrow=narrow,
                **_settings(backend, top_k, hybrid, self.cfg, self.backends(request)),
            )
        except (RagError, gr.Error) as exc:
            raise _error(exc, self.cfg) from None
        answer = _public_answer(answer, self.cfg)
        return {**answer.to_dict(), "answer_id": self.issued.issue(answer)}, [*turns, answer]

    def api_reset(self, request: gr.Request) -> list[Answer]:
        self.access.require("ask", request)
        return []

    def api_documents(self, request: gr.Request) -> list[dict[str, Any]]:
        self.access.require("read", request)
        return self.doc_list()

    def api_document(self, source: str, request: gr.Request) -> dict[str, Any]:
        self.access.require("read", request)
        try:
            doc = self.engine.assistant.document(source)
        except (KeyError, RagError) as exc:
            raise gr.Error(f"No indexed document {source!r}") from exc
        return {**doc.meta(), "text": doc.text}

    def api_upload(self, files: list[str] | None, request: gr.Request) -> dict[str, Any]:
        if not files:
            raise gr.Error("No files given.")
        try:
            report = self.add_uploads(files, request)
        except RagError as exc:
            raise gr.Error(
                prompts.NOTHING_ADDED.format(reason=public_text(self.cfg, exc))
            ) from None
        if report is None:
            names = ", ".join(Path(f).name for f in files)
            summary = prompts.STILL_INDEXING.format(names=names)
            return {
                "added": [],
                "pending": self.jobs.pending(),
                "summary": summary,
                "documents": self.doc_list(),
            }
        summary = public_text(self.cfg, report.summary())
        return {"added": report.added, "summary": summary, "documents": self.doc_list()}

    def api_remove(self, source: str, request: gr.Request) -> dict[str, Any]:
        try:
            report = self.remove(source, request)
        except (RagError, KeyError) as exc:
            raise _error(exc, self.cfg) from None
        summary = public_text(self.cfg, report.summary())
        return {"removed": source, "summary": summary, "documents": self.doc_list()}

    def api_feedback(
        self, answer: Any, rating: str, comment: str, request: gr.Request
    ) -> dict[str, Any]:
        """Rate an answer this server gave: ``answer`` is the /ask result (its
        ``answer_id`` is all that is read) or the id itself."""
        self.check("feedback", request)
        answer_id = answer.get("answer_id") if isinstance(answer, dict) else answer
        given = self.issued.get(answer_id)
        if given is None:
            raise gr.Error(prompts.UNKNOWN_ANSWER.format(answer_id=str(answer_id)[:40]))
        try:
            return feedback.save(
                self.cfg.path(self.cfg.feedback_path),
                given,
                rating,
                comment or "",
                session=request.session_hash or "",
            )
        except RagError as exc:
            raise _error(exc, self.cfg) from None
