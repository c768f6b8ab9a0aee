"""The error answers every API operation can give, added to the OpenAPI schema in one place.

Each has the shape of `Error` (workflows.exceptions.error_body). An operation's own
declaration (a 409 with a richer body, say) is kept.
"""

from __future__ import annotations

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
UNSAFE = {"post", "put", "patch", "delete"}


def _errors_of(path: str, method: str, operation: dict) -> dict[str, str]:
    errors = {"400": "Invalid input: the body or a query parameter, named in `field`"}
    if operation.get("security") and {} not in operation["security"]:
        errors["401"] = "Not authenticated"
        errors["403"] = "Not allowed"
    names = {p.get("name") for p in operation.get("parameters", [])}
    if "{" in path or "page" in names:
        errors["404"] = "Not found, or not of the caller's tenants (the same answer)"
    if method in UNSAFE:
        errors["409"] = (
            "The state changed under the request (a finished execution, a newer version, an inactive workflow)"
        )
    if "requestBody" in operation:
        errors["413"] = "The body is larger than API_MAX_BODY_BYTES"
        errors["415"] = "The body is not JSON"
    return errors


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents its error answers."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in UNSAFE | {"get", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _errors_of(path, method, operation).items():
                responses.setdefault(status, {"content": ERROR, "description": description})
    return result
