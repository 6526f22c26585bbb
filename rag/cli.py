"""The ``rag`` command line: index, search, ask, chat, eval, bench, serve, mcp, users.

Every subcommand takes the shared settings flags (``--index-dir``, ``--corpus-dir``,
``--model``, ``--chunk-size``, ``-k``, ``--hybrid/--no-hybrid``, ...); anything not
given on the command line comes from ``RAG_*`` variables, then the defaults.
Errors print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.config import Config
from rag.errors import RagError


def _warn(msg: str) -> None:
    print(f"rag: {msg}", file=sys.stderr)


def _settings_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("settings (override RAG_* variables)")
    g.add_argument("--root", type=Path, help="project root for relative paths (default: .)")
    g.add_argument("--corpus-dir", type=Path, help="folder of documents (default: seeds)")
    g.add_argument("--index-dir", type=Path, help="index folder (default: index)")
    g.add_argument("--model", dest="embedding_model", help="embedding model name or folder")
    g.add_argument("--chunk-size", type=int, help="max characters per chunk")
    g.add_argument("--chunk-overlap", type=int, help="sentences shared by neighbouring chunks")
    g.add_argument("--index-type", choices=["auto", "flat", "hnsw", "ivf"], help="FAISS index type")
    g.add_argument("-k", "--top-k", dest="k", type=int, help="passages to retrieve")
    g.add_argument(
        "--hybrid",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fuse dense and BM25 results (default: on)",
    )
    g.add_argument("--backend", choices=["extractive", "llamacpp", "openai"], help="answer backend")
    g.add_argument("--store", choices=["faiss", "milvus"], help="vector store (default: faiss)")
    g.add_argument(
        "--no-auto-index",
        dest="auto_index",
        action="store_false",
        default=None,
        help="do not build or update a missing/stale index automatically",
    )
    return p


_SETTINGS = (
    "store",
    "root",
    "corpus_dir",
    "index_dir",
    "embedding_model",
    "chunk_size",
    "chunk_overlap",
    "index_type",
    "k",
    "hybrid",
    "backend",
    "auto_index",
)


def config_from_args(args: argparse.Namespace) -> Config:
    """The config for a parsed command line: flags over ``RAG_*`` over defaults."""
    return Config.from_env({name: getattr(args, name, None) for name in _SETTINGS})


# ---------------------------------------------------------------------------- commands


def cmd_index(args: argparse.Namespace) -> int:
    from rag.embed.encoder import Embedder
    from rag.store.build import build_index

    cfg = config_from_args(args)
    if args.migrate_to:
        cfg = cfg.replace(store=args.migrate_to)
    embedder = Embedder(
        cfg.embedding_model, batch_size=cfg.embed_batch_size, backend=cfg.embed_backend
    )
    try:
        report = build_index(
            cfg,
            embedder,
            rebuild=args.rebuild,
            progress=sys.stderr.isatty() or args.progress,
            warn=_warn,
        )
    except RagError as exc:
        _audit_index(cfg, "failed", str(exc))
        raise
    _audit_index(cfg, "ok", report.summary())
    print(report.summary())
    _index_multilingual(cfg, args)
    if args.migrate_to and args.migrate_to != Config.from_env().store:
        print(
            f"the index now uses the {args.migrate_to} store: set RAG_STORE={args.migrate_to} "
            "for the other commands (else they move it back, without re-embedding)"
        )
    return 0


def _index_multilingual(cfg: Config, args: argparse.Namespace) -> None:
    """The multilingual index too, when routing needs it (rag.retrieve.routing's rule: a
    corpus with documents in other languages, or one built already). It is derived data:
    a failure (no model) is a warning, the main index stands and answers alone."""
    from rag.ingest.readers import load_corpus
    from rag.retrieve.routing import build_multilingual_index, wants_multilingual_index

    docs = load_corpus(cfg.corpus_paths, cfg.root, warn=None, skip_errors=True)
    if not wants_multilingual_index(cfg, docs):
        return
    try:
        report = build_multilingual_index(
            cfg, rebuild=args.rebuild, progress=sys.stderr.isatty() or args.progress, warn=_warn
        )
    except RagError as exc:
        _warn(f"the multilingual index was not built ({exc}); the main index answers alone")
        return
    print(f"multilingual ({cfg.multilingual_model}): {report.summary()}")


def _audit_index(cfg: Config, result: str, detail: str) -> None:
    """An audit entry for a `rag index` run (user: the OS account that ran it). Nothing is
    written where no index folder exists; a failed run's own error is the one line shown."""
    import getpass

    from rag.server.audit import audit_path, record

    if not cfg.index_path.is_dir():
        return
    try:
        record(
            audit_path(cfg.index_path), f"cli:{getpass.getuser()}", "rebuild", result, "", detail
        )
    except OSError as exc:
        if result == "ok":
            _warn(f"could not write the audit log: {exc}")


