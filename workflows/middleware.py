"""Middleware: answer the health probes before anything else runs; refuse oversized API
bodies with 413 before anything reads them."""
from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse

from . import health
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
