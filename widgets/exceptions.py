"""Errors of the widgets app: 4xx answers over HTTP, `widget_workflow_error` codes on the socket."""

from __future__ import annotations

from workflows.exceptions import WorkflowError


class WidgetError(WorkflowError):
    """Base class; `socket_code` is the code the socket protocol names."""

    socket_code = "CONNECTION_FAILED"
    recoverable = False


class NotFound(WidgetError):
    status_code = 404
    code = "not_found"
    socket_code = "NOT_FOUND"


class Forbidden(WidgetError):
    """Another tenant's object (`what`: workflow, instance, widget, tenant). The socket says
    so; HTTP answers as if it did not exist (`hidden()`)."""

    status_code = 403
    code = "forbidden"
    socket_code = "FORBIDDEN"

    def __init__(self, message: str, *, field: str | None = None, what: str = "object"):
        super().__init__(message, field=field)
        self.what = what

    def hidden(self) -> NotFound:
        return NotFound(f"This {self.what} was not found", field=self.field)


class InvalidConfig(WidgetError):
    code = "invalid_config"
    socket_code = "INVALID_CONFIG"


class NotFinished(WidgetError):
    status_code = 409
    code = "not_finished"
    socket_code = "NOT_FINISHED"
    recoverable = True


class InstanceFinished(WidgetError):
    status_code = 409
    code = "instance_finished"
    socket_code = "INSTANCE_FINISHED"


class SyncTimeout(WidgetError):
    status_code = 504
    code = "sync_timeout"
    socket_code = "TIMEOUT"
    recoverable = True


_SOCKET_CODES = {404: "NOT_FOUND", 403: "FORBIDDEN", 400: "INVALID_CONFIG", 409: "INVALID_STATE"}


def socket_error(exc: Exception) -> dict:
    """The `error` object of a widget_workflow_error frame for any exception."""
    if isinstance(exc, WidgetError):
        return {"code": exc.socket_code, "message": exc.message, "recoverable": exc.recoverable, "field": exc.field}
    if isinstance(exc, WorkflowError):
        code = _SOCKET_CODES.get(exc.status_code, "CONNECTION_FAILED")
        return {"code": code, "message": exc.message, "recoverable": False, "field": exc.field}
    return {"code": "CONNECTION_FAILED", "message": "The widget could not be connected", "recoverable": False}
