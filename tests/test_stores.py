"""The same retrieval and answer checks against both vector stores: FAISS and Milvus Lite.

Milvus runs for real: a Milvus Lite database file in the test's temp folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.answer import Assistant
from rag.config import Config
from rag.index import build_index, load_index
from tests.conftest import ROOT

pytest.importorskip("pymilvus", reason="the Milvus store needs pymilvus + milvus-lite")

FACTS = [
    ("How many hotline calls did the border guards make?", "making 113 hotline calls"),
    ("Who was the head of the Chinese delegation?", "head of the Chinese delegation"),
    ("Which freight route should be formally launched?", "Tân Thanh–Pò Chài freight route"),
    ("Tan Thanh Po Chai", "Tân Thanh–Pò Chài"),
]


@pytest.fixture(params=["faiss", "milvus"])
def store_config(request: pytest.FixtureRequest, fresh_config: Config) -> Config:
    return fresh_config.replace(store=request.param, milvus_uri=str(fresh_config.root / "m.db"))


def test_retrieval_and_answers_on_both_stores(store_config: Config, embedder) -> None:
    report = build_index(store_config, embedder, progress=False)
    assert report.chunks > 0
    index = load_index(store_config)
    assert index.store.kind == ("milvus" if store_config.store == "milvus" else "flat")
    assert index.manifest["store"]["kind"] == store_config.store
    bot = Assistant.from_config(store_config)
    for question, evidence in FACTS:
        hits = bot.search(question, 3).hits
        assert any(evidence in h.chunk.text for h in hits), question
    ans = bot.ask("How many hotline calls did the two border forces make in 2025?")
    assert "113" in ans.answer and "113 hotline calls" in ans.citations[0].quote
    only = bot.search("border gate", 5, sources=["seeds/002_4a7f68795f813e4f.txt"]).hits
    assert only and all(h.chunk.source == "seeds/002_4a7f68795f813e4f.txt" for h in only)


def test_milvus_keeps_ids_offsets_and_metadata(fresh_config: Config, embedder) -> None:
    cfg = fresh_config.replace(store="milvus", milvus_uri=str(fresh_config.root / "m.db"))
    build_index(cfg, embedder, progress=False)
    index = load_index(cfg)
    rows = {r["id"]: r for r in index.store.rows(list(range(len(index.chunks))))}
    assert len(rows) == len(index.chunks)
    for i, chunk in enumerate(index.chunks):
        r = rows[i]
        assert (r["chunk_id"], r["doc_id"], r["source"], r["start"], r["end"]) == (
            chunk.chunk_id,
            chunk.doc_id,
            chunk.source,
            chunk.start,
            chunk.end,
        )
        assert index.document(r["doc_id"]).text[r["start"] : r["end"]] == chunk.text
    # vectors come back as they went in (FAISS would return the same)
    vec = index.store.reconstruct(np.array([0]))[0]
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4


def test_milvus_reindex_removes_old_chunks(fresh_config: Config, embedder) -> None:
    cfg = fresh_config.replace(store="milvus", milvus_uri=str(fresh_config.root / "m.db"))
    build_index(cfg, embedder, progress=False)
    extra = cfg.corpus_path / "extra.md"
    extra.write_text("# Extra\n\nThe Cốc Nam gate opens at 7am every day for cargo trucks.")
    build_index(cfg, embedder, progress=False)
    with_extra = load_index(cfg)
    assert any(c.source == "seeds/extra.md" for c in with_extra.chunks)
    extra.unlink()
    report = build_index(cfg, embedder, progress=False)
    assert report.embedded == 0
    index = load_index(cfg)
    assert len(index.store) == len(index.chunks)
    sources = {r["source"] for r in index.store.rows(list(range(len(index.chunks))))}
    assert "seeds/extra.md" not in sources
    bot = Assistant.from_config(cfg)
    assert all(h.chunk.source != "seeds/extra.md" for h in bot.search("Cốc Nam gate 7am", 5).hits)


def test_migrate_faiss_index_to_milvus_without_reembedding(fresh_config: Config, embedder) -> None:
    build_index(fresh_config, embedder, progress=False)
    faiss_index = load_index(fresh_config)
    env = {
        **os.environ,
        "RAG_ROOT": str(fresh_config.root),
        "HF_HUB_OFFLINE": "1",
        "RAG_MILVUS_URI": str(fresh_config.root / "m.db"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "rag", "index", "--migrate-to", "milvus"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "0 embedded" in out.stdout and "RAG_STORE=milvus" in out.stdout
    cfg = fresh_config.replace(store="milvus", milvus_uri=str(fresh_config.root / "m.db"))
    milvus_index = load_index(cfg)
    assert milvus_index.store.kind == "milvus"
    ids = np.arange(len(faiss_index.chunks))
    assert np.allclose(
        milvus_index.store.reconstruct(ids), faiss_index.store.reconstruct(ids), atol=1e-6
    )
    assert [c.chunk_id for c in milvus_index.chunks] == [c.chunk_id for c in faiss_index.chunks]


def test_bad_milvus_uri_is_a_clear_error(fresh_config: Config, embedder, tmp_path: Path) -> None:
    from rag.errors import RagError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = fresh_config.replace(store="milvus", milvus_uri=str(blocker / "sub" / "m.db"))
    with pytest.raises(RagError):
        build_index(cfg, embedder, progress=False)
    assert not (fresh_config.index_path / "manifest.json").exists() or load_index(fresh_config)
