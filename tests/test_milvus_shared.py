"""Stateless replicas over one Milvus (issue 21): ``RAG_STORE=milvus RAG_MILVUS_STATE=shared``.

Everything runs for real: a Milvus server process (``python -m milvus_lite server`` on a
loopback port, the fixture of ``test_stores``), the packaged MiniLM model, the extractive
answerer. Each replica is an :class:`Assistant` (or a ``rag`` process) over its own
temporary folder; the folders share no files, only the Milvus server. Each test uses its
own collection prefix on the one server.
"""

from __future__ import annotations

import json
import shutil
import time
import unicodedata
import uuid
from pathlib import Path

import numpy as np
import pytest

from rag.answer.assistant import Assistant
from rag.config import Config
from rag.embed.encoder import Embedder
from rag.errors import IndexCorruptError
from rag.store.build import build_index
from rag.store.index import lexical_text
from rag.store.lexical import BM25Index
from rag.store.milvus_shared import state_for
from rag.store.milvus_state import LeaseHeldError, SharedState, legacy_chunk_key
from tests.conftest import SEEDS, run_rag
from tests.test_stores import milvus_server  # noqa: F401  (the server fixture)

pytestmark = pytest.mark.slow

Q_HOTLINE = "How many hotline calls did the two border forces make in 2025?"
NEW_DOC = (
    "Harbour Library expands its reading rooms\n\n"
    "The Harbour Library opened two new reading rooms on 3 March 2026. "
    "The library added 4,812 books to its collection during the expansion. "
    "Visitors can now borrow up to twelve books at a time.\n"
)
Q_NEW = "How many books did the Harbour Library add to its collection?"


def _env(uri: str, prefix: str) -> dict[str, str]:
    return {
        "RAG_STORE": "milvus",
        "RAG_MILVUS_URI": uri,
        "RAG_MILVUS_STATE": "shared",
        "RAG_MILVUS_COLLECTION": prefix,
        "RAG_LEXICAL": "milvus",
    }


def _replica(root: Path, uri: str, prefix: str, *, seeds: bool = False) -> Config:
    """A project folder of its own (a copy of the seeds, or empty) over the shared index."""
    root.mkdir(parents=True, exist_ok=True)
    if seeds:
        shutil.copytree(SEEDS, root / "seeds")
    return Config.from_env({"root": root}, environ=_env(uri, prefix))


def _cited_sources(bot: Assistant, question: str) -> set[str]:
    """The sources an answer cites, after checking every quote against the document text
    this replica holds (exact offsets survive the trip through Milvus)."""
    ans = bot.ask(question)
    for c in ans.citations:
        assert bot.document(c.source).text[c.start : c.end] == c.quote
    return {c.source for c in ans.citations}


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture()
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def test_replica_in_an_empty_folder_answers_with_exact_citations(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
) -> None:
    """`rag index` from one folder; a `rag ask` process in an empty folder with only the
    Milvus settings answers from Milvus alone and writes no index files."""
    writer = tmp_path / "writer"
    _replica(writer, milvus_server, prefix, seeds=True)
    done = run_rag(["index"], writer, env=_env(milvus_server, prefix))
    assert done.returncode == 0, done.stderr
    assert "[milvus, shared] version 1" in done.stdout
    assert not (writer / "index" / "manifest.json").exists()
    empty = tmp_path / "replica"
    empty.mkdir()
    out = run_rag(["ask", "--json", Q_HOTLINE], empty, env=_env(milvus_server, prefix))
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert not answer["abstained"] and answer["citations"]
    for c in answer["citations"]:
        text = (writer / c["source"]).read_text("utf-8")
        assert unicodedata.normalize("NFC", text)[c["start"] : c["end"]] == c["quote"]
    assert "113 hotline calls" in answer["answer"]
    assert not any(f.startswith("index/") and "manifest" in f for f in _files(empty))


def test_upload_on_one_replica_is_answered_and_removed_by_another(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
) -> None:
    """Replica A uploads; replica B (another folder) answers from the new document before
    its next answer; B removes it (the file lives on A); A stops citing it."""
    a = Assistant.from_config(_replica(tmp_path / "a", milvus_server, prefix, seeds=True))
    b = Assistant.from_config(_replica(tmp_path / "b", milvus_server, prefix))
    assert len(b.documents) == len(a.documents) == 2
    assert not _files(tmp_path / "b") & {"seeds"}
    upload = tmp_path / "harbour_library.txt"
    upload.write_text(NEW_DOC, encoding="utf-8")
    report = a.add_files([upload])
    source = report.added[0]
    assert source not in _cited_sources(b, Q_HOTLINE)  # b did not reload for nothing
    assert source in _cited_sources(b, Q_NEW)  # b followed the version row
    assert not (tmp_path / "b" / source).exists()  # nothing was copied to b's folder
    removed = b.remove_document(source)
    assert removed.removed_docs == 1
    assert source not in {d.source for d in b.documents}
    assert source not in _cited_sources(a, Q_NEW)
    assert source not in {d.source for d in a.documents}
    assert "seeds/000_8472d08a1f509d74.txt" in _cited_sources(a, Q_HOTLINE)


