"""The vector store interface, and what only the Milvus store does.

One contract test runs against every store (FAISS flat/HNSW/IVF, Milvus Lite flat/HNSW);
the retrieval, answer and index suites run on both stores through the ``store_assistant``
and ``store_config`` fixtures. Milvus runs for real: a Milvus Lite file in a temp folder.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rag.answer.assistant import Assistant
from rag.config import Config
from rag.store.base import RowMeta
from rag.store.build import build_index
from rag.store.faiss_store import FaissStore
from rag.store.index import load_index
from rag.store.lexical import BM25Index
from rag.store.milvus_store import connect, release_local
from tests.conftest import ROOT, run_rag, with_store

KINDS = ["faiss-flat", "faiss-hnsw", "faiss-ivf", "milvus-flat", "milvus-hnsw"]
N, DIM, DOCS = 400, 384, 10


def _open(kind: str, folder: Path, vectors: np.ndarray | None, meta: RowMeta | None, **kw):
    """Build (``vectors`` given) or reopen a store of ``kind``."""
    store, _, index_type = kind.partition("-")
    if store == "faiss":
        if vectors is not None:
            return FaissStore.build(vectors, index_type, meta=meta, hnsw_ef_search=400)
        return FaissStore.load(folder / "v.faiss", index_type, dim=DIM, meta=meta, **kw)
    from rag.store.milvus_store import MilvusStore, connect

    client = connect(str(folder / "contract.db"))
    if vectors is not None:
        return MilvusStore.build(
            client, "contract", vectors, meta, index_type=index_type.upper(), ef_search=400
        )
    return MilvusStore.open(client, "contract", dim=DIM, expected=kw["expected"])


@pytest.mark.parametrize("kind", KINDS)
def test_vector_store_contract(kind: str, tmp_path: Path) -> None:
    """add, search (with a source filter), delete by document, count, persist, reopen."""
    if kind.startswith("milvus"):
        pytest.importorskip("milvus_lite")
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [f"d{i % DOCS}" for i in range(N)]
    meta = RowMeta(
        [f"{d}:{i}" for i, d in enumerate(docs)],
        docs,
        [f"seeds/{d}.txt" for d in docs],
        list(range(N)),
        list(range(1, N + 1)),
    )
    store = _open(kind, tmp_path, vectors, meta)
    assert len(store) == N and store.dim == DIM

    scores, ids = store.search(vectors[[7, 42]], 5)
    assert ids.shape == (2, 5) and ids[:, 0].tolist() == [7, 42]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(store.reconstruct(np.array([42, 7])), vectors[[42, 7]], atol=1e-6)

    # a filtered search returns the exact best rows of those sources
    wanted = ["seeds/d3.txt", "seeds/d5.txt"]
    _, got = store.search(vectors[[11]], 4, sources=wanted)
    rows = np.flatnonzero(np.isin(np.array(meta.source), wanted))
    best = rows[np.argsort(-(vectors[rows] @ vectors[11]))[:4]]
    assert got[0].tolist() == best.tolist()

    assert store.delete_document("d3") == N // DOCS
    assert len(store) == N - N // DOCS
    _, ids = store.search(vectors[[3, 13]], 20)
    assert ids[0, 0] != 3 and not (ids[ids >= 0] % DOCS == 3).any()
    _, ids = store.search(vectors[[3]], 5, sources=["seeds/d3.txt"])
    assert (ids == -1).all()

    extra = rng.normal(size=(3, DIM)).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    new_ids = np.array([1000, 1001, 1002])
    store.add(
        new_ids, extra, RowMeta(["n:0", "n:1", "n:2"], ["n"] * 3, ["up/n.md"] * 3, [0] * 3, [9] * 3)
    )
    assert len(store) == N - N // DOCS + 3
    assert store.search(extra[[1]], 1)[1][0, 0] == 1001
    assert np.allclose(store.reconstruct(new_ids), extra, atol=1e-6)
    assert store.search(extra[[2]], 2, sources=["up/n.md"])[1][0].tolist()[0] == 1002
    if isinstance(store, FaissStore):
        with pytest.raises(ValueError, match="already stored"):
            store.add(new_ids[:1], extra[:1], RowMeta(["x"], ["n"], ["up/n.md"], [0], [9]))

    # persist, close, reopen: the same rows answer the same searches
    expected = len(store)
    before = store.search(vectors[[11, 200]], 5)[1]
    store.persist(tmp_path / "v.faiss")
    kept = store.row_ids() if isinstance(store, FaissStore) else None
    store.close()
    if isinstance(store, FaissStore):
        live = np.isin(np.arange(N), kept)
        reopened_meta = RowMeta(
            [""] * expected,
            [*np.array(docs)[live], "n", "n", "n"],
            [*np.array(meta.source)[live], *["up/n.md"] * 3],
            [0] * expected,
            [0] * expected,
        )
        again = _open(kind, tmp_path, None, reopened_meta, expected=expected, row_ids=kept)
    else:
        again = _open(kind, tmp_path, None, None, expected=expected)
    assert len(again) == expected
    assert np.array_equal(again.search(vectors[[11, 200]], 5)[1], before)
    assert again.search(extra[[0]], 1)[1][0, 0] == 1000
    assert again.delete_document("n") == 3 and len(again) == expected - 3
    again.close()


def test_milvus_full_text_search_matches_bm25s(tmp_path: Path) -> None:
    """Milvus's own BM25 over the same folded terms finds what bm25s finds."""
    pytest.importorskip("milvus_lite")
    from rag.store.milvus_store import MilvusStore, connect
    from rag.text import terms

    paragraphs = [
        p for f in (ROOT / "seeds").glob("*.txt") for p in f.read_text("utf-8").split("\n\n")
    ]
    texts = [p for p in paragraphs if len(p) > 40]
    n = len(texts)
    blank = [""] * n
    meta = RowMeta(blank, blank, blank, [0] * n, [0] * n, [terms(t) for t in texts])
    vectors = np.eye(n, 8, dtype=np.float32)
    store = MilvusStore.build(connect(str(tmp_path / "fts.db")), "fts", vectors, meta)
    bm25 = BM25Index.build(texts)
    for query in ("Huu Nghi smart border gate", "hotline calls", "Tan Thanh Po Chai freight"):
        scores, ids = store.lexical_search(terms(query), 3)
        assert len(ids) and (scores > 0).all() and list(scores) == sorted(scores, reverse=True)
        assert ids[0] in bm25.search(query, 3)[1].tolist(), query
    assert len(store.lexical_search(terms("zzqx unknownword"), 3)[1]) == 0
    store.close()


