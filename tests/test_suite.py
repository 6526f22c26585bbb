"""The multi-domain evaluation suite (eval/suite/, ``rag eval --suite``).

The manifest and every question line are checked against the real document files (no
model needed); a small slice of the suite then runs end to end with the real embedding
model, FAISS and BM25 indexes built per domain in a temp folder.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rag.cli import main
from rag.evaluation.dataset import QTYPES, DatasetError, load_dataset
from rag.evaluation.suite import DEFAULT_SUITE, SPLITS, load_suite, parse_sweep
from rag.ingest.dates import front_matter, front_matter_field
from tests.conftest import ROOT

MANIFEST = ROOT / DEFAULT_SUITE
MIN_QUESTIONS = 250
MIN_UNANSWERABLE = 0.25


@pytest.fixture(scope="module")
def suite_items():
    """Every domain of the suite with its validated items (evidence located)."""
    suite = load_suite(MANIFEST)
    return suite, {
        d.name: [i for q in d.questions for i in load_dataset(q, d.docs).items]
        for d in suite.domains
    }


def test_manifest_lists_five_genres_split_by_document_set(suite_items) -> None:
    suite, _ = suite_items
    assert len(suite.domains) >= 5
    assert {d.split for d in suite.domains} == set(SPLITS)
    assert len({d.genre for d in suite.domains}) == len(suite.domains)
    assert len({d.docs for d in suite.domains}) == len(suite.domains)
    names = [p.name for d in suite.domains for p in d.docs.iterdir()]
    assert all(p.suffix in {".txt", ".md"} for d in suite.domains for p in d.docs.iterdir())
    assert len(names) == sum(len(list(d.docs.iterdir())) for d in suite.domains)
    for d in suite.domains:
        assert d.docs.is_relative_to(MANIFEST.parent) and "seeds" not in d.docs.parts
        assert all(q.is_relative_to(MANIFEST.parent / d.name) for q in d.questions)


def test_every_document_is_300_to_900_words_with_a_title(suite_items) -> None:
    suite, _ = suite_items
    for d in suite.domains:
        files = sorted(d.docs.iterdir())
        assert 3 <= len(files) <= 6, d.name
        for f in files:
            text = f.read_text(encoding="utf-8")
            meta, _ = front_matter(text)  # Markdown front matter names the title
            title = (front_matter_field(meta, "title") or text.splitlines()[0].lstrip("# ")).strip()
            assert 3 <= len(title.split()) <= 20, (f, title)
            assert 300 <= len(text.split()) <= 900, (f, len(text.split()))


def test_every_question_validates_against_its_documents(suite_items) -> None:
    suite, items = suite_items
    all_items = [i for rows in items.values() for i in rows]
    assert len(all_items) >= MIN_QUESTIONS
    assert len({i.id for i in all_items}) == len(all_items), "ids are unique across the suite"
    unanswerable = [i for i in all_items if not i.answerable]
    assert len(unanswerable) / len(all_items) >= MIN_UNANSWERABLE
    for d in suite.domains:
        rows = items[d.name]
        share = sum(not i.answerable for i in rows) / len(rows)
        assert share >= MIN_UNANSWERABLE, (d.name, share)
        for item in rows:
            assert item.qtype in QTYPES, item.id
            assert item.answerable or item.miss, f"{item.id}: say what kind of near miss"
            for ev, occurrences in zip(item.evidence, item.locations, strict=True):
                assert occurrences, (item.id, ev)
                for name, a, b in occurrences:
                    assert (d.docs / name).read_text(encoding="utf-8")[a:b] == ev
    for split in SPLITS:
        in_split = [i for d in suite.domains if d.split == split for i in items[d.name]]
        assert len(in_split) >= 100, split
        assert set(QTYPES) <= {i.qtype for i in in_split}, split
    follow_ups = [i for i in all_items if i.qtype == "follow_up"]
    assert len(follow_ups) >= 25 and all(i.history for i in follow_ups)


def test_unanswerables_are_mostly_near_misses(suite_items) -> None:
    _, items = suite_items
    misses = Counter(i.miss for rows in items.values() for i in rows if not i.answerable)
    near = sum(n for kind, n in misses.items() if kind != "missing_detail")
    assert near / sum(misses.values()) >= 0.6, misses
    for kind in ("another_year", "another_number", "another_rank", "another_entity"):
        assert misses[kind] >= 5, (kind, misses)
    for kind in ("another_department", "another_phase", "reversed_direction", "unlinked_entity"):
        assert misses[kind] >= 1, (kind, misses)


def _manifest(tmp_path: Path, body: str) -> Path:
    (tmp_path / "a" / "docs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "a" / "q.jsonl").write_text("", encoding="utf-8")
    path = tmp_path / "suite.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_bad_manifests_name_each_problem(tmp_path: Path) -> None:
    ok = '[[domain]]\nname = "a"\ndocs = "a/docs"\nquestions = ["a/q.jsonl"]\nsplit = "dev"\n'
    with pytest.raises(DatasetError, match="not valid TOML"):
        load_suite(_manifest(tmp_path, "[[domain]\n"))
    with pytest.raises(DatasetError, match=r"no \[\[domain\]\] tables"):
        load_suite(_manifest(tmp_path, "title = 'x'\n"))
    bad = ok.replace('"dev"', '"train"').replace("a/docs", "missing") + ok + ok
    with pytest.raises(DatasetError) as err:
        load_suite(_manifest(tmp_path, bad))
    problems = err.value.problems
    assert "domain 1 (a): 'split' must be dev or test, not 'train'" in problems
    assert "domain 1 (a): 'docs' must name an existing folder, not 'missing'" in problems
    assert "domain a: the name is used twice" in problems
    assert any(p.startswith("domains a and a share documents") for p in problems)
    assert load_suite(_manifest(tmp_path, ok)).select("test").domains == ()


def test_parse_sweep(tmp_path: Path) -> None:
    from rag.config import Config

    cfg = Config.from_env({"root": tmp_path}, environ={})
    assert parse_sweep("0.6, 0.3,0.6", cfg) == (0.3, 0.6)
    assert parse_sweep("none", cfg) == ()
    assert len(parse_sweep(None, cfg)) >= 5
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="--sweep"):
        parse_sweep("low,high", cfg)


def test_suite_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", "--suite", str(tmp_path / "none.toml")]) == 2
    assert main(["eval", "--suite", str(MANIFEST), "--compare", "default", "k=3"]) == 2
    assert main(["eval", "--suite", str(MANIFEST), "--limit", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("rag: error:") for e in err), err
    assert "not found" in err[0] and "--compare" in err[1] and "--limit" in err[2]


# ---------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_suite_slice_reports_per_domain_type_and_split(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "suite"
    args = ["eval", "--suite", str(MANIFEST), "--limit", "4", "--sweep", "0.3,0.45,0.6"]
    assert main([*args, "--out", str(out), "--min", "citation_precision=0.0"]) == 0
    shown = capsys.readouterr().out
    assert "dev total" in shown and "test total" in shown and "per question type" in shown
    for name in ("suite_report.json", "suite_report.md", "per_question.jsonl", "calibration.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "suite_report.json").read_text(encoding="utf-8"))
    suite = load_suite(MANIFEST)
    assert [d["name"] for d in report["domains"]] == [d.name for d in suite.domains]
    for d in report["domains"]:
        assert d["headline"]["n"] == 4 and d["headline"]["unanswerable"] >= 1
        assert Path(d["index_dir"]).is_relative_to(out / "index")
        assert {"answer_accuracy", "abstention_rate", "answer_words_p50"} <= set(d["headline"])
        assert d["by_qtype"] and [p["min_answer_score"] for p in d["calibration"]] == [
            0.3,
            0.45,
            0.6,
        ]
    assert set(report["splits"]) == {"dev", "test", "all"}
    for split in ("dev", "test"):
        s = report["splits"][split]
        assert s["headline"]["n"] == 4 * len(s["domains"])
        assert set(s["by_type"]) <= {"single", "multi", "unanswerable"} and s["by_miss"]
        coverage = [p["coverage"] for p in s["calibration"]]
        assert coverage == sorted(coverage, reverse=True), "a higher threshold answers less"
    assert [g["run"] for g in report["gates"]] == ["split dev", "split test"]
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert len(rows) == 4 * len(suite.domains)
    assert {r["split"] for r in rows} == {"dev", "test"} and all(r["qtype"] for r in rows)
    md = (out / "suite_report.md").read_text(encoding="utf-8")
    for heading in ("## Per domain", "## Per split", "## Per question type", "## Calibration"):
        assert heading in md
    dev = ", ".join(d.name for d in suite.domains if d.split == "dev")
    assert re.search(rf"\| dev \| {dev} \| {4 * dev.count(',') + 4} \|", md)


@pytest.mark.slow
def test_suite_split_selects_only_its_domains(tmp_path: Path) -> None:
    out = tmp_path / "test-split"
    assert main(["eval", "--suite", str(MANIFEST), "--split", "test", "--limit", "2",
                 "--sweep", "none", "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "suite_report.json").read_text(encoding="utf-8"))
    assert {d["split"] for d in report["domains"]} == {"test"}
    assert set(report["splits"]) == {"test"} and not (out / "calibration.png").exists()


def test_domain_selects_named_domains_and_rejects_unknown_ones() -> None:
    """`rag eval --suite --domain a,b` runs only those domains (one new domain can be run
    alone, without a temporary manifest); an unknown name says which ones exist."""
    from rag.errors import ConfigError

    suite = load_suite(DEFAULT_SUITE)
    names = [d.name for d in suite.domains]
    picked = suite.only(f"{names[1]}, {names[0]}")
    assert [d.name for d in picked.domains] == names[:2]  # the manifest's order
    assert suite.only(None) is suite and suite.only("") is suite
    with pytest.raises(ConfigError, match="no_such_domain.*the selected split has"):
        suite.select("test").only("no_such_domain")