def test_a_second_indexer_is_refused_while_the_lease_is_held(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True)
    build_index(cfg, embedder, progress=False)
    st = state_for(cfg)
    st.acquire(60, holder="other-host:4242")  # another indexer is writing
    (cfg.corpus_path / "extra.txt").write_text(NEW_DOC, encoding="utf-8")
    with pytest.raises(LeaseHeldError, match="other-host:4242"):
        build_index(cfg, embedder, progress=False)
    out = run_rag(["index"], cfg.root, env=_env(milvus_server, prefix))
    assert out.returncode == 2 and "other-host:4242" in out.stderr and "retry" in out.stderr
    assert st.read_state().version == 1  # nothing was committed
    st.release(holder="other-host:4242")
    assert build_index(cfg, embedder, progress=False).version == 2
    st.acquire(0.2, holder="crashed-host:1")  # a writer that died holding a short lease
    time.sleep(0.5)
    (cfg.corpus_path / "extra.txt").unlink()
    assert build_index(cfg, embedder, progress=False).version == 3  # its lease expired


def _record_milvus_calls(
    st: SharedState, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str, str]]:
    """Record (method, collection, filter) of every read and delete on ``st``'s client;
    the calls still go to the server."""
    calls: list[tuple[str, str, str]] = []
    for name in ("delete", "query", "query_iterator", "get"):
        real = getattr(st.client, name)

        def spy(collection: str, *a: object, _n: str = name, _r: object = real, **k: object):
            calls.append((_n, collection, str(k.get("filter") or "")))
            return _r(collection, *a, **k)  # type: ignore[operator]

        monkeypatch.setattr(st.client, name, spy)
    return calls


def _heads_filter(version: int) -> str:
    """The filter of the writer's one read of every document head (removal detection)."""
    return f"part == 0 and ver <= {version} and (gone == 0 or gone > {version})"


def test_updating_one_document_touches_only_its_rows(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Editing one article deletes its old chunk rows and inserts its new ones, by primary
    key; the other article's rows are untouched, and its unchanged sentences are not
    re-embedded. A replica follows it by primary-key reads too."""
    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True)
    build_index(cfg, embedder, progress=False)
    reader_cfg = _replica(tmp_path / "r", milvus_server, prefix)
    reader = Assistant.from_config(reader_cfg)
    st = state_for(cfg)
    before = {r["id"]: r["doc_id"] for r in st.iterate(st.chunks, "", ["id", "doc_id"])}
    index = reader.parts.index
    edited = "seeds/002_4a7f68795f813e4f.txt"
    old_doc = index.document(edited)
    old_ids = {i for i, d in before.items() if d == old_doc.doc_id}
    path = cfg.root / edited
    path.write_text(path.read_text("utf-8") + "\nThe archive was reopened on 9 May 2026.\n")
    calls = _record_milvus_calls(st, monkeypatch)
    report = build_index(cfg, embedder, progress=False)
    # by primary key: no delete by filter, no read of the chunks by filter but the vector
    # re-use by text hash, and no recovery scan after the previous batch's clean release
    assert [c for c in calls if c[0] == "delete" and c[2]] == []
    assert {c[2].split(" ")[0] for c in calls if c[1] == st.chunks and c[2]} <= {"thash"}
    assert {c[2] for c in calls if c[1] == st.docs and c[2]} <= {_heads_filter(1)}
    after = {r["id"]: r["doc_id"] for r in st.iterate(st.chunks, "", ["id", "doc_id"])}
    assert report.removed_docs == 1 and report.deleted_chunks == len(old_ids)
    assert set(before) - set(after) == old_ids  # only that document's rows went
    added = set(after) - set(before)
    assert len(added) == report.inserted_chunks
    (new_doc_id,) = {after[i] for i in added}  # all of one document: the edited one
    assert new_doc_id != old_doc.doc_id
    assert report.embedded <= 2 and report.reused == report.inserted_chunks - report.embedded
    assert st.count(st.chunks) == len(before) - len(old_ids) + len(added)
    assert st is not state_for(reader_cfg)  # the replica has a client of its own
    reads = _record_milvus_calls(state_for(reader_cfg), monkeypatch)
    assert reader.follow_index()
    assert reads and [c for c in reads if c[2]] == []  # the log names the documents: by key
    assert "reopened on 9 May 2026" in reader.document(edited).text
    assert reader.document(edited).doc_id == new_doc_id


def test_an_index_created_before_keyed_chunk_ids_is_still_updated_and_followed(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An index whose settings lack ``chunk_ids`` (created by the earlier release, chunk ids
    hashed with their offsets) is written with those ids and read and purged by filter."""
    real_create = SharedState.create

    def legacy_create(self: SharedState, dim: int, settings: dict, **kw: object) -> None:
        real_create(self, dim, settings, **kw)  # type: ignore[arg-type]
        made = self.read_state()
        assert made is not None and made.settings["chunk_ids"]
        old = {k: v for k, v in made.settings.items() if k != "chunk_ids"}
        self.write_state(0, old, "", 0.0, made.counts)

    monkeypatch.setattr(SharedState, "create", legacy_create)
    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True)
    build_index(cfg, embedder, progress=False)
    monkeypatch.undo()
    st = state_for(cfg)
    assert "chunk_ids" not in st.read_state().settings
    reader = Assistant.from_config(_replica(tmp_path / "r", milvus_server, prefix))
    edited = "seeds/002_4a7f68795f813e4f.txt"
    old_doc = reader.document(edited)
    path = cfg.root / edited
    path.write_text(path.read_text("utf-8") + "\nThe archive was reopened on 9 May 2026.\n")
    report = build_index(cfg, embedder, progress=False)
    assert report.removed_docs == 1 and report.deleted_chunks > 0
    rows = st.iterate(st.chunks, "", ["id", "doc_id", "ordinal", "start", "end"])
    assert old_doc.doc_id not in {r["doc_id"] for r in rows}
    assert all(
        r["id"] == legacy_chunk_key(r["doc_id"], r["ordinal"], r["start"], r["end"]) for r in rows
    )
    assert reader.follow_index()
    assert reader.document(edited).doc_id != old_doc.doc_id
    assert len(reader.parts.index.chunks) == len(rows)
    assert "reopened on 9 May 2026" in reader.document(edited).text


