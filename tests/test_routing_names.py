"""The names a question asks about, read in its own language's documents (routing), and
the counted thing against measures across languages (cjk.counted_missing)."""

from __future__ import annotations

from rag.answer.cjk import counted_missing
from rag.lang import with_question_word
from rag.retrieve.names import name_phrases, nameless_last, names_held
from rag.retrieve.routing import balance, standing_out
from rag.types import Chunk, Hit


def _hit(doc: str, n: int, dense: float) -> Hit:
    chunk = Chunk(f"{doc}:{n}", doc, f"{doc}.txt", doc, 0, 1, "x")
    return Hit(n + 1, chunk, dense, 0.0, 0.0)


def test_name_phrases_are_runs_of_capitalised_words() -> None:
    """Runs of capitalised words in any Latin script, joined by spaces or dashes, a
    possessive dropped; a capitalised first word alone is not a name; Chinese has none."""
    assert name_phrases("Who is the general manager of the Hekou logistics centre?") == ["Hekou"]
    assert name_phrases("How long does the Nanning–Hanoi train take?") == ["Nanning–Hanoi"]
    assert name_phrases("Who is the Chairman of the district People's Committee?") == [
        "Chairman",
        "People's Committee",
    ]
    assert name_phrases("Chợ đầu mối hải sản Hải Hà hiện có bao nhiêu quầy hàng?") == ["Hải Hà"]
    assert name_phrases("Hekou Centre has how many staff?") == ["Hekou Centre"]
    assert name_phrases("How many trucks leave each night?") == []
    assert name_phrases("中方代表团团长是谁？") == []
    assert name_phrases("") == []


def test_names_held_keeps_tone_marks_unless_the_question_dropped_them() -> None:
    """Written with diacritics, a name must be found as written (case aside): folded,
    "Hải Hà" would match "hai bên"; written without them, it is looked for folded."""
    assert names_held(["Hải Hà"], "The Hải Hà market opened in 2021.")
    assert names_held(["hải hà"], "HẢI HÀ market")
    assert not names_held(["Hải Hà"], "hai bên đã tổ chức 20 cuộc hội đàm")
    assert names_held(["Lang Son"], "tỉnh Lạng Sơn")
    assert not names_held(["Lạng Sơn"], "Lang Son province")
    assert not names_held(["Hekou"], "Hekouville is elsewhere.")  # whole words only
    assert names_held(["Yunnan", "Hekou"], "Hekou, a county of Yunnan")
    assert not names_held([], "anything")


def test_nameless_hits_come_after_every_other_list() -> None:
    """Hits whose document lacks the question's names are used only to fill up to k."""
    zh = [_hit("zh", i, 0.8 - 0.01 * i) for i in range(4)]
    vi = [_hit("vi", i, 0.7 - 0.01 * i) for i in range(4)]
    tail = [_hit("en", i, 0.9) for i in range(3)]
    for merge in (balance, standing_out):
        top = nameless_last(merge, [zh, vi], tail, 5)
        assert len(top) == 5 and not any(h.chunk.doc_id == "en" for h in top)
        short = nameless_last(merge, [zh[:1], vi[:1]], tail, 5)
        assert [h.chunk.doc_id for h in short][2:] == ["en", "en", "en"]
        assert [h.rank for h in short] == [1, 2, 3, 4, 5]
        assert [h.chunk.chunk_id for h in nameless_last(merge, [[], []], tail, 2)] == [
            "en:0",
            "en:1",
        ]
        assert nameless_last(merge, [], [], 3) == []


def test_measures_do_not_count_things_across_languages() -> None:
    """A question counting things and a sentence in another language whose values of that
    kind are all measures ("3,200 tonnes", "48 tấn") misses the counted thing; a count of
    things in that language does not (nothing else can be read across languages)."""
    vi_q = with_question_word("Chợ đầu mối hải sản Hải Hà hiện có bao nhiêu quầy hàng?")
    assert counted_missing(vi_q, "The market has doubled its cold storage to 3,200 tonnes.")
    assert not counted_missing(vi_q, "The market now hosts 186 trading stalls.")
    en_q = "How many member households does the tea cooperative have?"
    assert counted_missing(en_q, "Hợp tác xã vừa xuất khẩu lô hàng 48 tấn chè khô sang Vân Nam.")
    assert not counted_missing(en_q, "Hợp tác xã hiện có 230 hộ thành viên.")
    measure_q = "How many tonnes of tea were exported?"  # a measure asked: nothing to miss
    assert not counted_missing(measure_q, "Hợp tác xã vừa xuất khẩu lô hàng 48 tấn chè khô.")


def test_standing_out_reads_every_list_on_the_pooled_spread() -> None:
    """A short list's own spread says little (of three passages the second always stands
    at 0): standard scores use the spread within lists, pooled, so a short list of close
    cosines does not take a second place from a long list's clearly matching third."""
    en = [_hit("en", i, 0.80 - 0.02 * i) for i in range(8)]
    zh = [_hit("zh", i, c) for i, c in enumerate([0.90, 0.899, 0.850, 0.849])]
    order = [h.chunk.chunk_id for h in standing_out([en, zh], 8)]
    assert order[:2] == ["en:0", "zh:0"] or order[:2] == ["zh:0", "en:0"]
    assert order.index("en:2") < order.index("zh:1")
