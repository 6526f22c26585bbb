"""What an outside test of the app found (issue 13), each reproduced on the real app.

A real Gradio server on 127.0.0.1 over a private copy of the seeds and a built index,
driven with ``gradio_client`` (and raw HTTP where a hostile client would use it); the
real embedding model, FAISS and files. Faults are real too: an index folder made
immutable (``chattr +i``, standing in for a full disk), a truncated UTF-8 file left
in ``uploads/``, forged feedback, floods from one address with a new session per call.
See RELIABILITY.md, "Uploads, feedback and hostile clients".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag import prompts
from rag.app import feedback
from rag.app.engine import warm_up
from rag.config import Config
from rag.errors import UnreadableFileError
from rag.ingest.readers import load_document, read_pdf, read_text_file
from rag.ingest.uploads import DuplicateUploadError
from rag.server.limits import RateLimiter, RequestLimits
from rag.store.build import IndexWriteError, build_index
from rag.store.index import load_index
from rag.store.manifest import index_status
from tests.test_reliability import (  # noqa: F401
    HOST,
    Q_HOTLINE,
    FakeClock,
    built_seed_index,
    flate_pdf,
    free_port,
    load_app,
    private_bot,
)

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = [  # Gradio's queue statistics use pandas APIs that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
V1 = "# Kestrel bridge\n\nThe Kestrel bridge over the Lune estuary is 412 metres long."
V2 = "# Kestrel bridge\n\nThe Kestrel bridge over the Lune estuary is 977 metres long."
Q_BRIDGE = "How long is the Kestrel bridge over the Lune estuary?"
OTTERS = "# Otters\n\nThe otter colony at Marrow Lake counted 77 pups in 2025."
Q_OTTERS = "How many pups did the otter colony at Marrow Lake count?"


# ============================================================================ fixtures


def _project(root: Path, built: Path) -> Config:
    shutil.copytree(built / "seeds", root / "seeds")
    shutil.copytree(built / "index", root / "index")
    return Config.from_env({"root": root}, environ={})


@contextlib.contextmanager
def serve(
    config: Config, embedder, trusted_proxies: str | None = None, **build_kw
) -> Iterator[dict]:
    """The app over ``config`` on a free loopback port (an Assistant sharing ``embedder``)."""
    bot = private_bot(config, embedder)
    warm_up(bot)  # as the app's engine does once it has loaded
    app = load_app()
    build_kw.setdefault("limiter", RateLimiter(0))
    engine = app.Engine(assistant=bot)
    demo = app.build(engine, **build_kw)
    port = free_port()
    app.launch(
        demo, host=HOST, port=port, prevent_thread_lock=True, trusted_proxies=trusted_proxies
    )
    try:
        yield {
            "url": f"http://{HOST}:{port}/",
            "bot": bot,
            "config": config,
            "app": app,
            "app_engine": engine,
        }
    finally:
        demo.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_seed_index: Path, assistant):  # noqa: F811
    """One app for this module's tests (rate limits off; tests that need them own one)."""
    config = _project(tmp_path_factory.mktemp("robust"), built_seed_index)
    with serve(config, assistant.parts.embedder) as srv:
        yield srv


@pytest.fixture()
def client(server) -> Client:
    return Client(server["url"], verbose=False)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def _uploads(config: Config) -> list[str]:
    """Every name in the upload folder, hidden temp files and backups included."""
    up = config.upload_path
    return sorted(p.name for p in up.iterdir()) if up.exists() else []


