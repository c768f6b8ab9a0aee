"""What the workflow editor asks the server: a definition checked with every problem and
what each node's templates can see, an imported file read, an automatic layout.

The validator (workflows/definition.py) stays the one judge of a definition; this module
only packages its answer for an editor that asks after every change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from . import layout as layouts
from . import scope, values
from .definition import validate_definition
from .exceptions import InvalidDefinition
from .nodes import registry

EXPORT_FORMAT = "workflow/v1"


@dataclass
class Check:
    """A definition's problems (`errors` block saving, `warnings` do not) and its scopes."""

    definition: Any
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    scopes: dict[str, list[str]] = field(default_factory=dict)
    inputFields: list[dict] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def check(definition: Any) -> Check:
    """Validate `definition` and say, for each node, which nodes run before it."""
    result = Check(definition=definition)
    try:
        validate_definition(definition, registry)
    except InvalidDefinition as exc:
        result.errors = exc.errors
    analysis = scope.analyse(definition, registry)
    result.scopes, result.warnings, result.inputFields = (
        analysis["scopes"],
        analysis["warnings"],
        analysis["inputFields"],
    )
    return result


def read_import(text: str) -> Check:
    """Check an imported file: a bare definition or an exported document ({"format":
    "workflow/v1", "definition": ...}). Malformed JSON is one problem naming where it breaks."""
    try:
        document = values.loads(text, max_depth=settings.API_MAX_JSON_DEPTH)
    except ValueError as exc:
        return Check(
            definition=None, errors=[{"nodeId": None, "field": "definition", "message": f"not valid JSON: {exc}"}]
        )
    if isinstance(document, dict) and "definition" in document and "nodes" not in document:
        document = document["definition"]
    return check(document)


def export_document(workflow, version) -> dict:
    """The file `export_workflow` writes and `import_workflow` and the editor read."""
    return {
        "format": EXPORT_FORMAT,
        "name": workflow.name,
        "description": workflow.description,
        "isActive": workflow.is_active,
        "version": version.number if version else None,
        "definition": version.definition if version else None,
    }


def auto_layout(definition: dict) -> layouts.Layout:
    """The server's layout of `definition`, ignoring the positions it has."""
    nodes = [
        {key: value for key, value in node.items() if key != "position"}
        for node in definition.get("nodes") or []
        if isinstance(node, dict) and isinstance(node.get("id"), str)
    ]
    ids = {node["id"] for node in nodes}
    edges = [
        edge
        for edge in definition.get("edges") or []
        if isinstance(edge, dict) and edge.get("source") in ids and edge.get("target") in ids
    ]
    return layouts.layout({"nodes": [{"type": "", **n} for n in nodes], "edges": edges})
