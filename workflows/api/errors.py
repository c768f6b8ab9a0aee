"""Turn the apps' errors into JSON 4xx answers, in one place."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import WorkflowError


def exception_handler(exc, context):
    if isinstance(exc, WorkflowError):
        return Response(exc.as_dict(), status=exc.status_code)
    return drf_exception_handler(exc, context)
