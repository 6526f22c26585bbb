"""The chat app: ask the indexed articles, check every citation.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--no-auth]

The page lives in :mod:`rag.app` (layout in ``page.py``, events in ``handlers.py``, the
background engine in ``engine.py``, start-up in ``start.py``); see the README.
"""

import sys

from rag.app.start import main

if __name__ == "__main__":
    sys.exit(main())
