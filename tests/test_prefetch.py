"""Sentences embedded ahead of questions (issue 17.3): the answer chain embeds the
sentences of the passages it retrieved, 100-600 ms for a fresh question on 2 busy cores;
the app embeds them in a low-priority thread after loading and after each change."""

from __future__ import annotations

from rag.embed.encoder import Embedder


def _all_texts(assistant) -> list[str]:
    index = assistant.parts.index
    docs = {d.doc_id: d.text for d in index.docs}
    return list(dict.fromkeys(assistant.extractive.texts_to_embed(list(index.chunks), docs)))


def test_prefetch_embeds_what_questions_embed(assistant) -> None:
    embedder = assistant.parts.embedder
    embedder.clear_cache(queries=False)
    texts = _all_texts(assistant)
    assert len(texts) > 50 and any(len(t) > 250 for t in texts)  # sentences and clauses
    assert assistant.prefetch_sentences() == len(texts)
    assert assistant.prefetch_sentences() == 0, "nothing is embedded twice"
    cached = set(embedder._texts)
    assert set(texts) <= cached
    # a question over the seeds now embeds none of its candidate sentences
    hits = assistant.parts.retriever.search("How many official letters were exchanged?", 5).hits
    docs = {h.chunk.doc_id: assistant.parts.index.document(h.chunk.doc_id).text for h in hits}
    assert set(assistant.extractive.texts_to_embed([h.chunk for h in hits], docs)) <= cached
    # the vectors are the ones a question would compute
    fresh = Embedder(embedder.model_name).encode_documents(texts[:3])
    assert (abs(embedder.encode_many(texts[:3]) - fresh) < 1e-5).all()


def test_prefetch_stops_when_asked_and_leaves_room_for_questions(assistant) -> None:
    small = Embedder(assistant.parts.embedder.model_name, cache_size=2, batch_size=4)
    texts = _all_texts(assistant)
    assert small.prefetch(texts, stop=lambda: True) == 0
    calls: list[int] = []

    def third_batch() -> bool:
        calls.append(1)
        return len(calls) > 2

    assert small.prefetch(texts, stop=third_batch) == 8  # two batches of 4
    assert small.prefetch(texts) == 8  # half of the 32-text cache, no more
    assert len(small._texts) == 16 and not small.has_room()