def test_hybrid_with_milvus_bm25_answers_like_bm25s(fresh_config: Config, embedder) -> None:
    """RAG_LEXICAL=milvus: the lexical side runs in Milvus, and retrieval still works."""
    cfg = with_store(fresh_config, "milvus").replace(lexical="milvus")
    build_index(cfg, embedder, progress=False)
    bot = Assistant.from_config(cfg)
    for query, evidence in [
        ("Tan Thanh Po Chai", "Tân Thanh–Pò Chài"),
        ("How many hotline calls did the border guards make?", "making 113 hotline calls"),
    ]:
        lexical = bot.search(query, 3, lexical_only=True).hits
        assert lexical and lexical[0].bm25_score > 0 and evidence in lexical[0].chunk.text
        assert any(evidence in h.chunk.text for h in bot.search(query, 3).hits)
    ans = bot.ask("How many hotline calls did the two border forces make in 2025?")
    assert "113" in ans.answer


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
    uri = str(fresh_config.root / "m.db")
    out = run_rag(
        ["index", "--migrate-to", "milvus"], fresh_config.root, env={"RAG_MILVUS_URI": uri}
    )
    assert out.returncode == 0, out.stderr
    assert "0 embedded" in out.stdout and "RAG_STORE=milvus" in out.stdout
    milvus_index = load_index(fresh_config.replace(store="milvus", milvus_uri=uri))
    assert milvus_index.store.kind == "milvus"
    ids = np.arange(len(faiss_index.chunks))
    assert np.allclose(
        milvus_index.store.reconstruct(ids), faiss_index.store.reconstruct(ids), atol=1e-6
    )
    assert [c.chunk_id for c in milvus_index.chunks] == [c.chunk_id for c in faiss_index.chunks]
    # and back: Milvus -> FAISS, again without embedding anything
    release_local(uri)  # let the `rag` process open the Milvus Lite file
    back = run_rag(
        ["index", "--migrate-to", "faiss"],
        fresh_config.root,
        env={"RAG_STORE": "milvus", "RAG_MILVUS_URI": uri},
    )
    assert back.returncode == 0, back.stderr
    assert "0 embedded" in back.stdout and "RAG_STORE=faiss" in back.stdout
    again = load_index(fresh_config)
    assert again.store.kind == "flat" and again.manifest["store"]["kind"] == "faiss"
    assert np.allclose(again.store.reconstruct(ids), faiss_index.store.reconstruct(ids), atol=1e-6)


