"""The app's engine: the process's one assistant, loaded in the background while the
page is served, and the upload worker that indexes files off the request.

Everything here is independent of the page's layout (:mod:`rag.app.page`) and of its
event handlers (:mod:`rag.app.handlers`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr

from rag import prompts
from rag.app import render
from rag.config import Config
from rag.errors import RagError
from rag.server import audit

LOAD_TIMEOUT_S = 600.0
_CLOSING = threading.Event()
_PREFETCHERS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


@atexit.register
def _stop_prefetchers() -> None:
    """At exit, stop the sentence-prefetch threads and wait for their current batch: a
    daemon thread still inside the encoder's native code while the interpreter shuts down
    aborts the process ("terminate called without an active exception", exit 134)."""
    _CLOSING.set()
    for thread in list(_PREFETCHERS):
        thread.join(timeout=30)


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
        self._prefetch_lock = threading.Lock()
        self._prefetching = self._prefetch_again = False
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
            warn(message)

        try:
            from rag.answer.assistant import (
                Assistant,  # imports torch: keep it off the startup path
            )

            try:
                bot = Assistant.from_config(self.config, warn=note, auto_index=False)
                if bot.parts.index.manifest.get("embedding_model") != self.config.embedding_model:
                    bot.add_files([], warn=warn)  # its vectors are useless: rebuild first
                    self._audit("ok", "index rebuilt for another embedding model")
                    stale.clear()
            except RagError:  # no index yet, or unusable: build it before serving
                bot = Assistant.from_config(self.config, warn=warn, progress=True)
                self._audit("ok", "index built at startup")
            warm_up(bot)
            self._assistant = bot
            self.prefetch()
            self.warm_models()
            if stale:  # said before anyone is served, so the status line shows it
                self.updating = UPDATING
            print(f"rag: ready ({len(bot.documents)} documents)", file=sys.stderr)
        except Exception as exc:  # reported to every request
            self._error = exc
            warn(f"could not load the engine: {exc}")
        finally:
            self._ready.set()
        if stale and self._error is None:
            self._update(stale[0])

    def _update(self, why: str) -> None:
        """Bring the served index up to date with the folders (questions keep being
        answered from the current generation meanwhile; the new one replaces it)."""
        self.updating = UPDATING
        warn(f"{why}: serving it while it is updated in the background")
        background_priority()  # this thread only embeds now: questions come first
        t0 = time.perf_counter()
        try:
            report = self._assistant.add_files([], warn=warn, progress=self.progress(UPDATING))
            warn(f"background update done in {time.perf_counter() - t0:.1f} s: {report.summary()}")
            self.prefetch()
            self._audit("ok", report.summary())
        except Exception as exc:  # the previous index keeps answering
            self.update_error = public_text(self.config, exc)
            self._audit("failed", str(exc))
            warn(f"background update failed: {exc}")
        finally:
            self.updating = ""

    def progress(self, status: str) -> Callable[[int, int], None]:
        """A callback for :meth:`Assistant.add_files` that keeps the status line at
        ``status`` plus how far the embedding is ("… 120 of 374 new passages (32%)")."""

        def report(done: int, total: int) -> None:
            percent = int(100 * done / total) if total else 100
            self.updating = prompts.EMBEDDING_PROGRESS.format(
                status=status, done=done, total=total, percent=percent
            )

        return report

    def _audit(self, result: str, detail: str) -> None:
        """An audit entry for a rebuild the server did on its own (user ``system``)."""
        try:
            audit.record(
                audit.audit_path(self.config.index_path), "system", "rebuild", result, "", detail
            )
        except OSError as exc:
            warn(f"could not write the audit log: {exc}")

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

    def warm_models(self) -> None:
        """Start the local model of an enabled ``llamacpp`` backend that is not the default
        (the warm-up question loaded that one) in a background thread, so that the first
        question on it does not wait for the model to start (~1-3 s)."""
        bot = self._assistant
        names = [
            b for b in self.config.enabled_backends() if b == "llamacpp" != self.config.backend
        ]
        if bot is None or not names:
            return

        def start() -> None:
            for name in names:
                t0 = time.perf_counter()
                try:
                    bot.warm_backend(name)
                except Exception as exc:  # the first question on it reports it, and falls back
                    warn(f"could not start the {name} backend ahead of questions: {exc}")
                    continue
                secs = time.perf_counter() - t0
                warn(f"{name} backend started ahead of questions in {secs:.1f} s")

        threading.Thread(target=start, name="rag-llm-warm", daemon=True).start()

    def prefetch(self) -> None:
        """Embed the corpus' sentences ahead of questions in a low-priority thread (see
        :meth:`rag.answer.assistant.Assistant.prefetch_sentences`); one such thread at a
        time, and a call while it runs makes it go over the (new) index once more."""
        if not self.config.prefetch_sentences or self._assistant is None:
            return
        with self._prefetch_lock:
            self._prefetch_again = True
            if self._prefetching:
                return
            self._prefetching = True
        thread = threading.Thread(target=self._prefetch_loop, name="rag-prefetch", daemon=True)
        _PREFETCHERS.add(thread)
        thread.start()

    def _prefetch_loop(self) -> None:
        background_priority()  # its own thread: questions come first
        while True:
            with self._prefetch_lock:
                if not self._prefetch_again or _CLOSING.is_set():
                    self._prefetching = False
                    return
                self._prefetch_again = False
            t0 = time.perf_counter()
            try:
                n = self._assistant.prefetch_sentences(
                    stop=lambda: self._prefetch_again or _CLOSING.is_set()
                )
            except Exception as exc:  # questions embed their sentences themselves then
                warn(f"embedding sentences ahead of questions failed: {exc}")
                continue
            if n:
                warn(
                    f"{n} sentences embedded ahead of questions in {time.perf_counter() - t0:.1f} s"
                )


def warm_up(bot: Any) -> None:
    """Answer one throw-away question, so that the first user's question does not pay for
    the answer chain's first run (measured: 1.3 s cold, 0.1 s warm on 2 cores)."""
    t0 = time.perf_counter()
    try:
        bot.ask(prompts.WARM_UP_QUESTION)
    except Exception as exc:  # a warm-up must never keep the app from serving
        warn(f"warm-up question failed ({type(exc).__name__}: {exc}); serving anyway")
        return
    warn(f"answer chain warmed up in {time.perf_counter() - t0:.1f} s")


