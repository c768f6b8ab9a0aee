"""Errors of the events app; the project's DRF exception handler turns them into 4xx answers."""

from __future__ import annotations

from workflows.exceptions import WorkflowError


class InvalidSignal(WorkflowError):
    code = "invalid_signal"


class PayloadTooLarge(WorkflowError):
    status_code = 413
    code = "too_large"


class SignalConflict(WorkflowError):
    """The key was already received, or a signal for it is already buffered."""

    status_code = 409
    code = "already_signalled"


class ApiKeyNotFound(WorkflowError):
    status_code = 404
    code = "not_found"

    def __init__(self, key_id: object):
        super().__init__(f"API key not found: {key_id}", field="id")


class NotAllowed(WorkflowError):
    status_code = 403
    code = "forbidden"


class WaitNotFound(WorkflowError):
    status_code = 404
    code = "not_found"

    def __init__(self, wait_id: object):
        super().__init__(f"Wait not found: {wait_id}", field="waitEventId")
