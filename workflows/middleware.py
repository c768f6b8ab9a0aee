"""Middleware: answer the health probes before anything else runs; at the API's edge, refuse
bodies past the size limit with 413 before anything reads them, and query parameters carrying
text no database column takes with 400 naming the parameter."""

from __future__ import annotations

import os

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse

from . import health, values
from .exceptions import error_body

PROBES = {"/healthz", "/healthz/", "/readyz", "/readyz/"}


class HealthProbeMiddleware:
    """`GET /healthz` and `GET /readyz`, unauthenticated and ahead of the host check,
    sessions and HTTPS redirects: probes come from load balancers and Kubernetes, which
    address a process by its IP and speak plain HTTP."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        if request.path not in PROBES:
            return self.get_response(request)
        if request.path.startswith("/healthz"):
            return _answer(200, health.liveness_body())
        return _answer(*health.readiness_body(health.readiness()))

    async def _acall(self, request):
        if request.path not in PROBES:
            return await self.get_response(request)
        if request.path.startswith("/healthz"):
            return _answer(200, health.liveness_body())
        return _answer(*health.readiness_body(await health.areadiness()))


def _answer(status: int, body: dict) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def body_size(request) -> int:
    """The body's size in bytes: the bytes the ASGI handler buffered, which a chunked body
    (no Content-Length) has too, else what Content-Length says (ValueError when not a number)."""
    stream = getattr(request, "_stream", None)
    if stream is not None and hasattr(stream, "seekable") and stream.seekable():
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
                return JsonResponse(
                    error_body(code="invalid", message="Content-Length is not a number", field="body"), status=400
                )
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    error_body(
                        code="too_large", message=f"Request body is {length} bytes; the limit is {limit}", field="body"
                    ),
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
