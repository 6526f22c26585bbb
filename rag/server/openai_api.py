"""An OpenAI-compatible chat API over the assistant: ``/v1/models``, ``/v1/chat/completions``.

Any OpenAI client (the ``openai`` SDK, LlamaIndex's ``OpenAILike``, Open WebUI,
LibreChat) can chat with the documents, citations included::

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="unused")
    reply = client.chat.completions.create(model="rag", messages=[{"role": "user",
        "content": "How many hotline calls did the border guards make in 2025?"}])
    reply.choices[0].message.content        # "... 113 hotline calls [1] ...\\n\\n**Sources** ..."
    reply.model_extra["rag"]["citations"]   # [{"n": 1, "source": ..., "start": ..., "quote": ...}]

* Model ids name the backends: ``rag`` (the configured one), ``rag-extractive``,
  ``rag-llamacpp``, ``rag-openai`` (only those the server enables).
* ``messages`` is the conversation: earlier turns drive follow-up rewriting, as in the
  app. System messages are ignored (the assistant's own rules apply).
* ``message.content`` is the verified answer with its ``[n]`` markers and a Markdown
  "Sources" list; the structured answer (citations with offsets, ``abstained``,
  ``standalone_question``, ``backend``, ``notes``) is the extra field ``rag``. With
  ``stream=true`` the answer is verified first, then sent as SSE chunks (unverified
  drafts are never sent: a client cannot take text back), the ``rag`` field rides on
  the final chunk, and the stream ends with ``data: [DONE]``.
* An optional ``rag`` object in the request narrows the sources: ``{"sources": [paths],
  "since": "2025-03", "until": "2025-12", "scope": "uploaded"}`` (``extra_body`` in the
  ``openai`` SDK).
* Errors have OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: 400
  for an empty or too long question or a malformed body, 404 for an unknown model,
  401 without a valid API key when the server has users, 429 over the rate limit, 503
  while the engine loads.

:func:`router` builds the routes for any FastAPI app (the Gradio app mounts them;
``rag serve`` runs them alone).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from rag.config import BACKENDS
from rag.errors import QueryError, RagError
from rag.retrieve.filters import SourceFilter
from rag.retrieve.retriever import clean_query
from rag.server.limits import RateLimitError
from rag.types import Answer

SOURCES_HEADING = "**Sources**"
MAX_MESSAGES = 200
MAX_BODY_CHARS = 200_000


class ApiError(Exception):
    """An error to send in OpenAI's shape with an HTTP status."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", code: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": None,
                "code": self.code or None,
            }
        }


def model_ids(enabled: Sequence[str]) -> list[str]:
    """The model ids a client may ask for: ``rag`` and ``rag-<backend>`` per enabled one."""
    return ["rag", *(f"rag-{b}" for b in BACKENDS if b in enabled)]


def backend_for(model: str, default: str, enabled: Sequence[str]) -> str:
    """The answer backend a model id names; :class:`ApiError` 404 for any other id."""
    name = (model or "").strip()
    if name == "rag":
        return default if default in enabled else "extractive"
    backend = name.removeprefix("rag-")
    if name.startswith("rag-") and backend in enabled:
        return backend
    raise ApiError(
        404,
        f"The model {name!r} does not exist; use one of {', '.join(model_ids(enabled))}",
        code="model_not_found",
    )


def parse_messages(messages: Any) -> tuple[str, list[dict[str, str]]]:
    """The question (the last user message) and the conversation before it.

    Assistant turns lose the "Sources" list this API appended, so that follow-up
    rewriting sees only the answer.
    """
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of chat messages")
    if len(messages) > MAX_MESSAGES:
        raise ApiError(400, f"at most {MAX_MESSAGES} messages per request")
    turns: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a 'role'")
        text = _content_text(m.get("content"), i)
        if m["role"] == "assistant":
            text = text.split(f"\n\n{SOURCES_HEADING}", 1)[0]
        if m["role"] in {"user", "assistant"}:
            turns.append({"role": m["role"], "content": text})
    if not turns or turns[-1]["role"] != "user":
        raise ApiError(400, "the last message must come from the user (the question)")
    return turns[-1]["content"], turns[:-1]


def _content_text(content: Any, i: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):  # content parts: keep the text ones
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    raise ApiError(400, f"messages[{i}].content must be a string or a list of content parts")


def render_content(answer: Answer) -> str:
    """The answer for a plain chat client: text with ``[n]`` markers, then its sources."""
    if answer.abstained or not answer.citations:
        return answer.answer
    lines = [answer.answer, "", SOURCES_HEADING, ""]
    for c in answer.citations:
        quote = " ".join(c.quote.split())
        quote = quote if len(quote) <= 300 else quote[:297] + "…"
        lines.append(f"[{c.n}] `{c.source}` {c.start}–{c.end}: “{quote}”")
    return "\n".join(lines)


def structured(answer: Answer) -> dict[str, Any]:
    """The extra ``rag`` field: what a client needs to show and check the citations."""
    return {
        "abstained": answer.abstained,
        "standalone_question": answer.standalone_question,
        "backend": answer.backend,
        "citations": [c.to_dict() for c in answer.citations],
        "notes": list(answer.notes),
    }


def completion(answer: Answer, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object for ``answer``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": render_content(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "rag": structured(answer),
    }


