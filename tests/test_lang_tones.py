"""Vietnamese written mostly in syllables with a single acute, grave or tilde is still
Vietnamese (rag.lang.detect_language); English with Vietnamese names stays English."""

from __future__ import annotations

import pytest

from rag.lang import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # 5 of 14 words carry a Vietnamese-only mark; the rest "giá", "bán", "chè", "là" ...
        ("Giá bán chè bình quân năm nay của hợp tác xã là bao nhiêu?", "vi"),
        ("Giá vé tàu từ Hà Nội là bao nhiêu?", "vi"),
        ("Which freight route did Nguyễn Cảnh Toàn want launched at Tân Thanh?", "en"),
        ("Who chairs the People's Committee of Lạng Sơn?", "en"),
        ("Qu'est-ce que la frontière?", "en"),
        ("Café olé à la crème", "en"),  # acute and grave alone never make Vietnamese
    ],
)
def test_single_tone_syllables_count_towards_vietnamese(text: str, lang: str) -> None:
    assert detect_language(text) == lang