def _narrow(args: argparse.Namespace) -> Any:
    """The ``--source/--since/--until/--scope`` filter of a command line."""
    from rag.retrieve.filters import SourceFilter

    return SourceFilter.parse(args.source, args.since, args.until, args.scope)


def cmd_search(args: argparse.Namespace) -> int:
    from rag.retrieve.components import load_components
    from rag.retrieve.filters import allowed_sources

    cfg = config_from_args(args)
    narrow = _narrow(args)
    parts = load_components(cfg, warn=_warn)
    allowed = allowed_sources(narrow, parts.index.docs, cfg)
    result = parts.retriever.search(args.query, sources=allowed)
    if args.json:
        _print_json(result.to_dict())
        return 0
    for h in result.hits:
        c = h.chunk
        print(
            f"[{h.rank}] {c.source}:{c.start}-{c.end}  score={h.score:.4f} "
            f"dense={h.dense_score:.3f} bm25={h.bm25_score:.2f}"
        )
        print(f"    {c.doc_title}")
        print("    " + c.text.replace("\n", " ")[:400])
    print(f"({result.timings_ms['total']:.1f} ms)")
    return 0


def _print_answer(ans: Any) -> None:
    from rag import prompts

    print(ans.answer)
    if ans.citations:
        print()
        for c in ans.citations:
            print(f'[{c.n}] {c.source}:{c.start}-{c.end} "{c.quote}"')
    elif ans.abstained and ans.passages:
        print(f"\n{prompts.CLOSEST_PASSAGES}")
        for h in ans.passages[:3]:
            text = h.chunk.text.replace("\n", " ")
            print(f'[{h.rank}] {h.chunk.source}:{h.chunk.start}-{h.chunk.end} "{text[:200]}…"')
    for note in ans.notes:
        print(f"note: {note}", file=sys.stderr)


def _print_json(obj: object) -> None:
    """One JSON document on one line, in ASCII (other characters as \\u escapes): a
    reader that decodes stdout in another encoding, or splits it on Unicode line breaks,
    still gets the whole document, and any JSON parser gives back the same text."""
    print(json.dumps(obj, ensure_ascii=True, separators=(",", ":")), flush=True)


_PASSAGE_PLACE = ("rank", "chunk_id", "source", "start", "end", "score")


