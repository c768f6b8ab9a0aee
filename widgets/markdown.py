"""Markdown for text widgets: markdown-it-py renders (CommonMark, raw HTML off) and nh3
sanitises the result, so neither raw HTML nor unsafe links (javascript:, data:) survive.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "s",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
    # Every link becomes an <a> here; nh3 then drops the href of any scheme not allowed, so a
    # rejected link shows its text, not its markup.
    parser.validateLink = lambda url: True  # type: ignore[method-assign]  # the documented override
    return parser


def sanitize(html: str) -> str:
    """`html` with only the tags, attributes and link schemes above (no scripts, no event
    handlers, no javascript: or data: URLs)."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer")


def render_markdown(source: str) -> str:
    """Safe HTML for `source`."""
    return sanitize(_parser().render(str(source))).strip()
