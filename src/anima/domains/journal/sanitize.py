"""Sanitizing rich-text notes with nh3 (Rust ammonia) and an explicit allow-list.

Allowed: basic text formatting, headings, lists, quotes, tables and links (http, https, mailto;
``rel="noopener noreferrer"`` added). Everything else is removed: ``<script>``/``<style>`` with
their content, event handlers (``on*``), ``style``, images, iframes, forms, comments, and any
URL scheme but those three (``javascript:`` included).
"""

from __future__ import annotations

import nh3

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "b", "strong", "i", "em", "u", "s", "del", "ins", "mark", "sub", "sup", "small",
        "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "ul", "ol", "li",
        "table", "thead", "tbody", "tr", "th", "td", "a", "span", "div",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
CLEAN_CONTENT_TAGS = frozenset({"script", "style"})


def sanitize_html(html: str) -> str:
    """The allow-listed HTML of ``html`` (see module docstring)."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
