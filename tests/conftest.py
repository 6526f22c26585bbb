"""Shared fixtures: a real index over the bundled seeds, built once per test session.

Everything here is real: the packaged MiniLM model, FAISS, bm25s. Tests that change
an index get their own copy in a temp folder (``fresh_config``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import Config

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DATASET = ROOT / "eval" / "datasets" / "seeds_dev.jsonl"


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
    from rag.embeddings import Embedder

    return Embedder(seed_config.embedding_model)


@pytest.fixture(scope="session")
def assistant(seed_config: Config):
    """One Assistant over the seeds for the whole session (models load once)."""
    from rag.answer import Assistant

    return Assistant.from_config(seed_config)


@pytest.fixture()
def fresh_config(tmp_path: Path) -> Config:
    """A private project root with its own copy of the seeds and no index yet."""
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return Config.from_env({"root": tmp_path}, environ={})
