"""Errors of the workflows app; workflows/api/errors.py turns them into 4xx answers."""

from __future__ import annotations


def error_body(*, code: str, message: str, field: str | None = None, **extra) -> dict:
    """The one shape of every error answer: `code` (stable, for programs), `message` (for
    people) and `field` when one input is at fault. `detail` repeats the message for clients
    written against Django REST framework's usual shape."""
    body = {"code": code, "message": message, "detail": message}
    if field:
        body["field"] = field
    body.update(extra)
    return body


class WorkflowError(Exception):
    """Base class: a request that the engine refuses, with an HTTP status for the API."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return error_body(code=self.code, message=self.message, field=self.field)


class WorkflowNotFound(WorkflowError):
    status_code = 404
    code = "not_found"

    def __init__(self, workflow_id: object):
        super().__init__(f"Workflow not found: {workflow_id}", field="workflowId")


class ExecutionNotFound(WorkflowError):
    status_code = 404
    code = "not_found"

    def __init__(self, execution_id: object):
        super().__init__(f"Execution not found: {execution_id}", field="executionId")


class UserNotFound(WorkflowError):
    code = "unknown_user"

    def __init__(self, user_name: str):
        super().__init__(f"Unknown user: {user_name!r}", field="userName")


class UserNotInTenant(WorkflowError):
    status_code = 403
    code = "forbidden"

    def __init__(self, user_name: str):
        super().__init__(f"User {user_name!r} is not a member of the workflow's tenant", field="userName")


class WorkflowInactive(WorkflowError):
    status_code = 409
    code = "inactive"

    def __init__(self, workflow_id: object):
        super().__init__(f"Workflow {workflow_id} is inactive and cannot be triggered", field="workflowId")


class InvalidInput(WorkflowError):
    """Bad input; `errors` lists every problem when there are several (an input checked
    against the workflow's input schema: one per field, `input.orderId`)."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, errors: list[dict] | None = None):
        super().__init__(message, field=field)
        self.errors = errors

    def as_dict(self) -> dict:
        body = super().as_dict()
        if self.errors:
            body["errors"] = self.errors
        return body


class InvalidIntegrationReferences(WorkflowError):
    status_code = 403
    code = "invalid_integration_references"

    def __init__(self, node_ids: list[str]):
        super().__init__("Workflow has invalid integration references in nodes: " + ", ".join(node_ids), field="nodes")
        self.node_ids = node_ids


class InvalidDefinition(WorkflowError):
    """Carries every problem found in a definition, each with its node id and field."""

    code = "invalid_definition"

    def __init__(self, errors: list[dict]):
        super().__init__(f"Invalid workflow definition ({len(errors)} problem(s))", field="definition")
        self.errors = errors

    def as_dict(self) -> dict:
        return {**super().as_dict(), "errors": self.errors}


class InvalidState(WorkflowError):
    status_code = 409
    code = "invalid_state"


class ExecutionFinished(InvalidState):
    """A write that needs a running or paused execution found it finished."""

    def __init__(self, status: str):
        super().__init__(f"The execution is already {status}", field="status")
        self.status = status


class VersionMismatch(WorkflowError):
    status_code = 409
    code = "version_mismatch"


class StaleVersion(WorkflowError):
    """A save against a version that is no longer the latest: someone saved in between."""

    status_code = 409
    code = "stale_version"

    def __init__(self, *, base: int, latest):
        who = latest.created_by.get_username() if latest.created_by else "someone"
        when = latest.created_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        super().__init__(
            f"Version {latest.number} was saved by {who} at {when}, after version {base} that you started from: "
            f"reload it, or save again with baseVersion {latest.number} to overwrite it",
            field="baseVersion",
        )
        self.latest = {
            "number": latest.number,
            "createdBy": who if latest.created_by else None,
            "createdAt": latest.created_at.isoformat(),
        }

    def as_dict(self) -> dict:
        return {**super().as_dict(), "latestVersion": self.latest}
