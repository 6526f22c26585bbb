"""The Gradio app through its API (gradio_client), concurrency, uploads and escaping.

A real server on 127.0.0.1 (free port) over a private copy of the seeds, with the
real model and index; nothing is mocked.
"""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from rag import prompts
from rag.app import render
from rag.app.feedback import load as load_feedback
from rag.config import Config
from rag.ingest.uploads import safe_name
from rag.types import Answer, Chunk, Citation, Document, Hit
from tests.conftest import STORES, with_store

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = [  # Gradio's queue statistics use pandas APIs that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROOT = Path(__file__).resolve().parents[1]
Q_HOTLINE = "How many hotline calls did the Vietnamese and Chinese border guards make to each other in 2025?"
Q_SILENT = "Who is the Prime Minister of China?"
HOSTILE_HTML = """<!doctype html><html><head><title>x</title>
<script>window.stolen = document.cookie;</script></head><body>
<nav>Home</nav>
<h1>The Zanzibar &lt;script&gt; festival</h1>
<p>The Zanzibar lantern festival drew 4,321 visitors &lt;script&gt;alert('xss')&lt;/script&gt;
and &lt;img src=x onerror=alert(1)&gt; to the harbour in 2025.</p>
<img src="x" onerror="alert(2)">
<p>Organisers said the lanterns were made of recycled paper.</p>
</body></html>
"""


def load_app() -> ModuleType:
    """The page's package (``app.py`` only calls :func:`rag.app.start.main`)."""
    import rag.app

    return rag.app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=STORES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The app over a private project root, served in-process on a free loopback port;
    once with each vector store (every test of the API runs against both)."""
    from rag.answer.assistant import Assistant

    root = tmp_path_factory.mktemp("approot")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    config = with_store(Config.from_env({"root": root}, environ={}), request.param)
    assistant = Assistant.from_config(config)
    app = load_app()
    demo = app.build(app.Engine(assistant=assistant))
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "config": config, "assistant": assistant}
    finally:
        demo.close()


@pytest.fixture()
def client(server) -> Client:
    return Client(server["url"], verbose=False)


# ---------------------------------------------------------------------------- API


def test_named_endpoints(client: Client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    names = set(api["named_endpoints"])
    assert {"/ask", "/reset", "/documents", "/document", "/upload", "/remove", "/feedback"} <= names
    ask = api["named_endpoints"]["/ask"]["parameters"]
    assert [p["parameter_name"] for p in ask] == [
        *("question", "backend", "top_k", "hybrid"),
        *("sources", "since", "until", "scope"),  # narrowing (issue 20): optional
    ]
    assert all(p["parameter_has_default"] for p in ask[4:])


def test_ask_returns_the_answer_contract(client: Client) -> None:
    result = client.predict(Q_HOTLINE, api_name="/ask")
    assert set(result) >= {
        "question",
        "standalone_question",
        "answer",
        "abstained",
        "backend",
        "citations",
        "passages",
        "timings_ms",
    }
    assert not result["abstained"]
    assert "113" in result["answer"]
    assert re.search(r"\[\d+\]", result["answer"])
    cit = result["citations"][0]
    doc = client.predict(cit["source"], api_name="/document")
    assert doc["text"][cit["start"] : cit["end"]] == cit["quote"]
    for p in result["passages"]:
        assert {"dense_score", "bm25_score", "score"} <= set(p)
    assert result["timings_ms"]["total"] > 0


def test_settings_per_call(client: Client) -> None:
    result = client.predict(Q_HOTLINE, "extractive", 2, False, api_name="/ask")
    assert len(result["passages"]) == 2
    wide = client.predict(Q_HOTLINE, "extractive", 8, True, api_name="/ask")
    assert len(wide["passages"]) > 2
    with pytest.raises(AppError, match="backend"):
        client.predict(Q_HOTLINE, "nonsense", 5, True, api_name="/ask")


def test_ask_narrowed_to_documents_dates_and_scope(client: Client) -> None:
    """/ask's optional narrowing is enforced on the server: citations come only from the
    chosen documents; a bad date or scope is a clear error; a filter nothing matches
    searches nothing."""
    full = client.predict(Q_HOTLINE, api_name="/ask")
    cited = full["citations"][0]["source"]
    docs = client.predict(api_name="/documents")
    others = [d["source"] for d in docs if d["indexed"] and d["source"] != cited]
    assert others
    narrowed = client.predict(Q_HOTLINE, sources=others[:2], api_name="/ask")
    assert {c["source"] for c in narrowed["citations"]} <= set(others[:2])
    assert any(f"Searched {len(others[:2])} document(s) only" in n for n in narrowed["notes"])
    only = client.predict(Q_HOTLINE, sources=[cited], api_name="/ask")
    assert {c["source"] for c in only["citations"]} == {cited}
    with pytest.raises(AppError, match="since must be a date"):
        client.predict(Q_HOTLINE, since="last spring", api_name="/ask")
    with pytest.raises(AppError, match="scope must be one of"):
        client.predict(Q_HOTLINE, scope="everything", api_name="/ask")
    nothing = client.predict(Q_HOTLINE, scope="uploaded", since="1900", api_name="/ask")
    assert nothing["abstained"] and not nothing["passages"]


def test_not_in_sources(client: Client) -> None:
    result = client.predict(Q_SILENT, api_name="/ask")
    assert result["abstained"]
    assert result["answer"] == prompts.NOT_IN_SOURCES.format(question=Q_SILENT)
    assert result["citations"] == []
    assert result["passages"], "the closest passages come with the abstention"


def _history(first: dict) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": first["question"]},
        {
            "role": "assistant",
            "content": first["answer"],
            "standalone": first["standalone_question"],
        },
    ]


def test_follow_up_uses_the_session_history(server, client: Client) -> None:
    follow_up = "And what about the official letters?"
    first = client.predict(Q_HOTLINE, api_name="/ask")
    follow = client.predict(follow_up, api_name="/ask")
    expected = server["assistant"].ask(follow_up, _history(first))
    assert follow["standalone_question"] == expected.standalone_question
    assert follow["answer"] == expected.answer
    client.predict(api_name="/reset")
    fresh = client.predict(follow_up, api_name="/ask")
    assert fresh["standalone_question"] == fresh["question"]
    assert follow["standalone_question"] != fresh["standalone_question"]


def test_empty_question_is_a_clear_error(client: Client) -> None:
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name="/ask")


def test_concurrent_sessions_keep_their_own_history(server) -> None:
    """8 gradio_client sessions at once: right answers, no history crossing sessions."""
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "eval/datasets/seeds_dev.jsonl").read_text().splitlines()[:60]
        if line.strip()
    ]
    questions = [q for q in questions if q != Q_SILENT][:8]
    assert len(set(questions)) == 8
    bot = server["assistant"]
    follow_up = "And what about them?"
    # The same engine, one question at a time, is the reference.
    expected = {q: bot.ask(q).to_dict() for q in questions}
    expected_follow = {q: bot.ask(follow_up, _history(expected[q])) for q in questions}
    assert len({a.standalone_question for a in expected_follow.values()}) == 8

    def session(q: str) -> tuple[str, dict, dict]:
        c = Client(server["url"], verbose=False)
        first = c.predict(q, api_name="/ask")
        follow = c.predict(follow_up, api_name="/ask")
        return q, first, follow

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(session, questions))
    for q, first, follow in results:
        assert first["question"] == q
        assert first["answer"] == expected[q]["answer"]
        assert first["citations"] == expected[q]["citations"]
        # the follow-up was rewritten with this session's question, no other
        assert follow["standalone_question"] == expected_follow[q].standalone_question
        assert follow["answer"] == expected_follow[q].answer


# ---------------------------------------------------------------------------- uploads


def test_upload_hostile_html_ask_and_remove(server, client: Client, tmp_path: Path) -> None:
    cfg: Config = server["config"]
    path = tmp_path / "zanzibar.html"
    path.write_text(HOSTILE_HTML, encoding="utf-8")
    before = {d["source"] for d in client.predict(api_name="/documents")}

    out = client.predict([handle_file(str(path))], api_name="/upload")
    assert out["added"] == ["uploads/zanzibar.html"]
    docs = {d["source"]: d for d in out["documents"]}
    assert docs["uploads/zanzibar.html"]["uploaded"] is True
    assert not any(d["uploaded"] for s, d in docs.items() if s in before)

    doc = client.predict("uploads/zanzibar.html", api_name="/document")
    assert "alert('xss')" in doc["text"] and "<script>" in doc["text"]  # escaped text kept
    assert "stolen" not in doc["text"] and "Home" not in doc["text"]  # scripts, nav dropped

    answer = client.predict(
        "How many visitors did the Zanzibar lantern festival draw?", api_name="/ask"
    )
    assert not answer["abstained"]
    assert "4,321" in answer["answer"]
    cit = next(c for c in answer["citations"] if c["source"] == "uploads/zanzibar.html")
    assert doc["text"][cit["start"] : cit["end"]] == cit["quote"]

    # Rendered: the document's markup is text, never live HTML.
    bot = server["assistant"]
    view = render.sources_html(
        _answer_from_dict(answer),
        0,
        selected=("cite", cit["n"]),
        document=bot.document(cit["source"]),
    )
    assert "<script" not in view and "<img" not in view
    assert "&lt;script&gt;" in view
    mark = re.search(r'<mark class="rag-quote">(.*?)</mark>', view, re.S)
    assert mark and html.unescape(mark.group(1)) == cit["quote"]

    out = client.predict("uploads/zanzibar.html", api_name="/remove")
    assert "uploads/zanzibar.html" not in {d["source"] for d in out["documents"]}
    assert not (cfg.upload_path / "zanzibar.html").exists()
    gone = client.predict(
        "How many visitors did the Zanzibar lantern festival draw?", api_name="/ask"
    )
    assert not any(c["source"] == "uploads/zanzibar.html" for c in gone["citations"])


def test_bad_upload_is_rejected_and_index_intact(server, client: Client, tmp_path: Path) -> None:
    cfg: Config = server["config"]
    good = tmp_path / "good.md"
    good.write_text("# Fine\n\nA perfectly good note about otters.", encoding="utf-8")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    before = client.predict(api_name="/documents")
    with pytest.raises(AppError, match=r"broken\.pdf"):
        client.predict([handle_file(str(good)), handle_file(str(bad))], api_name="/upload")
    assert client.predict(api_name="/documents") == before
    assert not (cfg.upload_path / "good.md").exists(), "a rejected batch copies nothing"
    with pytest.raises(AppError, match="unsupported"):
        exe = tmp_path / "tool.exe"
        exe.write_bytes(b"MZ\x00\x00")
        client.predict([handle_file(str(exe))], api_name="/upload")
    with pytest.raises(AppError, match="corpus folder"):
        client.predict(before[0]["source"], api_name="/remove")
    assert client.predict(api_name="/documents") == before
    assert not client.predict(Q_HOTLINE, api_name="/ask")["abstained"]


def test_uploaded_names_stay_in_the_upload_folder(server, client: Client, tmp_path: Path) -> None:
    cfg: Config = server["config"]
    assert safe_name("../../etc/passwd") == "passwd"
    assert "/" not in safe_name("..\\..\\evil.md") and not safe_name("....md").startswith(".")
    odd = tmp_path / "..odd name;$(rm -rf)<x>.md"
    odd.write_text("Penguins of the Antarctic coast number in the millions.", encoding="utf-8")
    out = client.predict([handle_file(str(odd))], api_name="/upload")
    (source,) = out["added"]
    target = (cfg.root / source).resolve()
    assert target.is_relative_to(cfg.upload_path.resolve())
    assert target.exists()
    client.predict(source, api_name="/remove")
    assert not target.exists()


def test_upload_pdf_keeps_pages(client: Client, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    path = tmp_path / "ferry.pdf"
    with PdfPages(path) as pdf:
        for text in (
            "Ferry timetable, page one.",
            "The Quokka Island ferry carried 8,765 cyclists.",
        ):
            fig = plt.figure(figsize=(8.27, 11.69))
            fig.text(0.08, 0.9, text)
            pdf.savefig(fig)
            plt.close(fig)
    (source,) = client.predict([handle_file(str(path))], api_name="/upload")["added"]
    doc = client.predict(source, api_name="/document")
    assert [p[0] for p in doc["pages"]] == [1, 2]
    answer = client.predict("How many cyclists did the Quokka Island ferry carry?", api_name="/ask")
    cit = next(c for c in answer["citations"] if c["source"] == source)
    assert cit["start"] >= doc["pages"][1][1]  # the quote is on page 2
    client.predict(source, api_name="/remove")


# ---------------------------------------------------------------------------- feedback


def test_feedback_saved_as_jsonl(server, client: Client) -> None:
    cfg: Config = server["config"]
    answer = client.predict(Q_HOTLINE, api_name="/ask")

    def rate(i: int) -> dict:
        c = Client(server["url"], verbose=False)
        return c.predict(answer, "up" if i % 2 else "down", f"comment {i}", api_name="/feedback")

    with ThreadPoolExecutor(8) as pool:
        saved = list(pool.map(rate, range(8)))
    records = {r["id"]: r for r in load_feedback(cfg.path(cfg.feedback_path))}
    for rec in saved:
        line = records[rec["id"]]
        assert line["question"] == Q_HOTLINE
        assert line["answer"] == answer["answer"]
        assert line["citations"][0]["quote"] == answer["citations"][0]["quote"]
        assert line["rating"] in ("up", "down") and line["comment"].startswith("comment ")
    with pytest.raises(AppError, match="rating"):
        client.predict(answer, "meh", "", api_name="/feedback")


# ---------------------------------------------------------------------------- rendering


HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> ${value} {{value}} & \"q\" 'a'"


def _answer_from_dict(d: dict) -> Answer:
    return Answer(
        question=d["question"],
        standalone_question=d["standalone_question"],
        answer=d["answer"],
        abstained=d["abstained"],
        backend=d["backend"],
        citations=[
            Citation(
                c["n"], c["source"], c["doc_title"], c["start"], c["end"], c["quote"], c["score"]
            )
            for c in d["citations"]
        ],
    )


def _hostile_answer() -> tuple[Answer, Document]:
    text = f"{HOSTILE}\n\nBefore {HOSTILE} after.\n\nLast paragraph."
    doc = Document("d1", "uploads/<evil>.html", HOSTILE, text, pages=((1, 0), (2, 20)))
    start = text.index("Before ") + len("Before ")
    end = start + len(HOSTILE)
    chunk = Chunk("d1:0", "d1", doc.source, HOSTILE, 0, len(text), text)
    cit = Citation(1, doc.source, HOSTILE, start, end, text[start:end], 0.9)
    answer = Answer(
        question=HOSTILE,
        standalone_question=HOSTILE + " (context: x)",
        answer=f"{HOSTILE} [1] [7]",
        abstained=False,
        backend="extractive",
        citations=[cit],
        passages=[Hit(1, chunk, 0.5, 1.5, 0.03)],
        timings_ms={"total": 12.0, "retrieve": 3.0},
        notes=[HOSTILE],
    )
    return answer, doc


def _assert_inert(markup: str) -> None:
    for live in ("<script", "<img", "onerror=alert(2)>", "<evil>"):
        assert live not in markup, f"{live!r} leaked into {markup[:200]!r}"


def test_render_escapes_everything() -> None:
    answer, doc = _hostile_answer()
    pieces = [
        render.user_html(HOSTILE),
        render.streaming_html(HOSTILE),
        render.error_html(HOSTILE),
        render.answer_html(answer, 0),
        render.sources_html(answer, 0),
        render.sources_html(answer, 0, selected=("cite", 1), document=doc),
        render.sources_html(answer, 0, selected=("passage", 1), document=doc),
        render.sources_html(answer, 0, selected=("cite", 1), document=None),
        render.details_html(answer, 0),
        render.documents_html([doc], [doc.source]),
    ]
    for markup in pieces:
        _assert_inert(markup)
    assert "&lt;script&gt;" in pieces[0]


def test_render_marks_the_exact_quote() -> None:
    answer, doc = _hostile_answer()
    view = render.sources_html(answer, 0, selected=("cite", 1), document=doc)
    marks = re.findall(r'<mark class="rag-quote">(.*?)</mark>', view, re.S)
    assert [html.unescape(m) for m in marks] == [answer.citations[0].quote]
    full = re.search(r'<mark class="rag-article-quote" id="rag-article-quote">(.*?)</mark>', view)
    assert full and html.unescape(full.group(1)) == answer.citations[0].quote
    assert "page 2" in view  # the quote starts after page 2's offset
    # Only known markers become links; [7] has no citation and stays text.
    msg = render.answer_html(answer, 3)
    assert msg.count('href="#rag-cite-3-1"') == 2  # in the text and in the sources line
    assert "#rag-cite-3-7" not in msg and "[7]" in msg


def test_render_shows_publication_dates() -> None:
    answer, doc = _hostile_answer()
    dates = {answer.citations[0].source: "2026-03-03"}
    cards = render.sources_html(answer, 0, dates=dates)
    assert '<span class="rag-card-date">3 Mar 2026</span>' in cards
    assert "rag-card-date" not in render.sources_html(answer, 0)  # unknown: left out
    table = render.documents_html([doc], [])
    assert "<th>Date</th>" in table and "unknown" in table
    assert render.show_date("2025-11") == "Nov 2025" and render.show_date("") == ""


def test_page_has_narrowing_controls_checked_on_the_server(tmp_path: Path) -> None:
    """The page offers documents / since / until / scope controls wired into the chat
    event; the server checks what they send (:func:`rag.app.handlers.narrowing`)."""
    import gradio as gr

    from rag.app.handlers import narrowing

    app = load_app()
    demo = app.build(app.Engine(Config.from_env({"root": tmp_path}, environ={})))
    ids = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    for elem in ("rag-narrow-docs", "rag-since", "rag-until", "rag-scope"):
        assert elem in ids, elem
    chat = next(d for d in demo.fns.values() if getattr(d.fn, "__name__", "") == "on_chat")
    inputs = {b._id for b in chat.inputs}
    controls = ("rag-narrow-docs", "rag-since", "rag-until", "rag-scope")
    assert {ids[e]._id for e in controls} <= inputs
    assert narrowing([], "", "", "all") is None
    f = narrowing(["seeds/a.txt"], "2025-03", "", "bundled")
    assert f.sources == ("seeds/a.txt",) and f.since == "2025-03" and f.scope == "bundled"
    assert narrowing("seeds/a.txt, seeds/b.txt", None, None, None).sources == (
        "seeds/a.txt",
        "seeds/b.txt",
    )
    for bad in ((None, "May", "", "all"), (None, "", "", "some"), ([1, 2], "", "", "all")):
        with pytest.raises(gr.Error):
            narrowing(*bad)


def test_render_abstention_lists_closest_passages() -> None:
    answer, _ = _hostile_answer()
    answer.abstained = True
    answer.citations = []
    answer.answer = prompts.NOT_IN_SOURCES.format(question="Q?")
    msg = render.answer_html(answer, 0)
    assert prompts.CLOSEST_PASSAGES in msg and 'href="#rag-passage-0-1"' in msg
    assert render.parse_selection("passage-0-1|123") == ("passage", 0, 1)
    assert render.parse_selection("cite-2-3") == ("cite", 2, 3)
    assert render.parse_selection("<script>") is None


def test_app_stays_thin() -> None:
    """``app.py`` is an entry point, and the page's modules import no retrieval or
    answering code at the top (the page is served before the model and index load)."""
    entry = ast.parse((ROOT / "app.py").read_text()).body
    assert len(entry) <= 4, [type(node).__name__ for node in entry]
    for name in ("page", "handlers", "engine", "start"):
        tree = ast.parse((ROOT / "rag" / "app" / f"{name}.py").read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        modules = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        for heavy in ("rag.retrieve", "rag.store", "rag.answer", "rag.embed", "faiss", "numpy"):
            assert not any(m.startswith(heavy) for m in modules), (name, heavy)


def test_example_questions_come_from_the_config(tmp_path: Path) -> None:
    config = Config.from_env(
        {"root": tmp_path}, environ={"RAG_EXAMPLE_QUESTIONS": "First?| Second? |"}
    )
    assert config.examples == ["First?", "Second?"]
    app = load_app()
    for cfg in (config, config.replace(example_questions="")):  # "" hides the examples
        demo = app.build(app.Engine(cfg))
        shown = [b for b in demo.blocks.values() if type(b).__name__ == "Dataset"]
        assert shown and shown[0].visible == bool(cfg.examples)


def test_errors_stay_in_the_conversation_and_likes_find_their_answer() -> None:
    answer, _ = _hostile_answer()
    second = Answer("Second?", "Second?", "An answer [1].", False, "extractive")
    failed = [(1, "Too fast?", "Too many questions: limit is 30 per minute")]
    messages = render.chat_messages([answer, second], failed)
    assert len(messages) == 6
    assert "Too fast?" in messages[2]["content"] and "rag-error" in messages[3]["content"]
    assert "Too many questions" in messages[3]["content"]
    assert "Second?" in messages[4]["content"]
    # the chatbot's message index -> the finished answer it shows (None: a question or an error)
    turns = [render.message_turn([answer, second], failed, i) for i in range(7)]
    assert turns == [None, 0, None, None, None, 1, None]
