"""Shared fixtures: a real index over the bundled seeds, built once per test session.

Everything here is real: the packaged MiniLM model, FAISS, bm25s. Tests that change
an index get their own copy in a temp folder (``fresh_config``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from rag.config import Config
from rag.types import Chunk

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DATASET = ROOT / "eval" / "datasets" / "seeds_dev.jsonl"


def rag_env(root: Path, **variables: str) -> dict[str, str]:
    """The environment of a `rag` process over the project at ``root`` (plus ``RAG_*``)."""
    return {**os.environ, "RAG_ROOT": str(root), "HF_HUB_OFFLINE": "1", **variables}


def run_rag(
    args: list[str],
    root: Path,
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m rag ARGS`` as a user runs it, over the project at ``root``."""
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        capture_output=True,
        text=True,
        env=rag_env(root, **(env or {})),
        cwd=ROOT,
        timeout=timeout,
        input=stdin,
    )


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root with a copy of the seeds; its index is built once and shared."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(SEEDS, root / "seeds")
    return root


@pytest.fixture(scope="session")
def seed_config(session_dir: Path) -> Config:
    """Config over the session copy of the seeds (read-only use, please)."""
    return Config.from_env({"root": session_dir}, environ={})


@pytest.fixture(scope="session")
def embedder(seed_config: Config):
    from rag.embed.encoder import Embedder

    return Embedder(seed_config.embedding_model)


def assistant_over(root: Path, docs: Mapping[str, str]):
    """An Assistant over ``docs`` (file name -> text) written to ``root/seeds``: its own
    index, the real models, no environment settings."""
    from rag.answer.assistant import Assistant

    (root / "seeds").mkdir()
    for name, text in docs.items():
        (root / "seeds" / name).write_text(text, encoding="utf-8")
    return Assistant.from_config(Config.from_env({"root": root}, environ={}))


def sentence_of(text: str, words: str) -> Chunk:
    """The sentence of ``text`` that starts at ``words`` (up to its full stop), as a chunk
    with offsets into ``text``: what the neighbour rules (rag.answer.neighbours) take."""
    start = text.index(words)
    end = text.index(".", start) + 1
    return Chunk("d", "d", "doc.md", "", start, end, text[start:end])


def gate_features(
    bot,
    question: str,
    sentence: str,
    context: tuple[set[str], set[str]] = (set(), set()),
    doc_text: str | None = None,
    scores: tuple[float, float, float] = (0.6, 0.6, 1.0),
) -> dict[str, float]:
    """The abstention gate's features (:func:`rag.answer.abstain.features`, by name) of
    ``sentence`` as the answer to ``question``, with ``bot``'s corpus statistics: its
    context (neighbour terms, label terms), its document (the sentence alone by default)
    and its (semantic, lexical, typed) scores; no passages retrieved."""
    from rag.answer import abstain

    doc = sentence if doc_text is None else doc_text
    x = abstain.features(question, sentence, context, doc, scores, 0.0, [], bot._corpus_stats())
    return dict(zip(abstain.FEATURES, x, strict=True))


@pytest.fixture(scope="session")
def assistant(seed_config: Config):
    """One Assistant over the seeds for the whole session (models load once)."""
    from rag.answer.assistant import Assistant

    return Assistant.from_config(seed_config)


@pytest.fixture()
def fresh_config(tmp_path: Path) -> Config:
    """A private project root with its own copy of the seeds and no index yet."""
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return Config.from_env({"root": tmp_path}, environ={})


STORES = ["faiss", "milvus"]


def _milvus_available() -> bool:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        return False
    return True


def with_store(config: Config, store: str) -> Config:
    """``config`` on ``store``; Milvus uses a Milvus Lite file in the project's root."""
    if store == "milvus" and not _milvus_available():
        pytest.skip("the Milvus store needs pymilvus + milvus-lite")
    return config.replace(store=store, milvus_uri=str(config.root / "milvus.db"))


@pytest.fixture(scope="session", params=STORES)
def store_assistant(request: pytest.FixtureRequest, assistant, tmp_path_factory):
    """The seed Assistant on each vector store: the shared FAISS one, and one whose index
    lives in a real Milvus Lite database. Suites that take this run on both stores."""
    if request.param == "faiss":
        return assistant
    from rag.answer.assistant import Assistant

    root = tmp_path_factory.mktemp("milvus-project")
    shutil.copytree(SEEDS, root / "seeds")
    config = with_store(Config.from_env({"root": root}, environ={}), "milvus")
    bot = Assistant.from_config(config)
    assert bot.parts.index.store.kind == "milvus"
    return bot


@pytest.fixture(params=STORES)
def store_config(request: pytest.FixtureRequest, fresh_config: Config) -> Config:
    """A fresh project (no index yet) on each vector store."""
    return with_store(fresh_config, request.param)
