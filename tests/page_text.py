"""Reading server-rendered pages in tests."""

from __future__ import annotations

import re


def text(response) -> str:
    """Visible text of a page with tags stripped and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def card_names(response) -> list[str]:
    """The model names on a models list page, in the order of its cards."""
    return re.findall(r'data-testid="model-name">.*?<span>(.*?)</span>', response.content.decode(), re.S)
