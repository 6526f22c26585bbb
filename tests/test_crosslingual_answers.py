"""Chinese sentences are quoted and cited with exact offsets; `rag index` writes the
multilingual index (issue 16). Real models, real indexes, real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.answer.cjk import cjk_pick_value
from rag.answer.counted import asked_unit
from rag.answer.layout import content_span, is_heading_line, is_label
from rag.answer.spans import (
    stated_numbers,
    value_spans,
)
from rag.config import Config
from rag.lang import word_count
from rag.text import sentence_spans
from tests.conftest import run_rag

ROOT = Path(__file__).resolve().parents[1]
XL_DOCS = ROOT / "eval" / "crosslingual" / "docs"
ZH_FRUIT = XL_DOCS / "zh" / "zh_01_pingxiang_fruit.txt"


# ---------------------------------------------------------------- sentence and span logic


def test_chinese_sentences_are_statements_and_short_lines_headings() -> None:
    """Every sentence of the Chinese articles is a statement (no spaces, no Latin full
    stop); a short Chinese line without an end mark is a heading, as in English."""
    for path in sorted((XL_DOCS / "zh").glob("*.txt")):
        text = path.read_text("utf-8")
        for a, b in sentence_spans(text):
            assert not is_label(text[a:b]), text[a:b]
    assert is_label("东兴口岸边民互市贸易额创新高")  # a headline
    assert is_heading_line("东兴口岸边民互市贸易额创新高")
    assert not is_heading_line("参与互市贸易的边民合作社已增至58家，入社边民超过1.1万人。")
    # the title a reader derived from the first line does not hide that sentence
    first = "据凭祥海关统计，2025年前三季度，经友谊关口岸进口的越南水果达到86万吨。"
    assert not is_label(first, title=first)
    # English is judged as before: a short line is a label, a title is a label
    assert is_label("Night caps") and is_label("A long title here.", title="A long title here")
    assert not is_label("The terminal opened in 2025 after four years of work.")


def test_word_count_counts_cjk_characters_as_word_equivalents() -> None:
    assert word_count("Border guards met on Tuesday") == 5.0  # len(split()), unchanged
    assert word_count("东兴口岸边民互市贸易") == 5.0  # 10 characters, 2 to a word
    assert word_count("凭祥 — 据统计，2025年") == 2.0 + 3.0  # "—", "2025" and 6 characters


def test_chinese_dateline_is_cut_from_the_statement() -> None:
    text = ZH_FRUIT.read_text("utf-8")
    a, b = sentence_spans(text)[0]
    x, y, labels = content_span(text[a:b])
    assert labels == "凭祥"
    assert text[a + x : a + y].startswith("据凭祥海关统计")


def test_chinese_values_are_typed_with_their_units() -> None:
    sentence = "广西东兴市商务局日前发布数据显示，2025年1月至10月，东兴口岸边民互市贸易额达到312亿元，同比增长16%。"
    kinds = [(s.kind, s.text) for s in value_spans(sentence)]
    assert kinds == [
        ("date", "2025年1月"),
        ("date", "10月"),
        ("money", "312亿元"),
        ("percent", "16%"),
    ]
    assert ("quantity", "4.6万人次") in [
        (s.kind, s.text) for s in value_spans("截至2025年10月底已累计发送旅客4.6万人次。")
    ]
    for s in value_spans(sentence):
        assert sentence[s.start : s.end] == s.text
    assert stated_numbers("争取在2026年实现，企业9家") == {"2026", "9"}
    assert stated_numbers("in 2026, HX-40 and x3") == {"2026", "40"}  # Latin unchanged


def test_chinese_value_is_the_one_counted_in_the_asked_unit() -> None:
    question = "凭祥综合保税区今年新引进了多少家水果加工企业？ (how many)"
    sentence = "此外，凭祥综合保税区今年新引进水果加工企业9家，带动就业约2400人。"
    assert asked_unit(question) == "家"
    value = cjk_pick_value("number", question, sentence, margin=0.5)
    assert value is not None and value.text == "9家"


# ---------------------------------------------------------------- the whole chain


@pytest.fixture(scope="module")
def chinese_bot(tmp_path_factory: pytest.TempPathFactory):
    """An Assistant over copies of the Chinese articles (the multilingual e5 index)."""
    from rag.answer.assistant import Assistant

    root = tmp_path_factory.mktemp("zh-answers")
    shutil.copytree(XL_DOCS / "zh", root / "docs")
    return Assistant.from_config(Config.from_env({"root": root, "corpus_dir": "docs"}, environ={}))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "value", "evidence"),
    [
        ("凭祥综合保税区今年新引进了多少家水果加工企业？", "9家", "新引进水果加工企业9家"),
        ("鲜果车辆的平均通关时间缩短到了多少分钟？", "35分钟", "缩短至35分钟"),
        ("芒街市新开通的货运便道每天可通行多少辆次货车？", "400辆次", "约400辆次"),
    ],
)
def test_chinese_sentence_is_quoted_with_exact_offsets(
    chinese_bot, question: str, value: str, evidence: str
) -> None:
    """A Chinese question over Chinese articles is answered (not refused), the asked value
    first, and the citation quotes the Chinese source sentence at its exact offsets."""
    answer = chinese_bot.ask(question)
    assert not answer.abstained, answer.answer
    assert answer.answer.startswith(value), answer.answer
    assert answer.citations
    cited = answer.citations[0]
    text = chinese_bot.document(cited.source).text
    assert text[cited.start : cited.end] == cited.quote
    assert evidence in cited.quote
    assert cited.quote.endswith("。")  # the whole sentence, its end mark included
    assert (cited.start, cited.end) in sentence_spans(text)


# ---------------------------------------------------------------- rag index


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text("utf-8"))


@pytest.mark.slow
def test_rag_index_writes_the_multilingual_index_for_a_mixed_corpus(tmp_path: Path) -> None:
    """`rag index` over English and Chinese articles writes both indexes, of the same
    chunks; a second run finds both up to date, and the assistant opens them as they are."""
    from rag.answer.assistant import Assistant

    shutil.copytree(XL_DOCS / "en", tmp_path / "docs" / "en")
    shutil.copytree(XL_DOCS / "zh", tmp_path / "docs" / "zh")
    env = {"RAG_CORPUS_DIR": "docs"}
    done = run_rag(["index"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    main_dir, ml_dir = tmp_path / "index", tmp_path / "index" / "multilingual"
    assert "multilingual (multilingual-e5-small): indexed 5 documents" in done.stdout
    main, multi = _manifest(main_dir), _manifest(ml_dir)
    assert multi["embedding_model"] != main["embedding_model"]
    assert "e5" in multi["embedding_model"]
    main_chunks = np.load(next(main_dir.glob("chunks-*.npy")))
    assert np.array_equal(main_chunks, np.load(next(ml_dir.glob("chunks-*.npy"))))

    again = run_rag(["index"], tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "multilingual (multilingual-e5-small): index" in again.stdout
    assert "is up to date" in again.stdout.splitlines()[-1]

    built = multi["built_at"]
    bot = Assistant.from_config(
        Config.from_env({"root": tmp_path, "corpus_dir": "docs"}, environ={})
    )
    bot.ask("凭祥新建的冷链仓储中心可同时存放多少吨水果？")
    assert _manifest(ml_dir)["built_at"] == built  # opened, not rebuilt


@pytest.mark.slow
def test_rag_index_leaves_an_english_corpus_alone_unless_routing_built_one(
    tmp_path: Path,
) -> None:
    """An English corpus gets no multilingual index from `rag index` (its questions in
    English never need it); once one exists (a question in Vietnamese built it), `rag
    index` keeps it current; RAG_MULTILINGUAL=off never builds it."""
    shutil.copytree(XL_DOCS / "en", tmp_path / "docs")
    env = {"RAG_CORPUS_DIR": "docs"}
    done = run_rag(["index"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "index" / "multilingual").exists()
    assert "multilingual" not in done.stdout

    (tmp_path / "docs" / "zh.txt").write_text(ZH_FRUIT.read_text("utf-8"), "utf-8")
    off = run_rag(["index"], tmp_path, env={**env, "RAG_MULTILINGUAL": "off"})
    assert off.returncode == 0, off.stderr
    assert not (tmp_path / "index" / "multilingual").exists()

    (tmp_path / "docs" / "zh.txt").unlink()
    from rag.retrieve.routing import build_multilingual_index

    config = Config.from_env({"root": tmp_path, "corpus_dir": "docs"}, environ={})
    build_multilingual_index(config)  # as the first Vietnamese question does
    (tmp_path / "docs" / "more.txt").write_text(
        "The new cold-chain warehouse in Pingxiang can hold 15,000 tonnes of fruit.\n", "utf-8"
    )
    kept = run_rag(["index"], tmp_path, env=env)
    assert kept.returncode == 0, kept.stderr
    assert "multilingual (multilingual-e5-small): indexed 3 documents" in kept.stdout


# ---------------------------------------------------------------- scores across languages


def test_scores_are_centred_per_language_only_when_languages_mix() -> None:
    from rag.retrieve.routing import centre_by_language

    one = np.array([0.9, 0.8, 0.7])
    assert centre_by_language(one, ["en", "en", "en"]) is one  # untouched: the usual case
    mixed = centre_by_language(np.array([0.90, 0.88, 0.80, 0.78]), ["zh", "zh", "en", "en"])
    assert np.median(mixed[:2]) == pytest.approx(np.median(mixed[2:]))
    assert mixed[0] > mixed[1] and mixed[2] > mixed[3]  # order within a language kept


def test_wording_features_say_nothing_across_languages() -> None:
    from rag.answer.abstain import FEATURES
    from rag.answer.cjk import across_languages

    x = [1.0] * len(FEATURES)
    means = [0.5] * len(FEATURES)
    zh_doc = ZH_FRUIT.read_text("utf-8")
    question = "How many tonnes of fruit were imported in the first three quarters of 2025?"
    sentence = "2025年前三季度，进口的越南水果达到86万吨。"
    out = across_languages(FEATURES, x, lambda: means, question, sentence, zh_doc)
    named = dict(zip(FEATURES, out, strict=True))
    assert named["cover"] == 0.5 and named["names_missing"] == 0.5  # neutral
    assert named["semantic"] == 1.0  # meaning compares across languages
    # digits only: 2025 is there; "first three" (1, 3 in English words) is not asked
    assert named["numbers_missing"] == 0.0 and named["numbers_missing_doc"] == 0.0
    other = across_languages(FEATURES, x, lambda: means, question, "达到86万吨。", zh_doc)
    assert dict(zip(FEATURES, other, strict=True))["numbers_missing"] == 1.0
    same = across_languages(FEATURES, x, lambda: means, "有多少吨？", "……86万吨。", zh_doc)
    own = dict(zip(FEATURES, same, strict=True))
    assert own["cover"] == 1.0 and own["names_missing"] == 1.0  # words compare in one language
    assert own["dense_max"] == 0.5  # e5's raw cosine: not the model's scale


@pytest.mark.slow
def test_similarity_is_read_against_unrelated_text_in_each_language() -> None:
    """e5 scores unrelated text in the question's language about as high as the answer in
    another language; read against its cosines to the background sentences of each
    language, the answer stands out, on the main encoder's scale (unrelated text near
    its background level, the answer well above it)."""
    from rag.embed.encoder import Embedder
    from rag.retrieve.routing import REFERENCE_LEVEL, calibrated_similarity

    e5 = Embedder("multilingual-e5-small")
    answer = "The new textile factory hired 340 workers in its first year."
    for question, unrelated, lang in (
        (
            "Nhà máy dệt mới đã tuyển bao nhiêu công nhân?",
            [
                "Chợ phiên họp vào sáng thứ Bảy hàng tuần ở trung tâm huyện.",
                "Nhà máy có một bãi đỗ xe rộng cho khách tham quan.",
            ],
            "vi",
        ),
        (
            "新纺织厂招聘了多少名工人？",
            ["每周六上午，县城中心都会举办集市。", "工厂有一个供游客使用的大停车场。"],
            "zh",
        ),
    ):
        texts = [answer, *unrelated]
        query = e5.encode_query(question)
        raw = e5.encode_many(texts) @ query
        assert raw[0] < max(raw[1:])  # raw cosines prefer the question's language
        cal = calibrated_similarity(raw, ["en", lang, lang], query, e5)
        assert cal[0] > max(cal[1:]) + 0.1, cal
        assert all(abs(c - REFERENCE_LEVEL) < 0.15 for c in cal[1:]), cal
        assert cal[1] > cal[2] if raw[1] > raw[2] else cal[1] <= cal[2]  # order kept


def test_the_main_encoders_similarities_are_only_centred() -> None:
    """MiniLM (the main encoder) keeps today's scoring: centred per language when
    languages mix, the same array when they do not; nothing is embedded."""
    from rag.embed.encoder import Embedder
    from rag.retrieve.routing import answer_similarity, centre_by_language

    cfg = Config.from_env(environ={})
    main = Embedder(cfg.embedding_model)
    sims = np.array([0.6, 0.4, 0.2])
    query = np.zeros(384, dtype=np.float32)
    assert answer_similarity(sims, ["en"] * 3, query, main, cfg) is sims
    mixed = answer_similarity(sims, ["en", "zh", "zh"], query, main, cfg)
    assert np.allclose(mixed, centre_by_language(sims, ["en", "zh", "zh"]))
