"""Turn every API error into one JSON shape (workflows.exceptions.error_body), in one place."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import WorkflowError, error_body


def exception_handler(exc, context):
    if isinstance(exc, WorkflowError):
        return Response(exc.as_dict(), status=exc.status_code)
    # As DRF's own handler does, so Django's 404 (get_object) gets the stable code too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*(exc.args[:1] or ()))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*(exc.args[:1] or ()))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        problems = list(flatten(exc.detail))
        first = problems[0] if problems else {"field": None, "message": "Invalid input", "code": "invalid"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        response.data = error_body(code="invalid", message=message, field=first["field"], errors=problems)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        field = getattr(exc, "field", None)
        if isinstance(exc, (exceptions.ParseError, exceptions.UnsupportedMediaType)):
            field = "body"
        response.data = error_body(
            code=codes if isinstance(codes, str) else getattr(exc, "default_code", "error"),
            message=str(getattr(exc, "detail", exc)),
            field=field,
        )
    return response


def flatten(detail, path: str = ""):
    """Every problem of a DRF error tree as {"field": "a.b[0].c", "message", "code"}."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            yield from flatten(value, f"{path}.{name}" if path and name else (name or path))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                yield from flatten(value, f"{path}[{index}]")
            else:
                yield from flatten(value, path)
    else:
        yield {"field": path or None, "message": str(detail), "code": getattr(detail, "code", None) or "invalid"}
