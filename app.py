"""The chat app: ask the indexed articles, check every citation.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--no-auth]

Settings come from ``RAG_*`` variables (``RAG_ROOT`` picks the project root; see
``rag/config.py``). The model and index load once, in the background, while the page
is already served; a missing or stale index is built then (``Assistant.from_config``).

This file only builds the page and wires events: answers come from
:mod:`rag.answer.assistant`, HTML from :mod:`rag.app.render`, ratings go to :mod:`rag.app.feedback`.
Named API endpoints (for ``gradio_client``): ``/ask``, ``/reset``, ``/documents``,
``/document``, ``/upload``, ``/remove``, ``/feedback``, and for admins ``/audit`` and
``/feedback_log`` -- see the README. With users in the users file (``rag users add``) a
login is required and every event checks the caller's role (:mod:`rag.app.auth`); on a
non-loopback host or with ``--share`` and no users it refuses to start unless
``--no-auth``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from rag import prompts
from rag.app import auth as app_auth
from rag.app import (
    feedback,
    render,  # noqa: E402
)
from rag.config import Config  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.ingest.readers import supported_suffixes  # noqa: E402
from rag.server import audit
from rag.server.limits import FloodGuard, RateLimiter, RequestLimits, setting  # noqa: E402
from rag.server.routes import check_exposure, service_routes  # noqa: E402
from rag.types import Answer  # noqa: E402

TITLE = "Ask the articles"
BACKENDS = ["extractive", "llamacpp", "openai"]
LOAD_TIMEOUT_S = 600.0
MAX_TOP_K = 20  # passages a client may ask for (the slider's range)
MAX_QUEUE = 64  # requests waiting at most; more are refused at once ("queue full")
CACHE_SWEEP = (600, 1800)  # every 10 min, delete Gradio's temp uploads older than 30 min
UPDATING = prompts.UPDATING_INDEX
UPLOAD_WAIT_S = 60  # an upload request waits this long for its indexing, then returns


class Engine:
    """The process's one :class:`~rag.answer.assistant.Assistant`, loaded once in the background."""

    def __init__(self, config: Config | None = None, assistant: Any = None) -> None:
        self.config: Config = (
            assistant.config if assistant is not None else (config or Config.from_env())
        )
        self._assistant = assistant
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self.updating: str = ""  # what a background update is doing ("" when none)
        self.update_error: str = ""  # why the last background update failed
        if assistant is not None:
            self._ready.set()

    def start(self) -> Engine:
        if not self._ready.is_set():
            threading.Thread(target=self._load, name="rag-load", daemon=True).start()
        return self

    def _load(self) -> None:
        """Load the model and the index on disk and serve at once; a stale index (files
        added or changed since, e.g. an upload cut off by a crash) is brought up to date
        afterwards, in the background, while the previous one answers. Without a usable
        index (none yet, another embedding model), it is built first, as before."""
        stale: list[str] = []

        def note(message: str) -> None:
            if message.startswith("index is stale"):
                stale.append(message)
            _warn(message)

        try:
            from rag.answer.assistant import (
                Assistant,  # imports torch: keep it off the startup path
            )

            try:
                bot = Assistant.from_config(self.config, warn=note, auto_index=False)
                if bot.parts.index.manifest.get("embedding_model") != self.config.embedding_model:
                    bot.add_files([], warn=_warn)  # its vectors are useless: rebuild first
                    self._audit("ok", "index rebuilt for another embedding model")
                    stale.clear()
            except RagError:  # no index yet, or unusable: build it before serving
                bot = Assistant.from_config(self.config, warn=_warn, progress=True)
                self._audit("ok", "index built at startup")
            self._assistant = bot
            if stale:  # said before anyone is served, so the status line shows it
                self.updating = UPDATING
            print(f"rag: ready ({len(bot.documents)} documents)", file=sys.stderr)
        except Exception as exc:  # reported to every request
            self._error = exc
            _warn(f"could not load the engine: {exc}")
        finally:
            self._ready.set()
        if stale and self._error is None:
            self._update(stale[0])

    def _update(self, why: str) -> None:
        """Bring the served index up to date with the folders (questions keep being
        answered from the current generation meanwhile; the new one replaces it)."""
        self.updating = UPDATING
        _warn(f"{why}: serving it while it is updated in the background")
        t0 = time.perf_counter()
        try:
            report = self._assistant.add_files([], warn=_warn)
            _warn(f"background update done in {time.perf_counter() - t0:.1f} s: {report.summary()}")
            self._audit("ok", report.summary())
        except Exception as exc:  # the previous index keeps answering
            self.update_error = public_text(self.config, exc)
            self._audit("failed", str(exc))
            _warn(f"background update failed: {exc}")
        finally:
            self.updating = ""

    def _audit(self, result: str, detail: str) -> None:
        """An audit entry for a rebuild the server did on its own (user ``system``)."""
        try:
            audit.record(
                audit.audit_path(self.config.index_path), "system", "rebuild", result, "", detail
            )
        except OSError as exc:
            _warn(f"could not write the audit log: {exc}")

    def loaded(self) -> Any:
        """The assistant, for the HTTP services: :class:`RagError` while it loads (503)."""
        try:
            return self.assistant
        except gr.Error as exc:
            raise RagError(str(exc.message)) from None

    @property
    def assistant(self) -> Any:
        if not self._ready.wait(LOAD_TIMEOUT_S):
            raise gr.Error("The model and index are still loading; try again in a moment.")
        if self._error is not None:
            raise gr.Error(f"The engine could not load: {public_text(self.config, self._error)}")
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