@contextlib.contextmanager
def immutable(folder: Path) -> Iterator[None]:
    """``chattr +i folder``: nothing can be created, renamed or deleted in it (a real
    write failure, like a full disk), undone afterwards."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("chattr"):
        pytest.skip("chattr +i needs root and chattr")
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=True)


def _cited(result: dict, source: str) -> bool:
    return any(c["source"] == source for c in result["citations"])


# ============================================================================ 1. data loss


def test_failed_reupload_keeps_the_earlier_version(server, client: Client, tmp_path: Path) -> None:
    """Issue 13.1: a re-upload whose indexing fails used to delete the earlier version."""
    cfg: Config = server["config"]
    source = "uploads/version.md"
    out = client.predict([handle_file(str(_write(tmp_path, "version.md", V1)))], api_name="/upload")
    assert out["added"] == [source]
    assert "412" in client.predict(Q_BRIDGE, api_name="/ask")["answer"]
    generation = load_index(cfg).manifest["generation"]

    newer = tmp_path / "new"
    newer.mkdir()
    with immutable(cfg.index_path), pytest.raises(AppError) as err:
        client.predict([handle_file(str(_write(newer, "version.md", V2)))], api_name="/upload")
    assert (cfg.upload_path / "version.md").read_text("utf-8") == V1, "the old version is back"
    message = str(err.value)
    assert "Nothing was added" in message and "previous index is unchanged" in message
    assert str(cfg.root) not in message, "no server path in the message"
    assert _uploads(cfg) == ["version.md"], "no temp copy or backup left behind"
    assert load_index(cfg).manifest["generation"] == generation
    assert index_status(cfg).state == "fresh", "a restart would not rebuild anything"

    answer = client.predict(Q_BRIDGE, api_name="/ask")  # the disk is writable again
    assert "412" in answer["answer"] and _cited(answer, source)
    doc = client.predict(source, api_name="/document")
    assert doc["text"] == (cfg.upload_path / "version.md").read_text("utf-8")
    assert source not in {
        d["source"] for d in client.predict(source, api_name="/remove")["documents"]
    }
    assert not (cfg.upload_path / "version.md").exists()


def test_failed_new_upload_or_removal_changes_nothing(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """The same failure for a new file (it is removed) and for a removal (the file is
    put back, so the document the index still serves stays removable)."""
    cfg = _project(tmp_path / "p", built_seed_index)
    bot = private_bot(cfg, assistant.parts.embedder)
    bot.add_files([_write(tmp_path, "keep.md", OTTERS)])
    with immutable(cfg.index_path):
        with pytest.raises(IndexWriteError):
            bot.add_files([_write(tmp_path, "new.md", V1)])
        assert _uploads(cfg) == ["keep.md"]
        with pytest.raises(IndexWriteError):
            bot.remove_document("uploads/keep.md")
        assert _uploads(cfg) == ["keep.md"]
    assert index_status(cfg).state == "fresh"
    assert "77" in bot.ask(Q_OTTERS).answer
    bot.remove_document("uploads/keep.md")
    assert _uploads(cfg) == [] and "uploads/keep.md" not in {d.source for d in bot.documents}


# ============================================================================ 2. duplicates


def test_same_text_under_another_name_is_refused(server, client: Client, tmp_path: Path) -> None:
    """Issue 13.2: one text is one document. A copy under another name is refused naming
    the indexed file; removing that file removes the text; list, add, remove agree."""
    cfg: Config = server["config"]
    first = client.predict(
        [handle_file(str(_write(tmp_path, "otters.md", OTTERS)))], api_name="/upload"
    )
    assert first["added"] == ["uploads/otters.md"]
    before = client.predict(api_name="/documents")

    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    with pytest.raises(
        AppError, match=r"same text as uploads/otters\.md, which is already indexed"
    ):
        client.predict(
            [handle_file(str(_write(copy_dir, "otters-copy.md", OTTERS)))], api_name="/upload"
        )
    assert not (cfg.upload_path / "otters-copy.md").exists(), "a refused duplicate is not copied"
    assert client.predict(api_name="/documents") == before
    with pytest.raises(AppError, match=r"same text as uploads/twin-a\.md, earlier in this upload"):
        client.predict(
            [
                handle_file(str(_write(copy_dir, "twin-a.md", V2))),
                handle_file(str(_write(copy_dir, "twin-b.md", V2))),
            ],
            api_name="/upload",
        )
    assert not (cfg.upload_path / "twin-a.md").exists()
    # the same text under the same name is a new (identical) version, not a duplicate
    again = client.predict(
        [handle_file(str(_write(tmp_path, "otters.md", OTTERS)))], api_name="/upload"
    )
    assert again["added"] == ["uploads/otters.md"]

    removed = client.predict("uploads/otters.md", api_name="/remove")
    assert not any("otters" in d["source"] for d in removed["documents"])
    gone = client.predict(Q_OTTERS, api_name="/ask")
    assert not any(c["source"].startswith("uploads/") for c in gone["citations"])
    assert "77" not in gone["answer"] or gone["abstained"]


def test_duplicates_put_in_the_folder_by_hand_are_listed_as_not_indexed(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """Copies made outside the app: the index keeps one, the list says why the other is
    missing, and both can be removed."""
    cfg = _project(tmp_path / "p", built_seed_index)
    cfg.upload_path.mkdir()
    _write(cfg.upload_path, "a.md", OTTERS)
    _write(cfg.upload_path, "b.md", OTTERS)
    bot = private_bot(cfg, assistant.parts.embedder)
    assert bot.parts.index.skipped == {"uploads/b.md": "same text as uploads/a.md"}
    with pytest.raises(DuplicateUploadError, match="same text as uploads/a.md"):
        bot.add_files([_write(tmp_path, "c.md", OTTERS)])
    bot.remove_document("uploads/b.md")
    assert not (cfg.upload_path / "b.md").exists() and bot.parts.index.skipped == {}
    bot.remove_document("uploads/a.md")
    assert not [d for d in bot.documents if d.source.startswith("uploads/")]


# ============================================================================ 6. bad file at start


@pytest.mark.slow
def test_bad_file_in_uploads_is_skipped_at_start(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """Issue 13.6: a truncated UTF-8 file in uploads/ (a kill -9 mid-copy) used to make
    the engine fail to load. Now it is skipped and listed, and everything else answers."""
    cfg = _project(tmp_path / "p", built_seed_index)
    bot = private_bot(cfg, assistant.parts.embedder)
    bot.add_files([_write(tmp_path, "otters.md", OTTERS)])
    torn = ("Tin tức: Lạng Sơn " * 20).encode("utf-8")
    (cfg.upload_path / "torn.txt").write_bytes(torn[: torn.index("ạ".encode()) + 1])

    app = load_app()
    engine = app.Engine(cfg).start()  # the real start: loads the model, updates the index
    demo = app.build(engine, limiter=RateLimiter(0))
    port = free_port()
    app.launch(demo, host=HOST, port=port, prevent_thread_lock=True)
    try:
        client = Client(f"http://{HOST}:{port}/", verbose=False)
        assert "113" in client.predict(Q_HOTLINE, api_name="/ask")["answer"]
        assert "77" in client.predict(Q_OTTERS, api_name="/ask")["answer"]
        _wait_for_update(engine)
        assert "77" in client.predict(Q_OTTERS, api_name="/ask")["answer"]
        docs = {d["source"]: d for d in client.predict(api_name="/documents")}
        bad = docs["uploads/torn.txt"]
        assert bad["indexed"] is False and bad["uploaded"] is True
        assert bad["error"].startswith("not valid UTF-8") and str(tmp_path) not in bad["error"]
        assert docs["uploads/otters.md"]["indexed"] is True
        status, table, _ = _views(app, engine)
        assert "1 file(s) could not be read" in status and "uploads/torn.txt" in status
        assert "not indexed" in table and "torn.txt" in table
        out = client.predict("uploads/torn.txt", api_name="/remove")  # it can be cleaned up
        assert "uploads/torn.txt" not in {d["source"] for d in out["documents"]}
        assert not (cfg.upload_path / "torn.txt").exists()
    finally:
        demo.close()


def _wait_for_update(engine, timeout_s: float = 600) -> float:
    """Wait until the engine's background index update is over; its remaining seconds."""
    t0 = time.perf_counter()
    while engine.updating and time.perf_counter() - t0 < timeout_s:
        time.sleep(0.2)
    assert not engine.updating, "the background update did not finish"
    return time.perf_counter() - t0