def stream_chunks(answer: Callable[[], Answer], model: str) -> Iterator[str]:
    """SSE lines of a streamed completion: the role first (the client sees the reply
    start at once), then the verified content in pieces, the ``rag`` field on the last
    chunk, then ``[DONE]``. An error after the start is sent as an OpenAI error event."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        result = answer()
    except ApiError as exc:
        yield f"data: {json.dumps(exc.body(), ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
        return
    text = render_content(result)
    for start in range(0, len(text), 120):
        yield chunk({"content": text[start : start + 120]})
    yield chunk({}, "stop", rag=structured(result))
    yield "data: [DONE]\n\n"


def parse_narrowing(extra: Any) -> SourceFilter:
    """The optional ``rag`` request field: ``{"sources": [...], "since": "2025-03",
    "until": ..., "scope": "all"|"uploaded"|"bundled"}`` (``extra_body`` in the SDK)."""
    if extra is None:
        return SourceFilter()
    if not isinstance(extra, dict):
        raise QueryError('\'rag\' must be an object such as {"sources": ["seeds/a.txt"]}')
    sources = extra.get("sources")
    if sources is not None and (
        not isinstance(sources, list) or not all(isinstance(x, str) for x in sources)
    ):
        raise QueryError("'rag.sources' must be a list of document paths")
    bounds = [extra.get(k) for k in ("since", "until", "scope")]
    if any(b is not None and not isinstance(b, str) for b in bounds):
        raise QueryError("'rag.since', 'rag.until' and 'rag.scope' must be strings")
    return SourceFilter.parse(sources, *bounds)


def answer_request(
    ask: Callable[..., Answer],
    body: Any,
    *,
    default_backend: str,
    enabled: Sequence[str],
    max_question_chars: int,
) -> tuple[str, bool, Callable[[], Answer]]:
    """Check a chat request; return its model id, whether it streams, and the call that
    answers it (run later, so that a stream can start before the answer is ready)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str):
        raise ApiError(400, "'model' is required (e.g. \"rag\")")
    backend = backend_for(model, default_backend, enabled)
    question, history = parse_messages(body.get("messages"))
    try:  # the chain's own checks, up front: a stream cannot turn into a 400 later
        clean_query(question, max_question_chars)
        narrow = parse_narrowing(body.get("rag"))
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None

    def run() -> Answer:
        try:
            return ask(question, history, backend=backend, narrow=narrow)
        except QueryError as exc:
            raise ApiError(400, str(exc)) from None
        except RagError as exc:
            raise ApiError(500, f"the assistant failed: {exc}", kind="server_error") from None

    return model, bool(body.get("stream")), run


def bearer_role(users: Any, authorization: str) -> str | None:
    """The role of the API key in an ``Authorization: Bearer`` header; None when the
    server has no users (open, as on a laptop); :class:`ApiError` 401 otherwise."""
    if not users:
        return None
    scheme, _, key = (authorization or "").partition(" ")
    user = users.by_key(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
    if user is None:
        raise ApiError(
            401,
            "a valid API key is required: send `Authorization: Bearer <key>` "
            "(an admin creates one with `rag users key NAME`)",
            kind="invalid_request_error",
            code="invalid_api_key",
        )
    return user.role


def router(
    assistant: Callable[[], Any],
    *,
    default_backend: str,
    enabled: Sequence[str],
    max_question_chars: int,
    check_rate: Callable[[Any], None] | None = None,
    users: Any = None,
) -> Any:
    """FastAPI routes ``/v1/models`` and ``/v1/chat/completions``.

    ``assistant()`` returns the loaded :class:`~rag.answer.assistant.Assistant` or raises
    :class:`RagError` while it loads (503); ``check_rate(request)`` raises
    :class:`~rag.server.limits.RateLimitError` to refuse a request (429). With ``users`` (a
    :class:`~rag.server.accounts.UserStore` that has users) every call needs an API key (401
    without); an admin's key may pick any backend, other keys the ``enabled`` ones.
    """
    api = APIRouter()

    def error(exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    def backends_for(request: Request) -> Sequence[str]:
        role = bearer_role(users, request.headers.get("authorization", ""))
        return BACKENDS if role == "admin" else enabled

    @api.get("/v1/models")
    def list_models(request: Request) -> Any:
        try:
            allowed = backends_for(request)
        except ApiError as exc:
            return error(exc)
        created = int(time.time())
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "rag"}
            for m in model_ids(allowed)
        ]
        return {"object": "list", "data": data}

    @api.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            allowed = backends_for(request)
            if check_rate is not None:
                check_rate(request)
            raw = await request.body()
            if len(raw) > MAX_BODY_CHARS * 4:
                raise ApiError(413, f"the request body is over {MAX_BODY_CHARS * 4:,} bytes")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise ApiError(400, "the request body is not valid JSON") from None
            try:
                bot = assistant()
            except RagError as exc:
                raise ApiError(503, str(exc), kind="server_error", code="engine_loading") from None
            model, stream, run = answer_request(
                bot.ask,
                body,
                default_backend=default_backend,
                enabled=allowed,
                max_question_chars=max_question_chars,
            )
            if stream:
                chunks = iterate_in_threadpool(stream_chunks(run, model))
                return StreamingResponse(chunks, media_type="text/event-stream")
            return completion(await run_in_threadpool(run), model)
        except RateLimitError as exc:
            retry = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
            return JSONResponse(
                ApiError(429, str(exc), "rate_limit_exceeded", "rate_limit_exceeded").body(),
                status_code=429,
                headers=retry,
            )
        except ApiError as exc:
            return error(exc)

    return api