def _contract(answer: dict[str, Any], passage_text: bool) -> dict[str, Any]:
    """The answer as ``rag ask --json`` prints it: the retrieved passages by their place
    (rank, chunk id, source, offsets, fused score) unless ``--passage-text`` asks for
    all of them (text, title, dense and BM25 scores). The citations already quote what
    the answer rests on, with their documents' titles; the passages' text, titles and
    score parts made most of the document, and a reader that takes stdout in 4 KB pieces
    got it cut in the middle (5.2 KB for a seed question; 3.7 KB now, every seed question
    under 4 KB). ``rag search --json`` gives the whole passages."""
    if not passage_text:
        answer["passages"] = [
            {k: p[k] for k in _PASSAGE_PLACE if k in p} for p in answer.get("passages", [])
        ]
    return answer


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer.assistant import Assistant
    from rag.retrieve.retriever import clean_query

    cfg = config_from_args(args)
    batch = args.question == "-"
    narrow = _narrow(args)
    if not batch:
        clean_query(args.question, cfg.max_question_chars)  # fail fast, before loading models
    bot = Assistant.from_config(cfg, warn=_warn)
    if not batch:
        ans = bot.ask(args.question, narrow=narrow)
        if args.json:
            _print_json(_contract(ans.to_dict(), args.passage_text))
        else:
            _print_answer(ans)
        return 0
    failed = 0
    for line in sys.stdin:
        question = line.rstrip("\n")
        try:
            out = bot.ask(question, narrow=narrow).to_dict()
        except RagError as exc:
            failed += 1
            out = {"question": question, "error": str(exc)}
        if args.json:
            _print_json(_contract(out, args.passage_text))
        else:
            print(f"Q: {question}\nA: {out.get('answer', 'error: ' + out.get('error', ''))}\n")
    return 1 if failed else 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.answer.assistant import Assistant

    bot = Assistant.from_config(config_from_args(args), warn=_warn)
    history: list[dict[str, str]] = []
    print("Ask about the documents (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            return 0
        try:
            ans = bot.ask(question, history=history)
        except RagError as exc:
            print(f"error: {exc}")
            continue
        if ans.standalone_question != question:
            print(f"(understood as: {ans.standalone_question})")
        _print_answer(ans)
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": ans.answer, "standalone": ans.standalone_question},
        ]


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluation.cli import run_cli

    return run_cli(args, config_from_args(args))


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.bench import run_cli

    return run_cli(args, config_from_args(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.server.routes import serve

    serve(config_from_args(args), args.host, args.port, no_auth=args.no_auth)
    return 0


def _new_password(args: argparse.Namespace) -> str:
    """The password from one stdin line (``--password-stdin``) or typed twice at a prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise RagError("the two passwords differ; nothing was changed")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from rag.server.accounts import UserStore

    store = UserStore(config_from_args(args).users_path)
    if args.action == "list":
        users = store.users()
        for u in users.values():
            print(f"{u.name}\t{u.role}\t{len(u.keys)} key(s)")
        if not users:
            print(f"no users in {store.path} (the app is open to anyone on 127.0.0.1)")
    elif args.action == "add":
        store.add(args.name, args.role, _new_password(args))
        print(f"added {args.name} ({args.role}) to {store.path}")
    elif args.action == "remove":
        store.remove(args.name)
        print(f"removed {args.name}")
    elif args.action == "passwd":
        store.set_password(args.name, _new_password(args))
        print(f"changed the password of {args.name}")
    elif args.action == "role":
        store.set_role(args.name, args.role)
        print(f"{args.name} is now {args.role}")
    elif args.action == "key":
        print(store.new_key(args.name))
        print("(shown once: send it as `Authorization: Bearer <key>`)", file=sys.stderr)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """MCP over stdio: stdout carries the protocol, so messages go to stderr only."""
    from rag.answer.assistant import Assistant
    from rag.server.mcp import build_server

    bot = Assistant.from_config(config_from_args(args), warn=_warn)
    build_server(lambda: bot).run("stdio")
    return 0


# ---------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    settings = _settings_parser()
    parser = argparse.ArgumentParser(
        prog="rag", description="Answer questions from a document collection, with citations."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _index_parser(sub, settings)
    _query_parsers(sub, settings)
    _eval_parser(sub, settings)
    _service_parsers(sub, settings)
    _users_parser(sub, settings)
    return parser


def _index_parser(sub: Any, settings: argparse.ArgumentParser) -> None:
    """``rag index``."""
    p = sub.add_parser(
        "index", parents=[settings], help="build or update the index from the corpus"
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch")
    p.add_argument(
        "--migrate-to",
        choices=["faiss", "milvus"],
        help="copy the index into another vector store, reusing its vectors",
    )
    p.add_argument(
        "--progress", action="store_true", help="show a progress bar even when not a TTY"
    )
    p.set_defaults(func=cmd_index)


def _query_parsers(sub: Any, settings: argparse.ArgumentParser) -> None:
    """``rag search``, ``rag ask`` (both narrowable by source, date and scope), ``rag chat``."""
    narrowing = argparse.ArgumentParser(add_help=False)
    g = narrowing.add_argument_group("narrowing the sources")
    g.add_argument(
        "--source", action="append", metavar="PATH", help="only this document (repeatable)"
    )
    g.add_argument(
        "--since", metavar="DATE", help="only documents dated on or after (2025, 2025-03, ...)"
    )
    g.add_argument("--until", metavar="DATE", help="only documents dated on or before")
    g.add_argument(
        "--scope", choices=["all", "uploaded", "bundled"], help="uploaded or bundled only"
    )

    p = sub.add_parser(
        "search", parents=[settings, narrowing], help="show the ranked passages for a query"
    )
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "ask", parents=[settings, narrowing], help="answer a question with citations"
    )
    p.add_argument("question", help='the question, or "-" to read one question per stdin line')
    p.add_argument("--json", action="store_true", help="print the answer contract as JSON")
    p.add_argument(
        "--passage-text",
        action="store_true",
        help="with --json: also the retrieved passages' text (default: their offsets only)",
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[settings], help="a multi-turn chat in the terminal")
    p.set_defaults(func=cmd_chat)


def _eval_parser(sub: Any, settings: argparse.ArgumentParser) -> None:
    """``rag eval``: a dataset, the multi-domain suite, comparisons and gates."""
    p = sub.add_parser("eval", parents=[settings], help="score retrieval, answers and citations")
    p.add_argument("--dataset", type=Path, default=Path("eval/datasets/seeds_dev.jsonl"))
    p.add_argument(
        "--suite",
        type=Path,
        nargs="?",
        const=Path("eval/suite/suite.toml"),
        metavar="PATH",
        help="run the multi-domain suite (default manifest: eval/suite/suite.toml)",
    )
    p.add_argument(
        "--split",
        choices=["dev", "test", "all"],
        default="all",
        help="with --suite: only the dev or test domains (default: all)",
    )
    p.add_argument(
        "--domain",
        metavar="NAMES",
        help="with --suite: only these domains (comma-separated names from the manifest)",
    )
    p.add_argument(
        "--sweep",
        metavar="VALUES",
        help="with --suite: min_answer_score values for the calibration plot, "
        "comma-separated, or 'none' (default: 0.30 to 0.70 in steps of 0.05)",
    )
    p.add_argument(
        "--out", type=Path, help="write report.json, report.md, per_question.jsonl, plots"
    )
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="CONFIG",
        help='configs to compare, e.g. "backend=extractive,hybrid=false"',
    )
    p.add_argument(
        "--min",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when a metric is below VALUE; repeatable",
    )
    p.add_argument(
        "--limit", type=int, help="only the first N questions (with --suite: of each domain)"
    )
    p.add_argument(
        "--backends",
        metavar="NAMES",
        help="answer backends side by side on the same questions, e.g. extractive,llamacpp",
    )
    p.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="with --suite: N questions of each domain, spread evenly over its file",
    )
    p.set_defaults(func=cmd_eval)


def _service_parsers(sub: Any, settings: argparse.ArgumentParser) -> None:
    """``rag bench``, ``rag serve`` and ``rag mcp``."""
    p = sub.add_parser(
        "bench", parents=[settings], help="measure ingest, retrieval and answer speed"
    )
    p.add_argument("--scale", help="synthetic corpus sizes, e.g. 10000,100000,1000000")
    p.add_argument("--queries", type=int, default=100, help="queries per measurement")
    p.add_argument("--out", type=Path, default=Path("eval/reports/bench"))
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "serve", parents=[settings], help="serve the OpenAI-compatible API and MCP, no UI"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--no-auth", action="store_true", help="serve a non-loopback address with no accounts"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", parents=[settings], help="an MCP server over stdio (search, ask)")
    p.set_defaults(func=cmd_mcp)


def _users_parser(sub: Any, settings: argparse.ArgumentParser) -> None:
    from rag.server.accounts import ROLES

    users = sub.add_parser("users", help="accounts and roles (RAG_USERS_FILE, default users.toml)")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("list", parents=[settings], help="list users, roles and key counts")
    p = actions.add_parser("add", parents=[settings], help="add a user (password prompted)")
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, default="reader")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = actions.add_parser("remove", parents=[settings], help="remove a user")
    p.add_argument("name")
    p = actions.add_parser("passwd", parents=[settings], help="change a user's password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = actions.add_parser("role", parents=[settings], help="change a user's role")
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    p = actions.add_parser("key", parents=[settings], help="create an API key (shown once)")
    p.add_argument("name")
    users.set_defaults(func=cmd_users)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rag`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