BIG_FACT = "The Quillon dam on the upper Aroha river holds 8,812 megalitres of water."


@pytest.mark.slow
def test_restart_serves_the_previous_index_while_updating(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """Issue 13.7 (in part): after a crash right after a big upload, the restart embedded
    it before answering anything (9 min 24 s for 19 MB). Now the index on disk answers
    at once and the update runs in the background; the status line says how far the
    embedding is; a removal meanwhile does not wait for the embedding (it is done before
    the index lock is taken); the new text answers when it is done."""
    cfg = _project(tmp_path / "p", built_seed_index)
    cfg.upload_path.mkdir()
    _write(cfg.upload_path, "otters.md", OTTERS)
    build_index(cfg, assistant.parts.embedder, progress=False)  # an indexed upload
    (cfg.upload_path / "big.md").write_text(_big_text(BIG_FACT), "utf-8")
    app = load_app()
    t0 = time.perf_counter()
    engine = app.Engine(cfg).start()
    demo = app.build(engine, limiter=RateLimiter(0))
    port = free_port()
    app.launch(demo, host=HOST, port=port, prevent_thread_lock=True)
    try:
        client = Client(f"http://{HOST}:{port}/", verbose=False)
        assert "113" in client.predict(Q_HOTLINE, api_name="/ask")["answer"]
        answered_s = time.perf_counter() - t0
        assert engine.updating, "the seed question was answered while the update ran"
        status, _, _ = _views(app, engine)
        assert "updating it in the background" in status
        assert "uploads/big.md" not in {d["source"] for d in client.predict(api_name="/documents")}
        seen = ""
        while engine.updating and "new passages embedded" not in seen:
            seen = engine.updating
            time.sleep(0.1)
        assert re.search(r"[\d,]+ of [\d,]+ new passages embedded \(\d+%\)", seen), seen
        t1 = time.perf_counter()
        out = client.predict("uploads/otters.md", api_name="/remove")
        removed_s = time.perf_counter() - t1
        assert "uploads/otters.md" not in {d["source"] for d in out["documents"]}
        assert engine.updating, "the removal waited for the start-up embedding"
        updated_s = answered_s + _wait_for_update(engine)
        result = client.predict("How much water does the Quillon dam hold?", api_name="/ask")
        assert "8,812" in result["answer"] and _cited(result, "uploads/big.md")
        assert not engine.update_error
        assert Q_OTTERS and "77" not in client.predict(Q_OTTERS, api_name="/ask")["answer"]
        print(
            f"first answer after {answered_s:.1f} s, a removal meanwhile {removed_s:.2f} s, "
            f"index updated after {updated_s:.1f} s"
        )
    finally:
        demo.close()


def _big_text(fact: str, n: int = 2400) -> str:
    """A text of ``n`` short sentences (~390 chunks, ~30 s to embed here), then ``fact``."""
    lines = [
        f"Survey note {i}: the river gauge number {i} at kilometre {i * 3} read {i % 97} cm."
        for i in range(n)
    ]
    return "# River survey\n\n" + " ".join(lines) + " " + fact


@pytest.mark.slow
def test_big_upload_is_indexed_in_the_background(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
) -> None:
    """Issue 13.7 (in part): a big upload held its request (and the uploader) for the
    whole embedding. Now the request returns after ``upload_wait_s`` saying it is still
    indexing, questions are answered meanwhile, a removal does not wait for the embedding,
    and the file answers when it is done."""
    cfg = _project(tmp_path / "p", built_seed_index)
    big = _write(tmp_path, "big-survey.md", _big_text(BIG_FACT))
    with serve(cfg, assistant.parts.embedder, upload_wait_s=2) as srv:
        client = Client(srv["url"], verbose=False)
        client.predict(
            [handle_file(str(_write(tmp_path, "otters.md", OTTERS)))], api_name="/upload"
        )
        client.predict(Q_HOTLINE, api_name="/ask")  # the server's first /ask: Gradio's set-up
        tq = time.perf_counter()
        assert "113" in client.predict(Q_HOTLINE, api_name="/ask")["answer"]
        quiet_s = time.perf_counter() - tq  # the same question, nothing embedding
        t0 = time.perf_counter()
        out = client.predict([handle_file(str(big))], api_name="/upload")
        replied_s = time.perf_counter() - t0
        assert out["added"] == [] and out["pending"] == ["big-survey.md"], out
        assert "Still indexing big-survey.md in the background" in out["summary"]
        assert replied_s < 15, f"the upload request took {replied_s:.1f} s"
        t1 = time.perf_counter()
        assert "113" in client.predict(Q_HOTLINE, api_name="/ask")["answer"]
        asked_s = time.perf_counter() - t1
        engine = srv["app_engine"]
        assert engine.updating.startswith("Indexing big-survey.md in the background")
        t2 = time.perf_counter()
        out = client.predict("uploads/otters.md", api_name="/remove")
        removed_s = time.perf_counter() - t2
        assert "uploads/otters.md" not in {d["source"] for d in out["documents"]}
        assert engine.updating, "the removal was done while the upload was still embedding"
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            sources = {d["source"] for d in client.predict(api_name="/documents")}
            if "uploads/big-survey.md" in sources:
                break
            time.sleep(1)
        indexed_s = time.perf_counter() - t0
        assert "uploads/big-survey.md" in sources
        _wait_for_update(engine)
        result = client.predict("How much water does the Quillon dam hold?", api_name="/ask")
        assert "8,812" in result["answer"] and _cited(result, "uploads/big-survey.md")
        assert not list(_gradio_cache(srv["app"]).rglob("big-survey.md")), "temp copy deleted"
        assert not (cfg.upload_path / "otters.md").exists()
        assert "uploads/otters.md" not in {d.source for d in srv["bot"].documents}
        print(
            f"reply {replied_s:.1f} s, a question meanwhile {asked_s:.2f} s "
            f"(the same before the upload: {quiet_s:.2f} s), "
            f"a removal meanwhile {removed_s:.2f} s, indexed {indexed_s:.1f} s"
        )


def _views(app, engine) -> tuple[str, str, object]:
    """The page's status line and documents table, as the page load computes them."""
    demo = app.build(engine, limiter=RateLimiter(0))
    fn = next(d.fn for d in demo.fns.values() if getattr(d.fn, "__name__", "") == "on_load")
    return fn(None)  # no accounts here: a request without a user may read


# ============================================================================ 8. parameters


def test_api_parameters_are_bounded_on_the_server(client: Client) -> None:
    """Issue 13.8: top_k=1e9 returned 4,209 passages; only enabled backends may be picked."""
    assert (
        len(client.predict(Q_HOTLINE, "extractive", 1e9, True, api_name="/ask")["passages"]) == 20
    )
    assert len(client.predict(Q_HOTLINE, "extractive", -7, True, api_name="/ask")["passages"]) == 1
    with pytest.raises(AppError, match=r"backend 'openai' is not enabled on this server"):
        client.predict(Q_HOTLINE, "openai", 5, True, api_name="/ask")


def test_fallback_note_does_not_show_the_server_address(server) -> None:
    """A failing generative backend's note said which URL it called; clients see a
    placeholder (the server's log keeps the address)."""
    pytest.importorskip("llama_index.llms.openai_like")
    port = free_port()  # nothing listens there
    url = f"http://{HOST}:{port}/v1"
    cfg = server["config"].replace(
        openai_base_url=url, llm_timeout_s=5, allowed_backends="extractive,openai"
    )
    with serve(cfg, server["bot"].parts.embedder) as srv:
        result = Client(srv["url"], verbose=False).predict(
            Q_HOTLINE, "openai", 5, True, api_name="/ask"
        )
    assert result["backend"] == "extractive (fallback from openai)" and "113" in result["answer"]
    shown = json.dumps(result)
    assert f":{port}" not in shown and url not in shown
    assert any(prompts.FALLBACK_NOTE.split("{")[0] in n for n in result["notes"])


def test_redact_hides_addresses_and_server_paths() -> None:
    """What notes and errors become before a client sees them."""
    from rag.app.render import redact

    root = "/srv/rag"
    cases = {
        "cannot write the index to /srv/rag/index (No space left on device)": (
            "cannot write the index to index (No space left on device)"
        ),
        "/tmp/gradio/2aa6/form.pdf: cannot read the PDF": "form.pdf: cannot read the PDF",
        "cannot connect to http://10.0.0.5:8080/v1: is it running?": (
            f"cannot connect to {prompts.SERVER_ADDRESS}: is it running?"
        ),
        "Milvus at milvus.example:19530 with key sk-123456 failed": (
            f"Milvus at {prompts.SERVER_ADDRESS} with key {prompts.SERVER_ADDRESS} failed"
        ),
        "the project /srv/rag, not /srv/rag2/x": "the project ., not x",
        "and/or 1/2 of 3.5 s": "and/or 1/2 of 3.5 s",
    }
    for text, shown in cases.items():
        assert redact(text, root, ["milvus.example:19530", "sk-123456"]) == shown


# ============================================================================ 4. feedback


def test_feedback_only_rates_answers_the_server_gave(server, client: Client) -> None:
    """Issue 13.4: a 50 MB answer field and a citation of /etc/passwd were stored."""
    cfg: Config = server["config"]
    path = cfg.path(cfg.feedback_path)
    result = client.predict(Q_HOTLINE, api_name="/ask")
    assert len(result["answer_id"]) == 32

    forged = {**result, "answer": "x" * 2_000_000, "question": "planted?"}
    forged["citations"] = [{"n": 1, "source": "/etc/passwd", "start": 0, "end": 9, "quote": "root"}]
    saved = client.predict(forged, "up", "fine", api_name="/feedback")
    assert saved["answer"] == result["answer"] and saved["question"] == Q_HOTLINE
    assert [c["source"] for c in saved["citations"]] == [c["source"] for c in result["citations"]]
    assert saved["answer_id"] == result["answer_id"]
    assert path.stat().st_size < 20_000

    for bad in ({k: v for k, v in forged.items() if k != "answer_id"}, "0" * 32, None):
        with pytest.raises(AppError, match="answer_id"):
            client.predict(bad, "up", "", api_name="/feedback")
    with pytest.raises(AppError, match=r"4,001 characters long; the limit is 4,000"):
        client.predict(result, "down", "y" * 4001, api_name="/feedback")
    stored = feedback.load(path)
    assert [r["id"] for r in stored if r.get("answer_id") == result["answer_id"]] == [saved["id"]]
    assert all("/etc/passwd" not in json.dumps(r) for r in stored)


def test_feedback_file_is_bounded_and_records_survive_line_separators(tmp_path: Path) -> None:
    """The file is rotated at its size limit (total disk bounded); records holding
    U+2028, U+2029 or U+0085 (kept raw by JSON) are read back whole (issue 13.10)."""
    path = tmp_path / "feedback.jsonl"
    odd = {"question": "Q\u2028line\u2029para\x85next?", "answer": "A [1]."}
    first = feedback.save(path, odd, "up", "comment\u2028two lines")
    assert [r["id"] for r in feedback.load(path)] == [first["id"]]
    assert feedback.load(path)[0]["question"] == odd["question"]

    size = len(path.read_bytes())
    for _ in range(200):
        feedback.append(path, first, max_bytes=10 * size, keep=2)
    files = feedback.rotated_files(path)
    assert [p.name for p in files] == ["feedback.jsonl.2", "feedback.jsonl.1", "feedback.jsonl"]
    assert sum(p.stat().st_size for p in files) <= 3 * 10 * size
    assert len(feedback.load(path, latest=False)) == sum(
        len(p.read_bytes().split(b"\n")) - 1 for p in files
    )


# ============================================================================ 5. temp copies


def _gradio_cache(app) -> Path:
    """Gradio's own idea of its upload cache folder (not the app's)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def _raw_upload(url: str, path: Path, forwarded_for: str = "") -> str:
    """POST a file to Gradio's upload route, as any HTTP client can; its server path.
    ``forwarded_for``: the ``X-Forwarded-For`` header a proxy (or a liar) sends."""
    boundary = "robust-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "gradio_api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    if forwarded_for:
        request.add_header("X-Forwarded-For", forwarded_for)
    with urllib.request.urlopen(request, timeout=60) as resp:
        (server_path,) = json.loads(resp.read())
    return server_path


def _call(url: str, api: str, data: list) -> tuple[str, object]:
    """POST /gradio_api/call/<api> and read its result event: ("complete"|"error", data)."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/{api}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        event_id = json.loads(resp.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=120) as resp:
        lines = resp.read().decode().splitlines()
    event = next(line.split(": ", 1)[1] for line in reversed(lines) if line.startswith("event:"))
    payload = next(line[6:] for line in reversed(lines) if line.startswith("data: "))
    return event, json.loads(payload)


def _fetch_status(url: str, server_path: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}gradio_api/file={server_path}", timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_temp_upload_copies_are_removed_on_every_outcome(server, tmp_path: Path) -> None:
    """Issue 13.5: rejected uploads stayed in Gradio's temp folder, and a removed
    document's original bytes stayed downloadable there; errors showed that path."""
    url, cfg = server["url"], server["config"]
    cache = _gradio_cache(server["app"])
    good = _write(tmp_path, "form-robust.md", "# Form\n\nThe heron survey counted 5,150 nests.")
    bad = tmp_path / "broken-robust.pdf"
    bad.write_bytes(b"%PDF-1.4 not really a pdf")

    kept = _raw_upload(url, good)
    assert Path(kept).resolve().is_relative_to(cache) and _fetch_status(url, kept) == 200
    event, out = _call(url, "upload", [[{"path": kept, "meta": {"_type": "gradio.FileData"}}]])
    assert event == "complete" and out[0]["added"] == ["uploads/form-robust.md"]
    assert not Path(kept).exists() and _fetch_status(url, kept) != 200
    _call(url, "remove", ["uploads/form-robust.md"])
    assert _fetch_status(url, kept) != 200, "the removed document's bytes are gone"

    rejected = _raw_upload(url, bad)
    event, out = _call(url, "upload", [[{"path": rejected, "meta": {"_type": "gradio.FileData"}}]])
    assert event == "error" and not Path(rejected).exists()
    client = Client(url, verbose=False)
    with pytest.raises(AppError) as err:
        client.predict([handle_file(str(bad))], api_name="/upload")
    message = str(err.value)
    assert "broken-robust.pdf: cannot read the PDF" in message
    assert str(cache) not in message and "/tmp" not in message and str(tmp_path) not in message
    assert not list(cache.rglob("broken-robust.pdf")) and not list(cache.rglob("form-robust.md"))
    assert not (cfg.upload_path / "broken-robust.pdf").exists()


# ============================================================================ 10. smaller ones


def test_concurrent_uploads_each_report_their_own_files(server, tmp_path: Path) -> None:
    """Issue 13.10: two uploads at once listed each other's files as added."""
    files = []
    for i in range(4):
        folder = tmp_path / str(i)
        folder.mkdir()
        text = (
            f"# Lighthouse {i}\n\nThe lighthouse at cape number {i} stands {100 + i} metres tall."
        )
        files.append(_write(folder, f"lighthouse-{i}.md", text))

    def upload(path: Path) -> list[str]:
        return Client(server["url"], verbose=False).predict(
            [handle_file(str(path))], api_name="/upload"
        )["added"]

    with ThreadPoolExecutor(4) as pool:
        added = list(pool.map(upload, files))
    assert added == [[f"uploads/{p.name}"] for p in files]
    client = Client(server["url"], verbose=False)
    for p in files:
        client.predict(f"uploads/{p.name}", api_name="/remove")


def test_same_bytes_uploaded_at_once_by_two_clients_are_both_read(server, tmp_path: Path) -> None:
    """Gradio names a temp copy by its content's hash: two clients posting the very
    same file share one path. The first upload's cleanup deleted it while the second
    still waited in the upload queue, which then failed with "cannot be read"."""
    url, cache = server["url"], _gradio_cache(server["app"])
    same = _write(tmp_path, "tide-table.md", "# Tides\n\nThe spring tide rose 6.4 metres at noon.")
    first, second = _raw_upload(url, same), _raw_upload(url, same)
    assert first == second and Path(first).resolve().is_relative_to(cache)
    payload = [[{"path": first, "meta": {"_type": "gradio.FileData"}}]]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _call(url, "upload", payload), range(2)))
    assert [event for event, _ in results] == ["complete", "complete"], results
    assert not Path(first).exists(), "the shared copy is deleted once both are done"
    out = Client(url, verbose=False).predict("How high did the spring tide rise?", api_name="/ask")
    assert "6.4 metres" in out["answer"] and _cited(out, "uploads/tide-table.md"), out
    event, _ = _call(url, "remove", ["uploads/tide-table.md"])
    assert event == "complete"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_text_is_read(tmp_path: Path, encoding: str) -> None:
    """Windows "Unicode" text (UTF-16, with or without a BOM) was refused as binary."""
    text = "LẠNG SƠN — Hữu Nghị gate handled 1,234 trucks.\nMore followed."
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(encoding))
    assert read_text_file(path).text == text
    assert load_document(path, tmp_path).text == text
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnreadableFileError, match="binary"):
        read_text_file(binary)


