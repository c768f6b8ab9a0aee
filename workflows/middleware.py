"""The API's edge: bodies past the size limit answer 413 before anything reads them, and
query parameters carrying text no database column takes answer 400 naming the parameter."""
from __future__ import annotations

import os

from django.conf import settings
from django.http import JsonResponse

from . import values
from .exceptions import error_body


def body_size(request) -> int:
    """The body's size in bytes: the bytes the ASGI handler buffered, which a chunked body
    (no Content-Length) has too, else what Content-Length says (ValueError when not a number)."""
    stream = getattr(request, "_stream", None)
    if hasattr(stream, "seekable") and stream.seekable():
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        return size
    return int(request.META.get("CONTENT_LENGTH") or 0)


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = body_size(request)
            except ValueError:
                return JsonResponse(error_body(code="invalid", message="Content-Length is not a number", field="body"), status=400)
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    error_body(code="too_large", message=f"Request body is {length} bytes; the limit is {limit}", field="body"),
                    status=413,
                )
            if length and not request.META.get("CONTENT_LENGTH"):
                # A chunked body has no Content-Length, and Django REST framework reads a
                # request without one as empty: give it the length that was buffered.
                request.META["CONTENT_LENGTH"] = str(length)
        return self.get_response(request)


class ApiQueryTextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            for name, items in request.GET.lists():
                if problem := values.text_problem({name: items[0] if len(items) == 1 else items}):
                    return JsonResponse(
                        error_body(code="invalid", message=f"{problem[0]} {problem[1]}", field=problem[0]),
                        status=400,
                    )
        return self.get_response(request)