def public_text(cfg: Config, text: object) -> str:
    """``text`` without configuration or server paths (see :func:`rag.app.render.redact`)."""
    secrets = [cfg.openai_base_url, cfg.milvus_uri, cfg.llm_model_path]
    secrets += [v for v in (cfg.openai_api_key, cfg.milvus_token) if v not in ("", "not-needed")]
    return render.redact(text, str(cfg.root.resolve()), secrets)


def _error(exc: Exception, cfg: Config) -> gr.Error:
    message = exc.message if isinstance(exc, gr.Error) else str(exc)
    return gr.Error(public_text(cfg, message))


def _public_answer(answer: Answer, cfg: Config) -> Answer:
    """``answer`` with its notes redacted (a fallback note names the failing server);
    the full notes go to the server's log."""
    shown = [public_text(cfg, n) for n in answer.notes]
    if shown != answer.notes:
        _warn(f"notes for {answer.question[:80]!r}: {answer.notes}")
        answer.notes = shown
    return answer


def _who(request: gr.Request | None) -> tuple[str, str]:
    """(session, client address) of a request, for the rate limits."""
    if request is None:
        return "-", "-"
    client = getattr(request, "client", None)
    return request.session_hash or "-", str(getattr(client, "host", None) or "-")


def _gradio_cache() -> Path:
    """Where Gradio keeps uploaded files (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    folder = os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"
    return Path(folder).resolve()


def discard_temp_uploads(paths: Sequence[Path]) -> None:
    """Delete Gradio's temporary copies of uploaded files (and their emptied folders),
    whatever the upload's outcome: the upload folder holds the accepted ones, and a
    rejected or removed file must not stay on disk or downloadable from the cache."""
    cache = _gradio_cache()
    for p in paths:
        path = Path(p).resolve()
        if not path.is_relative_to(cache) or path == cache:
            continue  # only ever Gradio's own temp files
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            if path.parent != cache:
                path.parent.rmdir()  # only when empty


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


class UploadJobs:
    """Uploads are indexed by one background worker, one batch at a time; a request
    waits for its own batch up to ``wait_s`` seconds and otherwise returns "still
    indexing" (a 5 MB text takes minutes to embed on a small machine). Questions keep
    being answered from the current index meanwhile; the status line tells the state,
    and a failure nobody waited for is shown there. At most ``max_pending`` batches wait.
    Gradio's temp copies are deleted when a batch is done, whatever its outcome.
    """

    def __init__(self, engine: Engine, wait_s: float, max_pending: int = 4) -> None:
        self.engine = engine
        self.wait_s = wait_s
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rag-upload")
        self._lock = threading.Lock()
        self._pending: dict[Future, list[str]] = {}
        self._detached: set[Future] = set()

    def add(self, paths: Sequence[Path], on_done: Any = None) -> Any:
        """The batch's build report, or None while it is still indexing; ``on_done``
        is called with the finished job (for the audit log), waited for or not."""
        with self._lock:
            if len(self._pending) >= self.max_pending:
                discard_temp_uploads(paths)
                raise RagError(prompts.UPLOADS_BUSY.format(n=len(self._pending)))
            job = self._pool.submit(self._run, list(paths))
            self._pending[job] = [Path(p).name for p in paths]
        job.add_done_callback(self._forget)
        if on_done is not None:
            job.add_done_callback(on_done)
        try:
            return job.result(timeout=self.wait_s)
        except TimeoutError:
            with self._lock:
                self._detached.add(job)
            return None

    def pending(self) -> list[str]:
        """Names of the files waiting or being indexed."""
        with self._lock:
            return [name for names in self._pending.values() for name in names]

    def _run(self, paths: list[Path]) -> Any:
        names = ", ".join(p.name for p in paths)
        self.engine.updating = prompts.INDEXING_UPLOADS.format(names=names)
        try:
            report = self.engine.assistant.add_files(paths, warn=_warn)
            self.engine.update_error = ""
            return report
        except Exception as exc:
            _warn(f"indexing {names} failed: {exc}")
            raise
        finally:
            discard_temp_uploads(paths)
            self.engine.updating = ""

    def _forget(self, job: Future) -> None:
        with self._lock:
            self._pending.pop(job, None)
            detached = job in self._detached
            self._detached.discard(job)
        if detached and job.exception() is not None:  # nobody got the error: show it
            self.engine.update_error = public_text(self.engine.config, job.exception())


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
        limits.check(action, *_who(request))
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
    :mod:`rag.app.auth`): every event below checks the caller's role on the server."""
    cfg = engine.config
    access = access if access is not None else app_auth.Access(cfg)
    if limits is None:
        limits = (
            RequestLimits.around(limiter, cfg)
            if limiter is not None
            else RequestLimits.from_config(cfg)
        )
    issued = feedback.IssuedAnswers()  # what /ask answered, for /feedback to refer to
    if upload_wait_s is None:
        upload_wait_s = float(setting(cfg, "upload_wait_s", UPLOAD_WAIT_S))
    jobs = UploadJobs(engine, upload_wait_s)

    def check(action: str, request: gr.Request | None, file: str = "") -> None:
        authorize(access, limits, action, request, file)

    def backends(request: gr.Request | None) -> list[str]:
        return access.backends(request, enabled_backends(cfg))

    def doc_views() -> tuple[str, str, Any]:
        return document_views(engine)

    def doc_list() -> list[dict[str, Any]]:
        return document_list(engine)

    def add_uploads(files: Sequence[str], request: gr.Request | None) -> Any:
        """Index uploaded files (see :class:`UploadJobs`: None while still indexing);
        Gradio's temp copies are deleted whatever happens."""
        paths = [Path(f) for f in files]
        label = app_auth.files_label(files)
        try:
            check("upload", request, label)
            engine.assistant  # noqa: B018 - a clear error while the engine is not ready
        except BaseException:
            discard_temp_uploads(paths)
            raise
        user = access.name(request)
        try:
            return jobs.add(paths, on_done=upload_audit(access, cfg, user, label))
        except RagError as exc:  # too many waiting
            access.record(user, "upload", "refused", label, str(exc))
            raise

    def remove(source: str, request: gr.Request | None) -> Any:
        check("remove", request, source)
        return remove_audited(engine, access, source, request)

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
            check("ask", request)
            stream = engine.assistant.stream(
                question, _history(turns), **_settings(backend, k, hybrid, cfg, backends(request))
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
            message = public_text(cfg, exc.message if isinstance(exc, gr.Error) else str(exc))
            failed = [*failed, (turn, question, message)]
            chat = render.chat_messages(turns, failed)
            yield gr.skip(), chat, gr.skip(), failed, gr.skip(), gr.skip()
            return
        assert answer is not None
        turns = [*turns, _public_answer(answer, cfg)]
        yield (
            gr.skip(),
            render.chat_messages(turns, failed),
            turns,
            gr.skip(),
            render.sources_html(answer, turn),
            render.details_html(answer, turn),
        )

    def on_select(value: str, turns: list[Answer], request: gr.Request) -> tuple[Any, Any]:
        access.require("read", request)
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

    def on_clear(request: gr.Request) -> tuple[Any, ...]:
        access.require("ask", request)
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
        try:
            check("feedback", request)
        except gr.Error as exc:
            return render.esc(exc.message), gr.skip()
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
        try:
            check("feedback", request)
            rec = feedback.save(
                cfg.path(cfg.feedback_path),
                turns[rated["turn"]],
                rated["rating"],
                text,
                session=request.session_hash or "",
                turn=rated["turn"],
                replaces=rated["id"],
            )
        except (RagError, gr.Error) as exc:
            return render.esc(_error(exc, cfg).message), gr.skip(), gr.skip()
        return f"Comment saved for answer {rated['turn'] + 1}.", "", {**rated, "id": rec["id"]}

    # ------------------------------------------------------------------ documents

    def on_add(
        files: list[str] | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        if not files:
            return ("Choose one or more files first.", *(gr.skip(),) * 4)
        progress(0.1, desc=f"Reading and indexing {len(files)} file(s)")
        try:
            report = add_uploads(files, request)
        except (RagError, gr.Error) as exc:  # the temp files are gone: the picker is cleared
            reason = render.esc(_error(exc, cfg).message)
            return (f"**{prompts.NOTHING_ADDED.format(reason=reason)}**", *(gr.skip(),) * 3, None)
        progress(1.0, desc="Done")
        if report is None:
            names = ", ".join(Path(f).name for f in files)
            return (render.esc(prompts.STILL_INDEXING.format(names=names)), *doc_views(), None)
        names = ", ".join(Path(source).name for source in report.added)
        return (
            f"Added {render.esc(names)}. {render.esc(public_text(cfg, report.summary()))}",
            *doc_views(),
            None,
        )

    def on_remove(source: str | None, request: gr.Request) -> tuple[Any, ...]:
        if not source:
            return ("Pick an uploaded document to remove.", *(gr.skip(),) * 3)
        try:
            report = remove(source, request)
        except (RagError, KeyError, gr.Error) as exc:
            message = _error(exc, cfg).message
            return (f"**Not removed:** {render.esc(message)}", *(gr.skip(),) * 3)
        summary = public_text(cfg, report.summary())
        return (f"Removed {render.esc(source)}. {render.esc(summary)}", *doc_views())

    def on_load(request: gr.Request) -> tuple[Any, ...]:
        try:
            access.require("read", request)
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
        check("ask", request)
        try:
            answer = engine.assistant.ask(
                question,
                _history(turns),
                **_settings(backend, top_k, hybrid, cfg, backends(request)),
            )
        except (RagError, gr.Error) as exc:
            raise _error(exc, cfg) from None
        answer = _public_answer(answer, cfg)
        return {**answer.to_dict(), "answer_id": issued.issue(answer)}, [*turns, answer]

    def api_reset(request: gr.Request) -> list[Answer]:
        access.require("ask", request)
        return []

    def api_documents(request: gr.Request) -> list[dict[str, Any]]:
        access.require("read", request)
        return doc_list()

    def api_document(source: str, request: gr.Request) -> dict[str, Any]:
        access.require("read", request)
        try:
            doc = engine.assistant.document(source)
        except (KeyError, RagError) as exc:
            raise gr.Error(f"No indexed document {source!r}") from exc
        return {**doc.meta(), "text": doc.text}

    def api_upload(files: list[str] | None, request: gr.Request) -> dict[str, Any]:
        if not files:
            raise gr.Error("No files given.")
        try:
            report = add_uploads(files, request)
        except RagError as exc:
            raise gr.Error(prompts.NOTHING_ADDED.format(reason=public_text(cfg, exc))) from None
        if report is None:
            names = ", ".join(Path(f).name for f in files)
            summary = prompts.STILL_INDEXING.format(names=names)
            return {
                "added": [],
                "pending": jobs.pending(),
                "summary": summary,
                "documents": doc_list(),
            }
        summary = public_text(cfg, report.summary())
        return {"added": report.added, "summary": summary, "documents": doc_list()}

    def api_remove(source: str, request: gr.Request) -> dict[str, Any]:
        try:
            report = remove(source, request)
        except (RagError, KeyError) as exc:
            raise _error(exc, cfg) from None
        summary = public_text(cfg, report.summary())
        return {"removed": source, "summary": summary, "documents": doc_list()}

    def api_feedback(answer: Any, rating: str, comment: str, request: gr.Request) -> dict[str, Any]:
        """Rate an answer this server gave: ``answer`` is the /ask result (its
        ``answer_id`` is all that is read) or the id itself."""
        check("feedback", request)
        answer_id = answer.get("answer_id") if isinstance(answer, dict) else answer
        given = issued.get(answer_id)
        if given is None:
            raise gr.Error(prompts.UNKNOWN_ANSWER.format(answer_id=str(answer_id)[:40]))
        try:
            return feedback.save(
                cfg.path(cfg.feedback_path),
                given,
                rating,
                comment or "",
                session=request.session_hash or "",
            )
        except RagError as exc:
            raise _error(exc, cfg) from None

    # ------------------------------------------------------------------ layout

    with gr.Blocks(title=TITLE, delete_cache=CACHE_SWEEP) as demo:
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
                        enabled_backends(cfg),
                        value=next(iter({cfg.backend} & {*enabled_backends(cfg)}), "extractive"),
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
                app_auth.admin_panel(demo, access, backend, enabled_backends(cfg))
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
            api_documents,
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
    demo.rag_limits = limits  # type: ignore[attr-defined]  # for launch()'s FloodGuard
    demo.rag_access = access  # type: ignore[attr-defined]  # for launch()'s login
    demo.rag_services = service_routes(engine.loaded, cfg)  # type: ignore[attr-defined]
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
    max_queue: int = MAX_QUEUE,
) -> Any:
    """Start the server with the queue on (``concurrency`` requests at a time, at most
    ``max_queue`` waiting: a flood beyond that is refused at once, not queued for minutes).

    ``max_upload_mb`` makes Gradio refuse larger files while they are being
    received, before they reach its cache folder (the app checks again on add).
    With users configured (``build``'s ``access``), a login is required and failed logins
    are throttled per address (:class:`rag.app.auth.LoginGuard`).
    """
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
