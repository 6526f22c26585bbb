"""The persisted index: manifest, incremental updates, staleness, atomicity, corruption."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import IndexCorruptError, IndexMissingError
from rag.store.build import build_index, open_index
from rag.store.index import load_index
from rag.store.manifest import index_status
from tests.conftest import ROOT, rag_env, run_rag


def test_build_writes_manifest_and_round_trips(store_config: Config, embedder) -> None:
    fresh_config = store_config
    report = build_index(fresh_config, embedder, progress=False)
    assert report.documents == 2 and report.chunks >= 10 and report.embedded == report.chunks
    manifest = json.loads((fresh_config.index_path / "manifest.json").read_text())
    for key in (
        "format_version",
        "embedding_model",
        "dimension",
        "settings",
        "corpus_fingerprint",
        "counts",
        "built_at",
        "build_seconds",
        "files",
        "index_type",
    ):
        assert key in manifest
    assert manifest["dimension"] == 384
    assert manifest["settings"]["chunker"]["chunk_size"] == fresh_config.chunk_size
    index = load_index(fresh_config)
    assert len(index.chunks) == report.chunks == len(index.store) == len(index.bm25)
    for chunk in index.chunks:
        assert index.document(chunk.doc_id).text[chunk.start : chunk.end] == chunk.text
    assert index_status(fresh_config).state == "fresh"


def test_incremental_reindex_embeds_only_changed_chunks(store_config: Config, embedder) -> None:
    fresh_config = store_config
    first = build_index(fresh_config, embedder, progress=False)
    again = build_index(fresh_config, embedder, progress=False)
    assert again.up_to_date and again.embedded == 0
    path = fresh_config.corpus_path / "002_4a7f68795f813e4f.txt"
    path.write_text(
        path.read_text("utf-8") + "\n\nA new closing paragraph about the railway link.", "utf-8"
    )
    assert index_status(fresh_config).state == "stale"
    update = build_index(fresh_config, embedder, progress=False)
    assert 1 <= update.embedded <= 2, update
    assert update.reused >= first.chunks - 2
    (fresh_config.corpus_path / "new.md").write_text("# Note\n\nThe Cốc Nam gate opens at 7am.")
    added = build_index(fresh_config, embedder, progress=False)
    assert added.documents == 3 and added.embedded == 1
    (fresh_config.corpus_path / "new.md").unlink()
    removed = build_index(fresh_config, embedder, progress=False)
    assert removed.documents == 2 and removed.embedded == 0 and removed.removed_docs == 1
    index = load_index(fresh_config)
    assert all(c.source != "seeds/new.md" for c in index.chunks)
    assert len(index.store) == len(index.chunks)
    hits = index.store.search(index.store.reconstruct([0]), 5, sources=["seeds/new.md"])[1]
    assert (hits == -1).all()  # the store holds nothing of the removed document
    # only one generation remains: one FAISS file, or one Milvus collection
    if fresh_config.store == "faiss":
        assert len(list(fresh_config.index_path.glob("vectors-*.faiss"))) == 1
    else:
        collections = index.store.client.list_collections()
        assert collections == [index.manifest["store"]["collection"]]


def test_a_running_assistant_follows_a_rebuild_by_another_process(
    store_config: Config, embedder
) -> None:
    """`rag index` in another process (new files, or a new Milvus collection with the old
    one dropped): the next question in a running assistant uses the new index."""
    from rag.answer.assistant import Assistant

    build_index(store_config, embedder, progress=False)
    bot = Assistant.from_config(store_config)
    question = "When does the Cốc Nam gate open for cargo trucks?"
    assert not bot.ask(question).citations or "7am" not in bot.ask(question).answer
    (store_config.corpus_path / "gate.md").write_text(
        "# Cốc Nam\n\nThe Cốc Nam gate opens at 7am every day for cargo trucks.", "utf-8"
    )
    env = {"RAG_STORE": store_config.store, "RAG_MILVUS_URI": store_config.milvus_uri}
    if store_config.store == "milvus":  # a Milvus Lite file opens in one process at a time
        from rag.store.milvus_store import release_local

        release_local(store_config.milvus_uri)
        bot.parts.index.store.client = None  # released: only a reload may use Milvus again
    done = run_rag(["index"], store_config.root, env=env)
    assert done.returncode == 0, done.stderr
    ans = bot.ask(question)
    assert "7am" in ans.answer and ans.citations[0].source == "seeds/gate.md"
    assert bot.follow_index() is False  # nothing new since


def test_settings_change_makes_index_stale(fresh_config: Config, embedder) -> None:
    build_index(fresh_config, embedder, progress=False)
    changed = fresh_config.replace(chunk_size=300)
    assert index_status(changed).state == "stale"
    report = build_index(changed, embedder, progress=False)
    assert report.chunks > 0 and index_status(changed).state == "fresh"


def test_missing_index(fresh_config: Config, embedder) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        load_index(fresh_config)
    with pytest.raises(IndexMissingError):
        open_index(fresh_config.replace(auto_index=False), embedder)
    assert open_index(fresh_config, embedder).chunks  # auto_index builds it


def _files(config: Config) -> dict[str, Path]:
    manifest = json.loads((config.index_path / "manifest.json").read_text())
    return {k: config.index_path / v for k, v in manifest["files"].items()}


def test_truncated_faiss_file_names_the_file(fresh_config: Config, embedder) -> None:
    build_index(fresh_config, embedder, progress=False)
    vectors = _files(fresh_config)["vectors"]
    vectors.write_bytes(vectors.read_bytes()[:1000])
    with pytest.raises(IndexCorruptError) as err:
        load_index(fresh_config)
    assert vectors.name in str(err.value) and "rag index --rebuild" in str(err.value)
    with pytest.raises(IndexCorruptError):  # never silently replaced on open
        open_index(fresh_config, embedder)
    build_index(fresh_config, embedder, rebuild=True, progress=False)
    assert load_index(fresh_config).chunks


@pytest.mark.parametrize("damage", ["garbage_manifest", "old_format", "missing_file", "bad_faiss"])
def test_corrupt_index_gives_clear_error(fresh_config: Config, embedder, damage: str) -> None:
    build_index(fresh_config, embedder, progress=False)
    manifest_path = fresh_config.index_path / "manifest.json"
    if damage == "garbage_manifest":
        manifest_path.write_text("{not json")
    elif damage == "old_format":
        m = json.loads(manifest_path.read_text())
        m["format_version"] = 0
        manifest_path.write_text(json.dumps(m))
    elif damage == "missing_file":
        _files(fresh_config)["documents"].unlink()
    else:
        vectors = _files(fresh_config)["vectors"]
        size = vectors.stat().st_size
        vectors.write_bytes(b"\x00" * size)  # same size, wrong content
    with pytest.raises(IndexCorruptError, match="rag index --rebuild"):
        load_index(fresh_config)


@pytest.mark.slow
def test_kill_during_build_leaves_old_index_usable(fresh_config: Config, embedder) -> None:
    build_index(fresh_config, embedder, progress=False)
    before = load_index(fresh_config)
    # Enough new text that re-embedding takes a few seconds, then kill -9 mid-build.
    for i in range(60):
        (fresh_config.corpus_path / f"extra_{i:02d}.txt").write_text(
            " ".join(f"Sentence {j} of extra article {i} about border trade." for j in range(40))
        )
    env = rag_env(fresh_config.root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "index", "--progress"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    seen = ""
    while not any(w in seen for w in ("Batches", "embedding")) and time.monotonic() < deadline:
        seen += proc.stderr.read(1) or ""
    assert proc.poll() is None, "the build finished before it could be killed"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = load_index(fresh_config)  # the old generation is intact
    assert len(after.chunks) == len(before.chunks)
    assert after.manifest["generation"] == before.manifest["generation"]
    done = run_rag(["index"], fresh_config.root)
    assert done.returncode == 0, done.stderr
    assert len(load_index(fresh_config).docs) == 62