def background_priority() -> None:
    """Lower the calling (background) thread's CPU priority, so that the embedding it
    does (ONNX Runtime sessions created in it inherit it) leaves the cores to questions."""
    from rag.embed.encoder import lower_thread_priority

    lower_thread_priority()


def warn(msg: str) -> None:
    print(f"rag: {msg}", file=sys.stderr)


def public_text(cfg: Config, text: object) -> str:
    """``text`` without configuration or server paths (see :func:`rag.app.render.redact`)."""
    secrets = [cfg.openai_base_url, cfg.milvus_uri, cfg.llm_model_path]
    secrets += [v for v in (cfg.openai_api_key, cfg.milvus_token) if v not in ("", "not-needed")]
    return render.redact(text, str(cfg.root.resolve()), secrets)


def _gradio_cache() -> Path:
    """Where Gradio keeps uploaded files (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    folder = os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"
    return Path(folder).resolve()


_TEMP_LOCK = threading.Lock()
_TEMP_CLAIMS: Counter[Path] = Counter()


def claim_temp_uploads(paths: Sequence[Path]) -> None:
    """Mark Gradio temp copies as in use by one more upload request. Gradio names a
    copy by its content's hash, so two clients uploading the same bytes under the same
    name share one path: it may be deleted only when the last of them is done."""
    with _TEMP_LOCK:
        _TEMP_CLAIMS.update(Path(p).resolve() for p in paths)


def discard_temp_uploads(paths: Sequence[Path]) -> None:
    """Release the request's claim on Gradio's temporary copies of uploaded files and
    delete each (and its emptied folder) that no other upload still uses, whatever
    the upload's outcome: the upload folder holds the accepted ones, and a rejected
    or removed file must not stay on disk or downloadable from the cache."""
    cache = _gradio_cache()
    for p in paths:
        path = Path(p).resolve()
        with _TEMP_LOCK:
            if _TEMP_CLAIMS[path] > 1:
                _TEMP_CLAIMS[path] -= 1
                continue  # another request still reads it
            _TEMP_CLAIMS.pop(path, None)
            if not path.is_relative_to(cache) or path == cache:
                continue  # only ever Gradio's own temp files
            with contextlib.suppress(OSError):
                path.unlink()
            with contextlib.suppress(OSError):
                if path.parent != cache:
                    path.parent.rmdir()  # only when empty


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
        status = prompts.INDEXING_UPLOADS.format(names=names)
        self.engine.updating = status
        background_priority()  # the upload worker's thread: questions come first
        try:
            report = self.engine.assistant.add_files(
                paths, warn=warn, progress=self.engine.progress(status)
            )
            self.engine.update_error = ""
            self.engine.prefetch()  # the new documents' sentences, ahead of questions
            return report
        except Exception as exc:
            warn(f"indexing {names} failed: {exc}")
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
