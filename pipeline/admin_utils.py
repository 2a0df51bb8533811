import json
from typing import Any

from django.utils.html import format_html


def pretty_json(value: Any) -> str:
    """Render a JSON field readably on admin change pages."""
    return format_html(
        '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )
