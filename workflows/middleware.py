"""Refuse oversized API bodies with 413 before anything reads them."""
from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

from .exceptions import error_body


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(error_body(code="invalid", message="Content-Length is not a number", field="body"), status=400)
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    error_body(code="too_large", message=f"Request body is {length} bytes; the limit is {limit}", field="body"),
                    status=413,
                )
        return self.get_response(request)
