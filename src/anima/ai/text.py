"""Plain text of journal content for screening and prompts.

* A note's sanitized HTML becomes text with block elements on their own lines (so "<p>no</p><p>vull
  morir</p>" does not read "novull morir") and entities decoded.
* Form answers (any JSON) become ``key: value`` lines, nested keys joined with dots; only strings,
  numbers and booleans are kept.
* :func:`pseudonymize` replaces a patient's names, and any email address or phone number, with
  placeholders before text leaves for a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "blockquote", "pre", "hr", "table"}
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()./-]{6,}\d(?!\w)")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of ``html``: block elements on their own lines, entities decoded, blank runs collapsed."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def data_to_text(data: Any, prefix: str = "") -> str:
    """``key: value`` lines of a JSON value (form answers)."""
    lines: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif isinstance(value, (str, int, float, bool)):
            lines.append(f"{path}: {value}" if path else str(value))

    walk(data, prefix)
    return "\n".join(lines)


def entry_text(html: str | None, data: Any, amendments: Iterable[tuple[str | None, Any]] = ()) -> str:
    """The text of an entry and its amendments (each amendment on its own lines, after the original)."""
    parts = [html_to_text(html) if html is not None else data_to_text(data) if data is not None else ""]
    for a_html, a_data in amendments:
        parts.append(html_to_text(a_html) if a_html is not None else data_to_text(a_data) if a_data is not None else "")
    return "\n".join(p for p in parts if p)


def pseudonymize(text: str, names: list[str]) -> str:
    """``text`` with each of ``names`` (whole words, any case) replaced by ``[patient]``, emails by
    ``[email]`` and phone-like digit runs by ``[phone]``."""
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[patient]", text, flags=re.IGNORECASE)
    return text