def _scores(bm25: BM25Index, query: str) -> np.ndarray:
    """Every row's BM25 score; zeros where no query term is indexed (None from bm25s), as
    for a term only a removed document had, which the replica's vocabulary keeps."""
    scores = bm25.scores(query)
    return np.zeros(len(bm25)) if scores is None else scores


def test_a_bm25s_replica_reload_tokenizes_only_the_documents_it_adds(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With RAG_LEXICAL=bm25s (a Milvus without the BM25 function) a replica rebuilds bm25s
    at each reload from the term ids it holds: only an added document's chunks are
    tokenized, and the scores are those of a bm25s built from every chunk's text, after an
    upload and after a removal (whose terms stay in the vocabulary)."""
    import rag.store.milvus_shared as shared

    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True).replace(lexical="bm25s")
    build_index(cfg, embedder, progress=False)
    reader = Assistant.from_config(
        _replica(tmp_path / "r", milvus_server, prefix).replace(lexical="bm25s")
    )
    (cfg.corpus_path / "harbour.txt").write_text(NEW_DOC, encoding="utf-8")
    build_index(cfg, embedder, progress=False)
    seen: list[str] = []
    real = shared.index_terms
    monkeypatch.setattr(shared, "index_terms", lambda text: seen.append(text) or real(text))
    for step in ("upload", "removal"):
        seen.clear()
        assert reader.follow_index()
        index = reader.parts.index
        fresh = BM25Index.build([lexical_text(c) for c in index.chunks])
        for q in (Q_NEW, Q_HOTLINE, "reading rooms opened in March", "harbour library"):
            assert np.allclose(_scores(index.bm25, q), _scores(fresh, q)), (step, q)
        if step == "upload":
            new = index.document("seeds/harbour.txt")
            rows = [i for i, c in enumerate(index.chunks) if c.doc_id == new.doc_id]
            assert len(seen) == len(rows) > 0  # the two seeds were not tokenized again
            assert set(index.bm25.search(Q_NEW, 3)[1].tolist()) & set(rows)
            assert "seeds/harbour.txt" in _cited_sources(reader, Q_NEW)
            (cfg.corpus_path / "harbour.txt").unlink()
            build_index(cfg, embedder, progress=False)
        else:
            assert seen == [] and "seeds/harbour.txt" not in {d.source for d in reader.documents}


def test_a_writer_that_dies_before_its_commit_is_invisible_and_undone(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch whose commit (the state row) never happens: its chunk and document rows
    are in Milvus, a replica does not see them (nor the removal it began), and the next
    writer deletes them before writing its own (no duplicate rows under stable ids)."""
    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True)
    build_index(cfg, embedder, progress=False)
    st = state_for(cfg)
    rows_before = st.count(st.chunks)
    (cfg.corpus_path / "harbour.txt").write_text(NEW_DOC, encoding="utf-8")
    (cfg.root / "seeds/000_8472d08a1f509d74.txt").unlink()  # a removal in the same batch
    real_write = SharedState.write_state

    def crash_on_commit(self: SharedState, version: int, *args: object) -> None:
        if version > 1:
            raise RuntimeError("writer killed before its commit")
        real_write(self, version, *args)

    monkeypatch.setattr(SharedState, "write_state", crash_on_commit)
    with pytest.raises(RuntimeError, match="killed"):
        build_index(cfg, embedder, progress=False)
    monkeypatch.undo()
    assert st.count(st.chunks) > rows_before  # its rows are there, uncommitted
    reader = Assistant.from_config(_replica(tmp_path / "r", milvus_server, prefix))
    assert {d.source for d in reader.documents} == {
        "seeds/000_8472d08a1f509d74.txt",
        "seeds/002_4a7f68795f813e4f.txt",
    }
    assert "seeds/harbour.txt" not in _cited_sources(reader, Q_NEW)
    report = build_index(cfg, embedder, progress=False)  # the next writer
    assert report.version == 2 and report.removed_docs == 1
    assert report.embedded == 0  # the dead writer's vectors were re-used, not re-embedded
    assert reader.follow_index()
    assert {d.source for d in reader.documents} == {
        "seeds/002_4a7f68795f813e4f.txt",
        "seeds/harbour.txt",
    }
    assert st.count(st.chunks) == len(reader.parts.index.chunks)  # no orphans, no duplicates
    assert "seeds/harbour.txt" in _cited_sources(reader, Q_NEW)


