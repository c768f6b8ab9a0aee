"""What a JSON value must be to be stored, and how text about a step is cleaned (pure).

PostgreSQL's jsonb cannot hold a NUL character (`\\u0000`) or a lone UTF-16 surrogate, and
SQLite would store what PostgreSQL refuses, so the same rules hold on both:
- a step's output (and a pause's data) that breaks them fails the node at once, saying why;
- text written about a step (log messages, error messages and details) is cleaned instead:
  each NUL and lone surrogate becomes U+FFFD (the replacement character).
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
    return found  # None when the "\u0000" seen was a literal backslash followed by u0000


def _find(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        problem = _text_problem(value)
        return f"{path} {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (problem := _text_problem(key)):
                return f"{path} has a key that {problem}"
            if found := _find(item, f"{path}.{key}"):
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if found := _find(item, f"{path}[{index}]"):
                return found
    return None


def clean(value: Any) -> Any:
    """`value` with every NUL and lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSAFE.sub(REPLACEMENT, value) if _text_problem(value) else value
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value
