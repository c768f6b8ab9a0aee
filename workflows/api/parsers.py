"""Every JSON request body is read here: bounded depth and clean text, or a 400 naming the field."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import parsers

from .. import values
from ..exceptions import InvalidInput


class NotJSON(InvalidInput):
    code = "parse_error"


def load_json(raw: bytes | str) -> Any:
    """The parsed JSON `raw`, refused with InvalidInput (naming the field) when it is not JSON,
    nests deeper than API_MAX_JSON_DEPTH, or holds a NUL or a lone surrogate, which no
    database column takes."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise NotJSON(f"The body is not UTF-8: {exc}", field="body") from None
    if problem := values.json_problem(text, max_depth=settings.API_MAX_JSON_DEPTH):
        raise InvalidInput(f"{problem[0]} {problem[1]}", field=problem[0])
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotJSON(f"JSON parse error: the body is not valid JSON: {exc}", field="body") from None
    if values.may_have_unsafe_text(text) and (problem := values.text_problem(data)):
        raise InvalidInput(f"{problem[0]} {problem[1]}", field=problem[0])
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, through load_json (the project's default parser)."""

    def parse(self, stream, media_type=None, parser_context=None):
        return load_json(stream.read() if stream is not None else b"")
