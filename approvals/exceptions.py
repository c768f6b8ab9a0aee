"""Errors of the approvals app; the API's exception handler turns them into 4xx answers."""

from __future__ import annotations

from workflows.exceptions import WorkflowError


class ApprovalError(WorkflowError):
    """Base class of the approval errors."""


class ApprovalNotFound(ApprovalError):
    status_code = 404
    code = "not_found"

    def __init__(self, request_id: object):
        super().__init__(f"Approval request not found: {request_id}", field="id")


class NotEligible(ApprovalError):
    status_code = 403
    code = "not_eligible"


class AlreadyDecided(ApprovalError):
    status_code = 409
    code = "already_decided"


class RequestNotPending(ApprovalError):
    status_code = 409
    code = "not_pending"


class InvalidDecision(ApprovalError):
    code = "invalid_decision"


class InvalidLink(ApprovalError):
    status_code = 403
    code = "invalid_link"
