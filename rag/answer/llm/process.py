"""The local GGUF model in a child process that this process starts, watches and restarts.

llama.cpp is native code: a build for the wrong CPU, a broken GGUF or a runaway
allocation can crash (SIGSEGV) or hang the process it runs in. So the ``llamacpp``
backend never loads the model into the app's process. :class:`ModelProcess` runs
``llama_cpp.server`` (through :mod:`rag.answer.llm.child`, which ties the child's life to
ours and caps its memory) on a free 127.0.0.1 port, waits until it lists its model,
and starts a new one when the old one has died. One model serves every session of
the process: :meth:`ModelProcess.turn` hands it to one question at a time.

    proc = ModelProcess.shared(ChildSpec(model=Path("model.gguf")))
    with proc.turn(timeout_s=60):
        url = proc.ensure_running()   # http://127.0.0.1:PORT/v1, OpenAI-compatible
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.answer.llm.child import MEMORY_ENV
from rag.errors import BackendError, ModelLoadError

HOST = "127.0.0.1"
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
UBATCH = 128
"""Prompt tokens per llama.cpp compute step (the server's default: 512). Smaller steps
keep the working set in cache on a small shared CPU; measured below."""


@dataclass(frozen=True)
class ChildSpec:
    """What one model process is: the GGUF and the llama.cpp settings fixed at load."""

    model: Path
    chat_format: str | None = None  # None: the template stored in the GGUF
    n_ctx: int = 4096
    threads: int = 2
    memory_mb: int = 0  # address-space cap of the child; 0: none
    n_ubatch: int = UBATCH

    def argv(self, port: int) -> list[str]:
        """The ``llama_cpp.server`` arguments, set for the time to first token.

        * ``--logits_all false``: the server's default (true) computes and copies the
          vocabulary's logits for every prompt token, not only the last: for SmolLM2
          (49k vocabulary, 135M weights) ~a quarter more work in reading the prompt, and
          an n_ctx x vocabulary float array (800 MB at 4096). Nothing here asks for
          logprobs, the one thing it serves.
        * ``--n_threads_batch``: prompt reading on the same threads as generation (the
          server's default is every core of the machine, not our share).
        * ``--n_ubatch``: see :data:`UBATCH`.
        """
        args = ["--model", str(self.model), "--host", HOST, "--port", str(port)]
        args += ["--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads)]
        args += ["--n_threads_batch", str(self.threads), "--logits_all", "false"]
        args += ["--n_ubatch", str(self.n_ubatch)]
        if self.chat_format:
            args += ["--chat_format", self.chat_format]
        return args


def describe_exit(returncode: int) -> str:
    """How a process ended, for a user: "crashed (SIGSEGV)", "was killed (SIGKILL)", ..."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"was stopped by signal {-returncode}"
        return f"crashed ({sig.name})" if sig in CRASH_SIGNALS else f"was killed ({sig.name})"
    return f"exited with status {returncode}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ModelProcess:
    """A supervised ``llama_cpp.server`` child on 127.0.0.1 (see the module docstring)."""

    _shared: dict[ChildSpec, ModelProcess] = {}
    _shared_lock = threading.Lock()

    def __init__(self, spec: ChildSpec, *, start_timeout_s: float = 60.0) -> None:
        self.spec = spec
        self.start_timeout_s = start_timeout_s
        self.starts = 0  # children started so far (a restart adds one)
        self.last_exit: str | None = None  # how the previous child ended
        self.in_use = 0  # questions using the model right now (never above 1)
        self.max_in_use = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._log: Path | None = None
        self._lock = threading.Lock()  # start/stop
        self._turn = threading.Lock()  # one generation at a time
        _LIVE.add(self)

    @classmethod
    def shared(cls, spec: ChildSpec, *, start_timeout_s: float = 60.0) -> ModelProcess:
        """The one process of this Python process for ``spec`` (created on first use)."""
        with cls._shared_lock:
            proc = cls._shared.get(spec)
            if proc is None:
                proc = cls._shared[spec] = cls(spec, start_timeout_s=start_timeout_s)
            return proc

    # ------------------------------------------------------------------ state

    @property
    def pid(self) -> int | None:
        """The running child's process id (None when there is none)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._port}/v1"

    def exit_status(self, wait_s: float = 0.0) -> str | None:
        """How the current child ended (waiting up to ``wait_s`` for it), or None if it runs."""
        proc = self._proc
        if proc is None:
            return self.last_exit
        try:
            code = proc.wait(timeout=wait_s) if wait_s > 0 else proc.poll()
        except subprocess.TimeoutExpired:
            return None
        return None if code is None else describe_exit(code)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the child's output (for logs and errors, never for end users)."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-chars:]

    # ------------------------------------------------------------------ turns

    @contextlib.contextmanager
    def turn(self, timeout_s: float) -> Iterator[None]:
        """Hold the model for one question; wait at most ``timeout_s`` for the others."""
        if not self._turn.acquire(timeout=max(timeout_s, 0.0)):
            raise BackendError(
                f"the local model was busy with other questions for {timeout_s:g} s "
                "(it answers one at a time; the wait is RAG_LLM_TIMEOUT_S)",
                kind="busy",
            )
        self.in_use += 1
        self.max_in_use = max(self.max_in_use, self.in_use)
        try:
            yield
        finally:
            self.in_use -= 1
            self._turn.release()

    # ------------------------------------------------------------------ life cycle

    def ensure_running(self) -> str:
        """The base URL of a running child, starting one if there is none or it died.

        Raises :class:`ModelLoadError` when the child cannot start.
        """
        with self._lock:
            if self._proc is not None and self._proc.poll() is not None:
                self.last_exit = describe_exit(self._proc.returncode)
                self._cleanup()
            if self._proc is None:
                self._start()
            return self.base_url

    def kill(self) -> None:
        """End the child now (SIGKILL): it hangs or must not finish what it is doing."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        """End the child politely (SIGTERM, then SIGKILL after 5 s) and remove its log."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def _start(self) -> None:
        for _attempt in range(3):  # another process may take the free port first
            self._spawn()
            try:
                self._wait_ready()
                self.starts += 1
                return
            except _PortTaken:
                self._cleanup()
        raise ModelLoadError("the local model process could not get a free port on 127.0.0.1")

    def _spawn(self) -> None:
        self._port = free_port()
        fd, log = tempfile.mkstemp(prefix="rag-llm-", suffix=".log")
        self._log = Path(log)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            MEMORY_ENV: str(self.spec.memory_mb),
            "MALLOC_ARENA_MAX": "2",  # fewer glibc arenas: less address space under the cap
            # OpenMP threads that sleep when idle instead of spinning: on 2 shared cores
            # the spinning pool starves itself (measured under load 12: prompt 15-18 ->
            # 36-37 tokens/s, generation 0.8-1.7 -> 9-16 tokens/s); an explicit setting wins.
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        }
        with os.fdopen(fd, "wb") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rag.answer.llm.child", *self.spec.argv(self._port)],
                stdin=subprocess.PIPE,  # never written: its end of file tells the child we died
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it
            )

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_tail()
                status = describe_exit(self._proc.returncode)
                self.last_exit = status
                if "address already in use" in tail.lower():
                    raise _PortTaken
                self._cleanup()
                raise ModelLoadError(
                    f"the local model process {status} while loading {self.spec.model.name}: "
                    f"{_last_error_line(tail)}"
                )
            if _lists_a_model(self.base_url):
                return
            time.sleep(0.1)
        self.kill()
        self._cleanup()
        raise ModelLoadError(
            f"the local model process did not start within {self.start_timeout_s:g} s "
            f"({self.spec.model.name})"
        )


class _PortTaken(Exception):
    """The child could not bind its port (taken between our check and its bind)."""


def _lists_a_model(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
            return bool(json.load(reply).get("data"))
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _last_error_line(log: str) -> str:
    """The most telling line of a child's output: the last one naming an error."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for line in reversed(lines):
        if any(w in line.lower() for w in ("error", "failed", "cannot", "unable", "memory")):
            return line[:200]
    return lines[-1][:200] if lines else "no output"


_LIVE: weakref.WeakSet[ModelProcess] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            proc.stop()
