"""What a JSON value must be to be stored, and how text about a step is cleaned (pure).

PostgreSQL's jsonb cannot hold a NUL character (`\\u0000`) or a lone UTF-16 surrogate, and
SQLite would store what PostgreSQL refuses, so the same rules hold on both:
- a step's output (and a pause's data) that breaks them fails the node at once, saying why;
- text written about a step (log messages, error messages and details) is cleaned instead:
  each NUL and lone surrogate becomes U+FFFD (the replacement character);
- JSON that comes in (API bodies, query parameters) is refused when it breaks them or nests
  deeper than a bound, naming where (`json_problem`, `text_problem`), before anything parses
  it recursively or stores it.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (invalid Unicode)"
    return None


def unstorable(value: Any, *, max_bytes: int | None = None) -> str | None:
    """Why `value` cannot be stored as JSON, naming where in it ("$.items[2].name contains
    a NUL character (\\u0000)"), or None. Cheap when it can: one C-level dump, the walk only when something is wrong."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"$ is not JSON: {exc}"
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError:
        size = None
    if size is not None and "\\u0000" not in encoded:
        if max_bytes is not None and size > max_bytes:
            return f"$ is {size} bytes of JSON; the limit is {max_bytes} (WORKFLOW_MAX_OUTPUT_BYTES)"
        return None
    found = _find(value, "$")
    # None when the "\u0000" seen was a literal backslash followed by u0000
    return f"{found[0]} {found[1]}" if found else None


def text_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, what) for the first NUL or lone surrogate in `value`'s strings or keys, the
    path written as the API names fields (`payload.items[2].name`), or None."""
    found = _find(value, path)
    return (found[0] or "body", found[1]) if found else None


def _find(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        problem = _text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (problem := _text_problem(key)):
                return (path, f"has a key that {problem}")
            if found := _find(item, name):
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if found := _find(item, f"{path}[{index}]"):
                return found
    return None


# A JSON token that matters for nesting: a key (string then colon), any other string, a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"\s*:|"(?:[^"\\]|\\.)*"|[\[\]{}]')
# Escapes that decode to a NUL or a surrogate; a UTF-8 body cannot carry either any other way.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def json_problem(text: str, *, max_depth: int) -> tuple[str, str] | None:
    """(where, what) when the JSON `text` nests deeper than `max_depth` arrays and objects,
    naming the top-level key under which it does ("body" when the document itself is the
    culprit), or None. Reads the text without recursion, so 100,000 levels cost no stack;
    a text with fewer brackets than the bound is passed at C speed."""
    if text.count("[") + text.count("{") <= max_depth:
        return None
    depth, key = 0, None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            if depth == 1 and token[-1] == ":":
                key = token[: token.rindex('"') + 1]
            continue
        if token in "[{":
            depth += 1
            if depth > max_depth:
                where = "body"
                if key is not None:
                    try:
                        where = str(json.loads(key))
                    except ValueError:
                        pass
                return (where, f"is nested deeper than {max_depth} levels")
        else:
            depth -= 1
    return None


def may_have_unsafe_text(text: str) -> bool:
    """Whether JSON `text` may decode to a NUL or a lone surrogate (cheap; confirm with
    `text_problem` on the parsed value)."""
    return "\x00" in text or _UNSAFE_ESCAPE.search(text) is not None


def clean(value: Any) -> Any:
    """`value` with every NUL and lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSAFE.sub(REPLACEMENT, value) if _text_problem(value) else value
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


# The default bound on nesting (the API's is the setting API_MAX_JSON_DEPTH, 64 unless set).
MAX_DEPTH = 64


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads under the same rules as the API's bodies: ValueError saying where when the
    text nests deeper than `max_depth` or holds a NUL or a lone surrogate (for JSON typed into
    a form or carried inside a string field)."""
    if problem := json_problem(text, max_depth=max_depth):
        raise ValueError(f"{problem[0] if problem[0] != 'body' else 'the document'} {problem[1]}")
    data = json.loads(text)
    if may_have_unsafe_text(text) and (problem := text_problem(data)):
        raise ValueError(f"{problem[0] if problem[0] != 'body' else 'the document'} {problem[1]}")
    return data
