"""Document dates: from the format's metadata, else from the article's dateline.

Real files through the real readers and a real index build (the packaged MiniLM model,
FAISS); the date survives the index round trip.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from rag.config import Config
from rag.ingest.dates import find_date, front_matter_date, html_date, pdf_date, text_date
from rag.ingest.readers import load_document


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("March 14, 2025", "2025-03-14"),
        ("14 March 2025", "2025-03-14"),
        ("Sept. 3rd 2023", "2023-09-03"),
        ("2025-03-14T10:00:00Z", "2025-03-14"),
        ("ngày 5 tháng 9 năm 2024", "2024-09-05"),
        ("2025年3月14日", "2025-03-14"),
        ("in May 2024", "2024-05"),
        ("February 30, 2025", ""),  # no such day
        ("3/4/2025", ""),  # day-first or month-first: not guessed
        ("no date here", ""),
    ],
)
def test_find_date(text: str, iso: str) -> None:
    assert find_date(text) == iso


def test_a_dateline_is_a_date_an_event_in_the_first_sentence_is_not() -> None:
    assert text_date("PORT ALDWICK, March 14, 2025 — The ferry terminal opened.") == "2025-03-14"
    assert text_date("Title line\nPublished: 2 June 2024\n\nBody.") == "2024-06-02"
    assert text_date("Hà Nội, ngày 5 tháng 9 năm 2024 - Sáng nay, ...") == "2024-09-05"
    assert text_date("新华社南宁2025年3月14日电 广西...") == "2025-03-14"
    assert text_date("The bridge closed on June 3, 2024, and reopened in May.") == ""
    assert text_date("LẠNG SƠN — Border guard forces held talks on Tuesday.") == ""


def test_format_metadata() -> None:
    assert front_matter_date("---\ntitle: Ferry\ndate: 2024-06-26\n---\n# Ferry\n") == "2024-06-26"
    assert front_matter_date("# No front matter\ndate: 2024-06-26\n") == ""
    meta = '<head><meta property="article:published_time" content="2025-05-12T08:00:00Z">'
    assert html_date(meta) == "2025-05-12"
    assert html_date('<p><time datetime="2023-06-26">26 June</time></p>') == "2023-06-26"
    assert html_date("<p>Nothing</p>") == ""
    assert pdf_date("D:20250314120000Z") == "2025-03-14" and pdf_date("D:2025") == ""


def _write_pdf(path: Path, text: str, created: datetime) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path, metadata={"CreationDate": created}) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.text(0.08, 0.9, text, fontsize=11)
        pdf.savefig(fig)
        plt.close(fig)


def test_every_format_carries_its_date_into_the_index(tmp_path: Path, embedder) -> None:
    from rag.store.build import build_index
    from rag.store.index import load_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "front.md").write_text(
        "---\ndate: 2024-06-26\n---\n# Harbour ferry\n\nThe new ferry carries 240 cars.\n"
    )
    (docs / "page.html").write_text(
        '<html><head><meta name="date" content="2023-11-03"></head><body><p>The quota '
        "for cod was cut by 12 percent.</p></body></html>"
    )
    (docs / "wire.txt").write_text(
        "Bridge works\n\nPORT ALDWICK, March 14, 2025 — The bridge closes for 6 weeks.\n"
    )
    (docs / "plain.txt").write_text("Undated note\n\nThe school archive opened on June 3, 2024.\n")
    _write_pdf(docs / "report.pdf", "The dairy processed 41 million litres.", datetime(2022, 1, 9))
    found = {p.name: load_document(p, tmp_path).date for p in sorted(docs.iterdir())}
    assert found == {
        "front.md": "2024-06-26",
        "page.html": "2023-11-03",
        "plain.txt": "",
        "report.pdf": "2022-01-09",
        "wire.txt": "2025-03-14",
    }
    config = Config.from_env({"root": tmp_path, "corpus_dir": "docs"}, environ={})
    build_index(config, embedder, progress=False)
    loaded = {Path(d.source).name: d.date for d in load_index(config).docs}
    assert loaded == found
    assert all("date" in d.meta() for d in load_index(config).docs)
