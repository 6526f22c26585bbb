"""Test helpers for the generative backends: a real llama.cpp server and dead endpoints.

``LlamaServer`` runs ``python -m llama_cpp.server`` with a GGUF (SmolLM2-135M by
default) on 127.0.0.1 and a free port; ``closed_port`` gives a port nobody listens
on; ``silent_server`` accepts connections and never answers (a hanging server).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from rag.answer.llm.process import HOST, ChildSpec, ModelProcess, free_port


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
    """``python -m llama_cpp.server`` in a subprocess, bound to 127.0.0.1 only.

    The same supervised child the ``llamacpp`` backend uses (:class:`ModelProcess`),
    here started by hand so that the ``openai`` backend can be pointed at it.
    """

    def __init__(self, model: Path, *, threads: int = 2, n_ctx: int = 4096) -> None:
        self.process = ModelProcess(ChildSpec(model=Path(model), n_ctx=n_ctx, threads=threads))

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def start(self, timeout_s: float = 60.0) -> LlamaServer:
        """Start the server and wait (at most ``timeout_s``) until it lists its model."""
        self.process.start_timeout_s = timeout_s
        self.process.ensure_running()
        return self

    def stop(self) -> None:
        """Terminate the server process (this one only) and remove its log."""
        self.process.stop()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
