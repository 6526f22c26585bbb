"""Title-case datelines, numbered stages and who-questions across languages (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

from rag.answer.abstain import FEATURES
from rag.answer.cjk import across_languages, rival_ordinal
from rag.answer.layout import content_span
from rag.ingest.readers import derive_metadata
from rag.lang import ordinals

MODEL = json.loads(Path("rag/answer/abstain_model.json").read_text(encoding="utf-8"))


def _cut(text: str) -> tuple[str, str]:
    a, _, labels = content_span(text)
    return text[a:], labels


def test_title_case_datelines_are_cut_in_every_script() -> None:
    body, labels = _cut("Quảng Ninh — The seafood market has doubled its cold storage capacity.")
    assert body.startswith("The seafood") and labels == "Quảng Ninh"
    body, labels = _cut("Hà Giang — Hợp tác xã vừa xuất khẩu lô hàng 48 tấn chè khô sang tỉnh.")
    assert body.startswith("Hợp tác xã") and labels == "Hà Giang"
    body, _ = _cut("Đồng Đăng — Cảng cạn đã tiếp nhận 1.200 container trong tháng mười.")
    assert body.startswith("Cảng cạn")
    assert _cut("LẠNG SƠN — Trong 9 tháng đầu năm 2025, cửa khẩu đã thông quan 4.820 xe.")[1]
    assert _cut("河口 — 云南河口跨境物流中心一期工程日前正式投入运营，总投资8.5亿元。")[1] == "河口"


def test_capitalised_openings_that_are_no_dateline_stay() -> None:
    for text in (
        "Phase Two — the plan was approved by the council in May 2024 after talks.",
        "The Council — The body that governs the port — met on Monday about fees.",
        "Mr Trần Quốc Huy — director of the board — said the wing cost 96 billion đồng.",
    ):
        assert _cut(text) == (text, "")


def test_reader_finds_a_dateline_under_a_title_line() -> None:
    text = (
        "Seafood market doubles cold storage ahead of Lunar New Year\n\n"
        "Quảng Ninh — The market near the border has doubled its cold storage.\n"
    )
    title, dateline, _ = derive_metadata(text, "x")
    assert (title, dateline) == ("Seafood market doubles cold storage ahead of Lunar New Year",
                                 "Quảng Ninh")  # fmt: skip
    assert derive_metadata("LẠNG SƠN — Border guards met on Tuesday.\n", "x")[1] == "LẠNG SƠN"
    assert derive_metadata("Lạng Sơn – Guangxi trade talks\n\nText follows here.\n", "x")[1] == ""


def test_numbered_stages_are_ordinals_in_three_languages() -> None:
    assert [n for n, _, _ in ordinals("How much did phase two of the centre cost?")] == [2]
    assert [n for n, _, _ in ordinals("物流中心一期工程日前正式投入运营")] == [1]
    assert [n for n, _, _ in ordinals("dự án giai đoạn 2 sẽ khởi công")] == [2]
    assert [n for n, _, _ in ordinals("the second phase opens in 2027")] == [2]
    assert ordinals("giai đoạn 2021-2025") == [] and ordinals("同期增长12%，预期") == []
    assert rival_ordinal("How much did phase two cost?", "一期工程总投资8.5亿元。")
    assert not rival_ordinal("How much did phase one cost?", "一期工程总投资8.5亿元。")


def _features(typed: float) -> list[float]:
    x = list(MODEL["mean"])
    x[FEATURES.index("typed")] = typed
    x[FEATURES.index("strict_untyped")] = 0.0
    return x


def test_who_question_over_a_sentence_naming_no_one_is_untyped() -> None:
    neutral = lambda: MODEL["mean"]  # noqa: E731
    doc = "Thị trường hải sản đã tăng gấp đôi kho lạnh của mình trong năm nay."
    sentence = "The market's management board said on Monday that storage doubled."
    i = FEATURES.index("strict_untyped")
    q = "Ai là Giám đốc Ban quản lý chợ hải sản?"
    out = across_languages(FEATURES, _features(0.6), neutral, q, sentence, sentence)
    assert out[i] == 1.0
    out = across_languages(FEATURES, _features(1.0), neutral, q, sentence, sentence)
    assert out[i] == 0.0  # a person or organisation named: it may say who
    en = "Who is the director of the seafood market?"
    out = across_languages(FEATURES, _features(0.6), neutral, en, doc, doc)
    assert out[i] == 1.0  # English question, Vietnamese sentence
    out = across_languages(FEATURES, _features(0.6), neutral, en, sentence, sentence)
    assert out[i] == 0.0  # English over English: the English rules decide


def test_a_post_at_another_rank_is_a_rival_in_any_pair() -> None:
    from rag.answer.cjk import rank_rival

    vice = "Ông Vàng Seo Pao, Phó Chủ tịch UBND huyện, cho biết huyện sẽ hỗ trợ."
    assert rank_rival("Who is the Chairman of the district People's Committee?", vice)
    assert not rank_rival("Ai là Phó Chủ tịch UBND huyện?", vice)
    both = "Deputy Secretary of the Party Committee and Chairman Nguyễn Cảnh Toàn held talks."
    assert not rank_rival("Ai là Chủ tịch UBND tỉnh?", both)  # one post unmarked: may be it
    assert rank_rival("东兴市商务局副局长是谁？", "局长陈丽华介绍，今年以来贸易增长。")
    assert not rank_rival("How many posts are there?", vice)  # not a who-question
    assert rank_rival("Ai là Bí thư Tỉnh ủy?", both)  # the secretary named is a deputy
    assert not rank_rival("Who is the head of the delegation?", "局长陈丽华介绍。")


def test_nameless_hits_fill_only_a_short_list() -> None:
    from rag.retrieve.names import TAIL_BELOW, nameless_last
    from rag.types import Chunk, Hit

    def hit(i: int) -> Hit:
        chunk = Chunk(f"c{i}", f"d{i}", f"s{i}.txt", f"t{i}", 0, 4, "text")
        return Hit(i, chunk, 0.5, 0.0, 0.0)

    def merge(lists, k, rrf_k):  # noqa: ANN001, ANN202 - the lists in order, as ranked
        return [h for lst in lists for h in lst][:k]

    named, tail = [hit(1), hit(2), hit(3)], [hit(8), hit(9)]
    assert len(named) >= TAIL_BELOW
    assert [h.chunk.chunk_id for h in nameless_last(merge, [named], tail, 5)] == ["c1", "c2", "c3"]
    got = nameless_last(merge, [[hit(1)]], tail, 5)
    assert [h.chunk.chunk_id for h in got] == ["c1", "c8", "c9"]
    assert [h.chunk.chunk_id for h in nameless_last(merge, [[]], tail, 5)] == ["c8", "c9"]


def test_a_count_of_another_kind_of_thing_across_languages() -> None:
    from rag.answer.counted import asked_count_kind, count_kind_rival

    assert asked_count_kind("2025年经口岸通过的货车有多少辆？") == "vehicles"
    assert asked_count_kind("How many international travel companies are licensed?") == "firms"
    assert asked_count_kind("Có bao nhiêu xe qua cửa khẩu?") == "vehicles"
    visitors = "The region hosted roughly 150,000 Vietnamese visitors in the first 10 months."
    assert count_kind_rival("2025年经口岸通过的货车有多少辆？", visitors)
    assert count_kind_rival("How many companies are licensed?", "Tỉnh đón 215.000 lượt khách.")
    assert not count_kind_rival("How many companies?", "Tỉnh đã cấp phép cho 14 doanh nghiệp.")
    assert not count_kind_rival("有多少家企业入驻？", "About 27 logistics companies moved in.")
    assert not count_kind_rival("有多少家企业入驻？", "The centre has 5 warehouses.")  # unknown


def test_a_name_before_a_dash_is_no_dateline() -> None:
    for text in (
        "Senior Colonel Zhu Xingan — Deputy Commander of the border guard, said they met.",
        "Trần Quốc Huy — Head of the board, said the wing cost 96 billion đồng in all.",
    ):
        assert _cut(text) == (text, "")