def test_pdf_encrypted_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    """Such a PDF opens for anyone (only editing is restricted); it was refused."""
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    page = b"BT /F1 12 Tf 72 720 Td (The ferry carried 8,765 cyclists.) Tj ET\n"
    plain.write_bytes(flate_pdf(page, 1))
    for name, user in (("open.pdf", ""), ("locked.pdf", "secret")):
        writer = PdfWriter(clone_from=PdfReader(plain))
        writer.encrypt(user_password=user, owner_password="owner", algorithm="RC4-128")
        with open(tmp_path / name, "wb") as fh:
            writer.write(fh)
    assert PdfReader(tmp_path / "open.pdf").is_encrypted
    assert "8,765 cyclists" in read_pdf(tmp_path / "open.pdf").text
    with pytest.raises(UnreadableFileError, match="needs a password"):
        read_pdf(tmp_path / "locked.pdf")


# ============================================================================ 3. floods


@pytest.fixture()
def limited(tmp_path: Path, built_seed_index: Path, assistant):  # noqa: F811
    """An app with the limits on and a clock the test moves: 3 questions at once per
    session (then 1 a second), so 12 per address; 10 uploads/removals, 20 ratings."""
    clock = FakeClock()
    cfg = _project(tmp_path / "p", built_seed_index)
    with serve(cfg, assistant.parts.embedder, limiter=RateLimiter(60, 3, clock=clock)) as srv:
        yield {**srv, "clock": clock}


