"""A small, safe Markdown renderer for text widgets (pure: escapes all HTML first).

Everything is HTML-escaped before any markup is added, so raw HTML in the source is
shown as text, never run. Links keep only http(s), mailto and relative targets.
Supported: headings, paragraphs, line lists (-, *, 1.), fenced code, inline code,
**bold**, *italic*, [links](url) and horizontal rules.
"""
from __future__ import annotations

import html
import re

_SAFE_URL = re.compile(r"^(https?://|mailto:|/|#|\.{0,2}/)?[^\s\"'<>`]*$", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])|(?<![_\w])_(?!\s)(.+?)(?<!\s)_(?![_\w])")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


def safe_url(url: str) -> str | None:
    """The URL if it is safe to put in an href, else None (javascript:, data:...)."""
    url = html.unescape(url).strip()
    if _SCHEME.match(url) and not url.lower().startswith(("http://", "https://", "mailto:")):
        return None
    return url if _SAFE_URL.match(url) else None


def _inline(text: str) -> str:
    """Inline markup on one already-escaped line; code spans are protected from the rest."""
    codes: list[str] = []

    def stash(match: re.Match) -> str:
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(stash, text)

    def link(match: re.Match) -> str:
        url = safe_url(match.group(2))
        if url is None:
            return match.group(1)
        return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{match.group(1)}</a>'

    text = _LINK.sub(link, text)
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    text = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], text)


def render_markdown(source: str) -> str:
    """Return safe HTML for `source`."""
    lines = html.escape(str(source), quote=True).replace("\r\n", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None
    in_code = False
    code: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for line in lines:
        if line.strip().startswith("```"):
            if in_code:
                out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
                code.clear()
                in_code = False
            else:
                flush_paragraph()
                close_list()
                in_code = True
            continue
        if in_code:
            code.append(line)
            continue
        if not line.strip():
            flush_paragraph()
            close_list()
            continue
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if _RULE.match(line):
            flush_paragraph()
            close_list()
            out.append("<hr>")
        elif heading:
            flush_paragraph()
            close_list()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2).strip())}</h{level}>")
        elif bullet or numbered:
            flush_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline((bullet or numbered).group(1))}</li>")
        else:
            close_list()
            paragraph.append(line.strip())
    if in_code:
        out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
    flush_paragraph()
    close_list()
    return "\n".join(out)
