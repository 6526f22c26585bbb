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


def test_exit_stops_the_prefetch_threads_and_waits_for_them() -> None:
    """A daemon prefetch thread still inside the encoder's native code while the
    interpreter shut down aborted the process after every test had passed ("terminate
    called without an active exception", exit 134). At exit the engine now tells its
    prefetch threads to stop and waits for their current batch."""
    import threading

    from rag.app import engine

    started = threading.Event()

    def busy() -> None:  # a prefetch loop: a batch at a time until told to stop
        started.set()
        while not engine._CLOSING.is_set():
            engine._CLOSING.wait(0.01)

    thread = threading.Thread(target=busy, daemon=True)
    engine._PREFETCHERS.add(thread)
    thread.start()
    started.wait(5)
    try:
        engine._stop_prefetchers()
        assert not thread.is_alive()
    finally:
        engine._CLOSING.clear()  # later tests' engines prefetch again
