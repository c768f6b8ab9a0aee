"""Error answers outside the views' own: the branded pages (templates/4xx.html, 500.html),
and under /api/ the API's JSON error shape instead of a page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from .exceptions import error_body


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception) -> HttpResponse:
    if _api(request):
        return JsonResponse(error_body(code="bad_request", message="Bad request"), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception) -> HttpResponse:
    if _api(request):
        message = (
            str(exception) if exception and str(exception) else "You do not have permission to perform this action."
        )
        return JsonResponse(error_body(code="permission_denied", message=message), status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception) -> HttpResponse:
    if _api(request):
        return JsonResponse(error_body(code="not_found", message=f"No API endpoint at {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return JsonResponse(error_body(code="server_error", message="Server error: it was logged"), status=500)
    return defaults.server_error(request)
