"""Test helpers for the generative backends: a real llama.cpp server and dead endpoints.

``LlamaServer`` runs ``python -m llama_cpp.server`` with a GGUF (SmolLM2-135M by
default) on 127.0.0.1 and a free port; ``closed_port`` gives a port nobody listens
on; ``silent_server`` accepts connections and never answers (a hanging server).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port with nothing listening: connecting to it is refused at once."""
    return free_port()


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A base URL whose server accepts connections but never sends a byte back."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        s.listen(16)  # the kernel completes handshakes; nobody ever reads or answers
        yield f"http://{HOST}:{s.getsockname()[1]}/v1"


class LlamaServer:
    """``python -m llama_cpp.server`` in a subprocess, bound to 127.0.0.1 only."""

    def __init__(self, model: Path, *, threads: int = 2, n_ctx: int = 4096) -> None:
        self.model = Path(model)
        self.threads = threads
        self.n_ctx = n_ctx
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self, timeout_s: float = 60.0) -> LlamaServer:
        """Start the server and wait (at most ``timeout_s``) until it lists its model."""
        self.port = free_port()
        fd, log = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        self.log_path = Path(log)
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--n_threads",
            str(self.threads),
            "--n_ctx",
            str(self.n_ctx),
        ]
        with os.fdopen(fd, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if json.load(r).get("data"):
                        return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"llama_cpp.server not ready after {timeout_s:g} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Terminate the server process (this one only) and remove its log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