@pytest.mark.parametrize("layout", ["faiss", "milvus-local"])
def test_migrating_an_index_to_the_shared_layout_embeds_nothing(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
    layout: str,
) -> None:
    """`rag index --migrate-to milvus` with RAG_MILVUS_STATE=shared moves a FAISS index, or
    one of the per-generation Milvus layout, into the shared layout with its vectors."""
    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True)
    local = cfg.replace(store="faiss", lexical="bm25s", milvus_state="local")
    if layout == "milvus-local":
        local = local.replace(store="milvus", milvus_uri=str(cfg.root / "index" / "m.db"))
    first = build_index(local, embedder, progress=False)
    assert first.embedded > 0
    if layout == "milvus-local":
        from rag.store.milvus_store import release_local

        release_local(str(cfg.root / "index" / "m.db"))
    env = _env(milvus_server, prefix)
    out = run_rag(["index", "--migrate-to", "milvus"], cfg.root, env=env)
    assert out.returncode == 0, out.stderr
    assert "(0 embedded," in out.stdout and "[milvus, shared]" in out.stdout
    replica = Assistant.from_config(_replica(tmp_path / "r", milvus_server, prefix))
    assert len(replica.parts.index.chunks) == first.chunks
    assert "seeds/000_8472d08a1f509d74.txt" in _cited_sources(replica, Q_HOTLINE)


def test_rebuild_reuses_vectors_and_other_settings_are_refused(
    milvus_server: str,  # noqa: F811
    prefix: str,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`rag index --rebuild` re-creates the collections without re-embedding; a replica
    whose chunking differs from the index's is told so instead of citing wrong offsets.
    The replica here reads documents in one pass (as for a large index), not by id."""
    monkeypatch.setattr("rag.store.milvus_state.SCAN_OVER", 0)
    cfg = _replica(tmp_path / "w", milvus_server, prefix, seeds=True)
    first = build_index(cfg, embedder, progress=False)
    reader = Assistant.from_config(_replica(tmp_path / "r1", milvus_server, prefix))
    again = build_index(cfg, embedder, progress=False, rebuild=True)
    assert again.embedded == 0 and again.reused == first.embedded == again.chunks
    assert again.version == first.version == 1  # a new index, not a version of the old one
    assert reader.follow_index()  # its creation id changed: the replica reloads
    assert "seeds/000_8472d08a1f509d74.txt" in _cited_sources(reader, Q_HOTLINE)
    other = _replica(tmp_path / "r", milvus_server, prefix).replace(chunk_size=300)
    with pytest.raises(IndexCorruptError, match="chunker"):
        Assistant.from_config(other)