# ---------------------------------------------------------------------------- a Milvus server


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus server process on a free loopback port, reached by URI as a cluster is
    (``python -m milvus_lite server``: the same gRPC API as Milvus's proxy)."""
    pytest.importorskip("milvus_lite")
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-server") / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the Milvus server did not start: {proc.stderr.read().decode()[-500:]}")
        time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Q_HOTLINE = "How many hotline calls did the two border forces make in 2025?"


def test_replicas_share_one_index_through_a_milvus_server(
    milvus_server: str, fresh_config: Config
) -> None:
    """An indexer and several app replicas (processes) share one index in a Milvus server;
    the index is updated while a replica is connected, and the replicas see the update."""
    env = {"RAG_STORE": "milvus", "RAG_MILVUS_URI": milvus_server}
    root = fresh_config.root
    done = run_rag(["index"], root, env=env)
    assert done.returncode == 0, done.stderr
    config = fresh_config.replace(store="milvus", milvus_uri=milvus_server)
    replica = Assistant.from_config(config)  # this process keeps its connection open
    assert replica.parts.index.store.kind == "milvus"
    with ThreadPoolExecutor(2) as pool:  # two more replicas, at the same time
        outs = list(
            pool.map(lambda _: run_rag(["ask", "--json", Q_HOTLINE], root, env=env), range(2))
        )
    for out in outs:
        assert out.returncode == 0, out.stderr
        ans = json.loads(out.stdout)
        assert "113" in ans["answer"] and "113 hotline calls" in ans["citations"][0]["quote"]
    assert "113" in replica.ask(Q_HOTLINE).answer

    (root / "seeds" / "gate.md").write_text(
        "# Cốc Nam\n\nThe Cốc Nam gate opens at 7am every day for cargo trucks.", "utf-8"
    )
    done = run_rag(["index"], root, env=env)  # the indexer, while the replica is connected
    assert done.returncode == 0, done.stderr
    assert "1 embedded" in done.stdout
    out = run_rag(["search", "--json", "When does the Cốc Nam gate open?"], root, env=env)
    assert json.loads(out.stdout)["hits"][0]["source"] == "seeds/gate.md"
    # the connected replica's collection is gone; it follows the manifest to the new one
    ans = replica.ask("When does the Cốc Nam gate open for cargo trucks?")
    assert "7am" in ans.answer and ans.citations[0].source == "seeds/gate.md"
    collections = connect(milvus_server).list_collections()
    assert collections == [load_index(config).manifest["store"]["collection"]]


def test_unreachable_milvus_server_is_a_one_line_error(fresh_config: Config) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = run_rag(["index"], fresh_config.root, env={"RAG_STORE": "milvus", "RAG_MILVUS_URI": uri})
    assert out.returncode == 2
    assert out.stderr.startswith("rag: error:") and uri in out.stderr
    assert "RAG_MILVUS_URI" in out.stderr and out.stderr.strip().count("\n") == 0


def test_milvus_lite_file_open_elsewhere_is_explained(fresh_config: Config) -> None:
    """A Milvus Lite file serves one process: a second one is told how to share it."""
    config = with_store(fresh_config, "milvus")
    env = {"RAG_STORE": "milvus", "RAG_MILVUS_URI": config.milvus_uri}
    assert run_rag(["index"], config.root, env=env).returncode == 0  # then the file is free
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from rag.store.milvus_store import connect; "
            "connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            config.milvus_uri,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        out = run_rag(["search", "border"], config.root, env=env)
        assert out.returncode == 2
        assert "another process has the Milvus Lite file" in out.stderr
        assert "python -m milvus_lite server" in out.stderr
    finally:
        holder.kill()
        holder.wait()


def test_bad_milvus_uri_is_a_clear_error(fresh_config: Config, embedder, tmp_path: Path) -> None:
    from rag.errors import RagError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = fresh_config.replace(store="milvus", milvus_uri=str(blocker / "sub" / "m.db"))
    with pytest.raises(RagError):
        build_index(cfg, embedder, progress=False)
    assert not (fresh_config.index_path / "manifest.json").exists() or load_index(fresh_config)


def test_bm25_over_a_corpus_without_any_indexable_term_is_empty_not_an_error() -> None:
    """bm25s raises ValueError on a corpus without a single term (seen with a one-file
    corpus the tokenizer could not split): the lexical side is empty instead, and
    dense retrieval alone answers."""
    bm25 = BM25Index.build(["🙂🙂 —— !!!", "… ——"])
    assert len(bm25) == 2 and bm25.scores("🙂 anything") is None
    scores, ids = bm25.search("anything", 3)
    assert scores.size == 0 and ids.size == 0
