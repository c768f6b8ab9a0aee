"""The one template resolver used by the engine and the widgets (pure, never evaluates code).

`{{Trigger.orderId}}`, `{{Wait for Event.payload.amount}}`, `{{items[0].name}}` and
`{{ctx.queryResult}}` are paths: a root name (spaces allowed), then `.key` or `[index]`
segments. Only mapping keys and sequence indexes are followed, never attributes.

- A string that is exactly one expression keeps the value's type (list, dict, number,
  bool, null); a missing path gives None.
- Mixed text interpolates: strings as they are, None (or a missing path) as "",
  anything else as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SEGMENT = re.compile(r"\.([^.\[\]{}]+)|\[\s*(-?\d+)\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*'([^']*)'\s*\]")
_MISSING = object()


class TemplateSyntaxError(ValueError):
    """Raised for an expression that is not a path."""


def parse_path(expression: str) -> list[str | int]:
    """Split `Root Label.key[0].name` into ["Root Label", "key", 0, "name"]."""
    text = expression.strip()
    root_end = len(text)
    for i, char in enumerate(text):
        if char in ".[":
            root_end = i
            break
    root = text[:root_end].strip()
    if not root or any(c in root for c in "{}]"):
        raise TemplateSyntaxError(f"bad template expression {{{{{expression}}}}}")
    path: list[str | int] = [root]
    pos = root_end
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if not match:
            raise TemplateSyntaxError(f"bad template expression {{{{{expression}}}}}")
        key, index, dq, sq = match.groups()
        if index is not None:
            path.append(int(index))
        else:
            path.append((key if key is not None else dq if dq is not None else sq).strip())
        pos = match.end()
    return path


def expressions(text: str) -> list[str]:
    """Return the expressions inside `{{ }}` in `text`, in order."""
    return [m.group(1) for m in EXPRESSION.finditer(text)]


def referenced_roots(value: Any) -> set[str]:
    """Return every root name referenced anywhere in `value` (strings, lists, dicts)."""
    roots: set[str] = set()
    for text in _strings(value):
        for expr in expressions(text):
            root = parse_path(expr)[0]
            if isinstance(root, str):
                roots.add(root)
    return roots


def lookup(scope: Any, path: Sequence[str | int]) -> Any:
    """Follow `path` through mappings and sequences; return None where it leads nowhere."""
    found = _follow(scope, path)
    return None if found is _MISSING else found


def resolve(value: Any, scope: Mapping[str, Any], *, keep: frozenset[str] = frozenset()) -> Any:
    """Resolve every template in `value` (recursively through lists and dicts) against `scope`.
    Expressions whose root is in `keep` stay as written (a node's own roots, such as For
    Each's `item`, which only it resolves)."""
    if isinstance(value, str):
        return resolve_string(value, scope, keep=keep)
    if isinstance(value, Mapping):
        return {key: resolve(item, scope, keep=keep) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, scope, keep=keep) for item in value]
    return value


def resolve_string(text: str, scope: Mapping[str, Any], *, keep: frozenset[str] = frozenset()) -> Any:
    matches = list(EXPRESSION.finditer(text))
    if not matches:
        return text
    if keep and any(parse_path(m.group(1))[0] in keep for m in matches):
        return EXPRESSION.sub(lambda m: _kept_or_text(m, scope, keep), text)
    if len(matches) == 1 and not text[: matches[0].start()].strip() and not text[matches[0].end() :].strip():
        return lookup(scope, parse_path(matches[0].group(1)))
    return EXPRESSION.sub(lambda m: _as_text(lookup(scope, parse_path(m.group(1)))), text)


def _kept_or_text(match: re.Match, scope: Mapping[str, Any], keep: frozenset[str]) -> str:
    path = parse_path(match.group(1))
    return match.group(0) if path[0] in keep else _as_text(lookup(scope, path))


def _follow(scope: Any, path: Sequence[str | int]) -> Any:
    current = scope
    for segment in path:
        if isinstance(segment, str) and segment.startswith("__") and segment.endswith("__"):
            return _MISSING
        if isinstance(current, Mapping):
            if segment in current:
                current = current[segment]
            elif isinstance(segment, int) and str(segment) in current:
                current = current[str(segment)]
            else:
                return _MISSING
        elif isinstance(current, (list, tuple)):
            try:
                current = current[int(segment)]
            except (ValueError, IndexError, TypeError):
                return _MISSING
        else:
            return _MISSING
    return current


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