def test_new_session_per_request_is_limited_by_address(limited, tmp_path: Path) -> None:
    """Issue 13.3: a new Client per call used to get every question answered."""
    url = limited["url"]
    answered = refused = 0
    for _ in range(16):
        try:
            Client(url, verbose=False).predict(Q_HOTLINE, api_name="/ask")
            answered += 1
        except AppError as exc:
            assert "Too many questions from your address: limit is 240 per minute" in str(exc)
            refused += 1
    assert (answered, refused) == (12, 4)
    event, out = _call(url, "ask", [Q_HOTLINE, "extractive", 5, True])  # raw API, no session
    assert event == "error"
    limited["clock"].t += 1.0  # 4 tokens back per second for the address
    assert "113" in Client(url, verbose=False).predict(Q_HOTLINE, api_name="/ask")["answer"]


def test_a_flood_is_refused_before_the_queue(limited) -> None:
    """Past twice its question rate, an address's requests get HTTP 429 before they are
    queued (a refusal from inside the event still costs a worker); others are served."""
    url = limited["url"]
    codes = []
    for _ in range(90):  # the guard's burst: 2 x (12 questions + 10 changes + 20 ratings)
        request = urllib.request.Request(
            f"{url}gradio_api/call/ask",
            data=json.dumps({"data": [Q_HOTLINE, "extractive", 5, True]}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                codes.append(resp.status)
        except urllib.error.HTTPError as exc:
            codes.append(exc.code)
            if exc.code == 429:
                body = json.loads(exc.read())
                assert "Too many requests from your address" in body["error"]
                assert int(exc.headers["Retry-After"]) >= 1
    assert codes.count(200) == 84 and codes.count(429) == 6
    with pytest.raises(Exception, match="429"):
        Client(url, verbose=False).predict(Q_HOTLINE, api_name="/ask")
    limited["clock"].t += 60.0
    assert "113" in Client(url, verbose=False).predict(Q_HOTLINE, api_name="/ask")["answer"]


def test_file_posts_are_limited_before_they_are_received(limited, tmp_path: Path) -> None:
    """Files posted straight to Gradio's upload route used to be stored without limit
    (five 19 MB files in 1 s); past twice the uploads' burst they get HTTP 429."""
    path = _write(tmp_path, "note-post.md", "# Note\n\nA short note.")
    codes = []
    for _ in range(24):  # the burst: 2 x 10
        try:
            _raw_upload(limited["url"], path)
            codes.append(200)
        except urllib.error.HTTPError as exc:
            codes.append(exc.code)
            assert "Too many file uploads from your address" in json.loads(exc.read())["error"]
    assert codes.count(200) == 20 and codes.count(429) == 4


def _posts_accepted(url: str, path: Path, forwarded: list[str]) -> int:
    """How many of these raw file posts (one per X-Forwarded-For value) were accepted."""
    accepted = 0
    for value in forwarded:
        try:
            _raw_upload(url, path, forwarded_for=value)
            accepted += 1
        except urllib.error.HTTPError as exc:
            assert exc.code == 429
    return accepted


@pytest.mark.parametrize("trusted", ["", "127.0.0.1,::1"])
def test_forwarded_for_counts_only_from_a_trusted_proxy(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
    trusted: str,
) -> None:
    """The per-address limits count the client a trusted proxy names in X-Forwarded-For
    (``RAG_TRUSTED_PROXIES``, default loopback: a reverse proxy on the same host), and
    ignore the header from anyone else: with no proxy trusted, a client that sends a new
    made-up address with every request is still held to its own address's burst (20)."""
    cfg = _project(tmp_path / "p", built_seed_index)
    path = _write(tmp_path, "note-fwd.md", "# Note\n\nA short note.")
    limiter = RateLimiter(60, 3, clock=FakeClock())
    with serve(cfg, assistant.parts.embedder, trusted_proxies=trusted, limiter=limiter) as srv:
        made_up = [f"203.0.113.{i}" for i in range(24)]
        if not trusted:
            assert _posts_accepted(srv["url"], path, made_up) == 20
        else:  # two users behind the proxy: each has a budget of its own
            two_users = ["198.51.100.7", "198.51.100.8"] * 12
            assert _posts_accepted(srv["url"], path, two_users) == 24
            assert _posts_accepted(srv["url"], path, ["198.51.100.7"] * 10) == 8


def test_uploads_removals_and_feedback_are_limited(limited, tmp_path: Path) -> None:
    url, cfg = limited["url"], limited["config"]
    client = Client(url, verbose=False)
    path = _write(tmp_path, "heron.md", "# Herons\n\nThe heron survey counted 5,150 nests.")
    for _ in range(5):
        client.predict([handle_file(str(path))], api_name="/upload")
        client.predict("uploads/heron.md", api_name="/remove")
    with pytest.raises(AppError, match="Too many uploads and removals from your address"):
        client.predict([handle_file(str(path))], api_name="/upload")
    assert not (cfg.upload_path / "heron.md").exists()
    result = client.predict(Q_HOTLINE, api_name="/ask")
    for _ in range(20):
        Client(url, verbose=False).predict(result, "up", "", api_name="/feedback")
    with pytest.raises(AppError, match="Too many ratings from your address"):
        client.predict(result, "up", "", api_name="/feedback")


def test_request_limits_follow_the_session_limiter() -> None:
    off = RequestLimits.around(RateLimiter(0))
    assert not any(lim.enabled for lim in (off.address, off.changes, off.feedback))
    on = RequestLimits.from_config(Config.from_env(environ={}))
    assert (on.session.per_minute, on.address.per_minute, on.address.burst) == (30, 120, 40)
    for _ in range(40):
        on.check("ask", f"s{time.monotonic_ns()}", "10.0.0.1")  # a new session each time
    with pytest.raises(Exception, match="from your address"):
        on.check("ask", "another-session", "10.0.0.1")
    on.check("ask", "another-session", "10.0.0.2")  # another address is not affected


def test_warm_up_runs_the_answer_chain_once_and_never_fails_the_load(
    tmp_path: Path,
    built_seed_index: Path,  # noqa: F811
    assistant,
    capsys: pytest.CaptureFixture,
) -> None:
    """The app's first question paid for the chain's first run (1.3 s on 2 cores): the
    engine answers one throw-away question once loaded. A warm-up that fails (here: the
    disk went away) is a warning in the log, not a failed load."""
    bot = private_bot(_project(tmp_path / "p", built_seed_index), assistant.parts.embedder)
    bot.parts.embedder.clear_cache()
    warm_up(bot)
    assert bot.parts.embedder._texts, "the throw-away question embedded passage sentences"
    assert "answer chain warmed up" in capsys.readouterr().err

    class Broken:
        def ask(self, question: str) -> None:
            raise OSError("the disk went away")

    warm_up(Broken())
    assert "warm-up question failed (OSError: the disk went away); serving anyway" in (
        capsys.readouterr().err
    )


def test_an_account_is_limited_across_addresses() -> None:
    """Issue 13.3: "limit per client address (and per user once accounts exist)": one
    account asking from many addresses is held to what one address may do."""
    limits = RequestLimits.around(RateLimiter(600, 100))  # sessions: out of the way
    limits.address = RateLimiter(1, 3)
    for i in range(3):
        limits.check("ask", f"s{i}", f"10.0.0.{i}", user="rita")
    with pytest.raises(Exception, match="Too many questions for your account"):
        limits.check("ask", "s9", "10.0.0.9", user="rita")  # a fresh address: still refused
    limits.check("ask", "s9", "10.0.0.9", user="omar")  # another account is not affected
    limits.check("ask", "s9", "10.0.0.8")  # nor a caller without an account
