"""Posts and counted things across languages (rag.glossary): "who is the Bí thư?" is not
answered by a Chairman, "how many companies?" not by a count of visitors."""

from __future__ import annotations

import pytest

from rag.answer.abstain import FEATURES

ENGLISH_TALKS = (
    "Deputy Secretary of the Party Committee and Chairman of the People's Committee of "
    "the province Nguyễn Văn An held talks with Li Ming on Thursday."
)


@pytest.mark.parametrize(
    ("question", "post"),
    [
        ("Ai là Chỉ huy trưởng Bộ Chỉ huy Bộ đội Biên phòng tỉnh?", ("chỉ huy trưởng", False)),
        ("Ai là Phó Trưởng ban Quản lý Khu kinh tế?", ("trưởng ban", True)),
        ("代表团团长是谁？", ("团长", False)),
        ("省人民委员会副主席是谁？", ("主席", True)),
        ("Who is the vice-chairman of the board?", ("chairman of the board", True)),
        ("Who is the director of the Department of Trade?", ("director", False)),
        # the first post named is the asked one
        ("Chủ tịch Khu tự trị, người hội đàm với lãnh đạo tỉnh, là ai?", ("chủ tịch", False)),
        ("Ai đã cắt băng khánh thành?", None),  # no post
    ],
)
def test_the_asked_post_in_three_languages(question: str, post: tuple[str, bool] | None) -> None:
    from rag.glossary import asked_post

    assert asked_post(question) == post


def test_a_post_is_checked_in_the_sentences_language() -> None:
    """A post named in none of its forms is missing; one named only at the other rank
    ("Deputy Secretary" for "Bí thư") is a rank mismatch; its translation answers."""
    from rag.glossary import post_missing

    assert post_missing("中国国务院总理是谁？", ENGLISH_TALKS) == (True, False)
    assert post_missing("Ai là Bí thư Tỉnh ủy?", ENGLISH_TALKS) == (False, True)
    assert post_missing("省人民委员会主席是谁？", ENGLISH_TALKS) == (False, False)
    vi = "Ông Hoàng Văn Minh, Phó Trưởng ban Quản lý Khu kinh tế, cho biết thêm."
    assert post_missing("Ai là Phó Trưởng ban Quản lý Khu kinh tế?", vi) == (False, False)
    assert post_missing("Ai là Trưởng ban Quản lý Khu kinh tế?", vi) == (False, True)
    zh = "东兴市商务局局长陈丽华介绍，今年启用了服务中心。"
    assert post_missing("Who is the director of the commerce bureau?", zh) == (False, False)


@pytest.mark.parametrize(
    ("question", "form"),
    [
        ("How many international travel companies has the province licensed?", "doanh nghiệp"),
        ("How many tonnes of fruit were imported in 2025?", "吨"),
        ("How many border residents' cooperatives take part in the trade?", "合作社"),
        ("Năm 2025, hai bên đã thực hiện bao nhiêu cuộc gọi đường dây nóng?", "calls"),
        ("2025年，两国边防部队共进行了多少次热线通话？", "calls"),  # the head noun, not 线
        ("有多少起组织非法出入境的案件被起诉？", "cases"),
        ("2025年经口岸通过的货车有多少辆？", "trucks"),
    ],
)
def test_the_counted_thing_in_three_languages(question: str, form: str) -> None:
    from rag.glossary import counted_thing

    assert form in counted_thing(question)


def test_nothing_counted_that_the_glossary_does_not_know() -> None:
    from rag.glossary import counted_thing

    assert counted_thing("乘坐该列车的旅客中，商务出行约占多少？") == set()
    assert counted_thing("How many of the sculptures were restored?") == set()
    assert counted_thing("What is the total investment?") == set()


def test_a_count_of_other_things_in_another_language_is_lowered() -> None:
    """English question, Vietnamese sentences: the one counting visitors no longer types
    as the answer to "how many companies"; the one counting companies does. Within one
    language the rules of that language decide, as before."""
    from rag.answer.cjk import counted_missing
    from rag.answer.extractive import TYPED, _typed

    q = "How many international travel companies has the province licensed? (how many)"
    visitors = "Tỉnh đón khoảng 215.000 lượt khách du lịch Trung Quốc trong 10 tháng đầu năm."
    companies = "Tỉnh đã cấp phép cho 14 doanh nghiệp lữ hành quốc tế đón khách Trung Quốc."
    assert counted_missing(q, visitors) is True
    assert counted_missing(q, companies) is False
    assert _typed("number", q, visitors, ()) == TYPED
    assert _typed("number", q, companies, ()) == 1.0
    english = "The province licensed 14 international travel companies."
    assert counted_missing(q, english) is None  # an English pair: the English rule


def test_the_gate_reads_posts_and_counted_things_across_languages() -> None:
    """A Chinese "who" question over an English sentence without the post: role_missing;
    with the post only as the deputy one: rank_mismatch. A Chinese count of trucks over an
    English sentence counting visitors is only lowered in ranking (no focus_conflict: the
    glossary is no complete list). Within a language, and for an English pair, the
    glossary is not read."""
    from rag.answer.cjk import across_languages

    x = [0.0] * len(FEATURES)
    means = [0.0] * len(FEATURES)

    def feats(question: str, sentence: str) -> dict[str, float]:
        out = across_languages(FEATURES, x, lambda: means, question, sentence, sentence)
        return dict(zip(FEATURES, out, strict=True))

    assert feats("中国国务院总理是谁？", ENGLISH_TALKS)["role_missing"] == 1.0
    got = feats("Ai là Bí thư Tỉnh ủy?", ENGLISH_TALKS)
    assert got["rank_mismatch"] == 1.0 and got["role_missing"] == 0.0
    assert feats("省人民委员会主席是谁？", ENGLISH_TALKS)["role_missing"] == 0.0
    visitors = "The province hosted roughly 150,000 Vietnamese visitors in 2025."
    assert feats("2025年经口岸通过的货车有多少辆？", visitors)["focus_conflict"] == 0.0
    vi = "Ông Nguyễn Văn An, Giám đốc Sở, cho biết thêm."
    assert feats("Ai là Bí thư Tỉnh ủy?", vi)["role_missing"] == 0.0  # same language
    en_q = "Who is the premier of the country?"
    assert across_languages(FEATURES, x, lambda: means, en_q, ENGLISH_TALKS, ENGLISH_TALKS) is x
