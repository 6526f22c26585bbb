"""The `rag` command line as a user runs it: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import run_rag


def rag(args: list[str], root: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_rag(args, root, stdin=stdin)


@pytest.fixture(scope="module")
def indexed_root(session_dir: Path, assistant) -> Path:
    """The session project (its index is built by the `assistant` fixture)."""
    return session_dir


def test_search_json_schema(indexed_root: Path) -> None:
    out = rag(["search", "Huu Nghi gate", "--json", "-k", "4"], indexed_root)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"] == "Huu Nghi gate" and len(data["hits"]) == 4
    assert set(data["timings_ms"]) >= {"embed", "dense", "bm25", "fusion", "total"}
    for hit in data["hits"]:
        assert set(hit) == {
            "rank",
            "chunk_id",
            "source",
            "doc_title",
            "start",
            "end",
            "text",
            "dense_score",
            "bm25_score",
            "score",
        }
        raw = (indexed_root / hit["source"]).read_text("utf-8")
        assert unicodedata.normalize("NFC", raw)[hit["start"] : hit["end"]] == hit["text"]


def test_ask_json_contract(indexed_root: Path) -> None:
    out = rag(
        ["ask", "--json", "How many hotline calls did the two border forces make in 2025?"],
        indexed_root,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "113" in data["answer"] and not data["abstained"]
    assert data["citations"] and "113 hotline calls" in data["citations"][0]["quote"]
    assert set(data["timings_ms"]) >= {"retrieve", "generate", "verify", "total"}
    # the passages by their place only: their text is what made the document long
    assert data["passages"] and all("text" not in p for p in data["passages"])
    assert all({"source", "start", "end", "rank"} <= set(p) for p in data["passages"])
    full = rag(
        ["ask", "--json", "--passage-text", "How many hotline calls were made in 2025?"],
        indexed_root,
    )
    for p in json.loads(full.stdout)["passages"]:
        text = (indexed_root / p["source"]).read_text(encoding="utf-8")
        assert p["text"] == text[p["start"] : p["end"]]
        assert {"doc_title", "dense_score", "bm25_score"} <= set(p)


def test_ask_json_of_the_longest_seed_answer_fits_in_4_kb(indexed_root: Path) -> None:
    """A reader that takes stdout in 4 KB pieces got the seeds' longest answer (three
    cited sentences, 5.2 KB with whole passages) cut: by place, the passages leave it
    whole in one piece."""
    q = "Which two border gates did the Lang Son border guard commander want upgraded or officially opened?"
    out = rag(["ask", "--json", q], indexed_root)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.encode()) < 4096
    data = json.loads(out.stdout)
    assert data["citations"] and all(
        set(p) == {"rank", "chunk_id", "source", "start", "end", "score"} for p in data["passages"]
    )


def test_ask_json_is_one_ascii_line_whatever_the_text(tmp_path: Path) -> None:
    """A quote holding Vietnamese letters, a Unicode line separator (U+2028) and a NEL
    (U+0085) still comes out as one line of ASCII JSON: a reader that splits stdout on
    Unicode line breaks, or decodes it in another encoding, gets the whole answer."""
    (tmp_path / "seeds").mkdir()
    text = (
        "# Ferry notice\n\nThe Bến Đá ferry\u2028carries 240 passengers a day "
        "in summer\u0085and 90 in winter, said Nguyễn Thị Hạnh."
    )
    (tmp_path / "seeds" / "ferry.md").write_text(text, encoding="utf-8")
    out = rag(["ask", "--json", "How many passengers does the ferry carry a day?"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.isascii()
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert "240" in data["answer"] and data["citations"]
    quote = data["citations"][0]["quote"]
    assert quote in unicodedata.normalize("NFC", text)  # the escapes decode to the source text


def test_ask_batch_from_stdin(indexed_root: Path) -> None:
    lines = "Who headed the Chinese delegation?\n\nHow many trucks crossed Hữu Nghị gate in 2025?\n"
    out = rag(["ask", "--json", "-"], indexed_root, stdin=lines)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 3
    assert "Zhu Xingan" in rows[0]["answer"]
    assert "error" in rows[1] and rows[1]["question"] == ""
    assert rows[2]["abstained"] is True
    assert out.returncode == 1  # one line failed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", ""], "empty"),
        (["search", "x" * 100_000], "limit"),
        (["ask", "   "], "empty"),
    ],
)
def test_bad_input_one_line_error(indexed_root: Path, args: list[str], message: str) -> None:
    out = rag(args, indexed_root)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and message in out.stderr
    assert out.stderr.startswith("rag: error:")


def test_missing_corpus_and_corrupt_index(tmp_path: Path) -> None:
    out = rag(["index"], tmp_path)
    assert out.returncode == 2 and "seeds" in out.stderr and "does not exist" in out.stderr
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_bytes(b"\xff\xfe\x00bad")
    out = rag(["index"], tmp_path)
    assert out.returncode == 2 and "a.txt" in out.stderr
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "manifest.json").write_text("{")
    (tmp_path / "seeds" / "a.txt").write_text("A fine article about the Lạng Sơn border.")
    out = rag(["search", "border"], tmp_path)
    assert out.returncode == 2 and "manifest.json" in out.stderr and "--rebuild" in out.stderr
    assert rag(["index", "--rebuild"], tmp_path).returncode == 0
    assert rag(["search", "border"], tmp_path).returncode == 0
    entries = [json.loads(x) for x in (tmp_path / "index" / "audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["result"]) for e in entries] == [("rebuild", "ok")]
    assert entries[0]["user"].startswith("cli:")  # rag index runs are audited
