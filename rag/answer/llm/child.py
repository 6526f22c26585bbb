"""Entry point of the local model's child process: ``python -m rag.answer.llm.child ARGS``.

It runs ``llama_cpp.server`` with ``ARGS`` after two things the supervisor
(:mod:`rag.answer.llm.process`) relies on:

* **It dies with its parent.** The parent holds the write end of this process's
  stdin and never writes to it; end of file means the parent has gone (even after
  ``kill -9``), and the child exits at once instead of holding a port and memory.
  (``PR_SET_PDEATHSIG`` would fire when the parent *thread* that started the child
  ends, and the app starts it from short-lived worker threads.)
* **Its memory is capped** when ``RAG_CHILD_MEMORY_MB`` is set (``RLIMIT_AS``): a
  runaway allocation fails inside the child, never in the app.

Nothing here imports llama.cpp before the limits are in place.
"""

from __future__ import annotations

import os
import resource
import runpy
import sys
import threading

MEMORY_ENV = "RAG_CHILD_MEMORY_MB"


def _exit_with_parent() -> None:
    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass  # nobody writes; stray bytes are ignored
        except (OSError, ValueError):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _cap_memory() -> None:
    megabytes = int(os.environ.get(MEMORY_ENV, "0") or 0)
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> None:
    _cap_memory()
    _exit_with_parent()
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
