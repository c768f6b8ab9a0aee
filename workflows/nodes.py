"""Node types: what a step returns, the context it gets, and the registry they live in.

A node type is a small value object with one `run(config, ctx)` function and data
describing its configuration fields. Apps contribute node types from the modules listed
in settings.WORKFLOW_NODE_MODULES (each exposes NODE_TYPES).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from . import templating


class NodeError(Exception):
    """A step failed. `retryable=False` skips the remaining attempts."""

    def __init__(self, message: str, *, retryable: bool = True, details: Any = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.details = details


@dataclass
class StepResult:
    """A finished step: its output, the branch it takes, and an optional write made in the
    completion's transaction (`persist(node_run)`)."""

    output: Any = None
    branch: str | None = None
    persist: Callable[[Any], None] | None = None


@dataclass
class Pause:
    """A step that waits: until a resumer calls engine.resume_node_run, or `until` passes.

    `persist(node_run)` runs in the pausing transaction (create the approval request, the
    wait row, child executions...). It may return a StepResult to finish at once instead,
    or raise NodeError to fail the node.
    """

    until: datetime | None = None
    data: dict | None = None
    persist: Callable[[Any], StepResult | dict | None] | None = None


@dataclass
class Field:
    """One configuration field, as the builder UI and the validator see it."""

    key: str
    label: str
    type: str = "template-input"
    required: bool = False
    options: list[dict] | None = None
    default: Any = None
    description: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = {"key": self.key, "label": self.label, "type": self.type, "required": self.required}
        if self.options is not None:
            data["options"] = self.options
        if self.default is not None:
            data["default"] = self.default
        if self.description:
            data["description"] = self.description
        data.update({k: v for k, v in self.extra.items() if not callable(v)})
        return data


def merge_output(context: dict, label: str, *, output: Any = None, error: str | None = None) -> dict:
    """The execution context after a node finished: its output under its label, or, for a
    failure routed onward by an error branch, {"error": message}. Returns a new dict."""
    return {**context, label: {"error": error} if error is not None else output}


def log_entry(type_: str, label: str, message: str, at: datetime | None = None) -> dict:
    """One entry of a node run's log, as every writer of logs stores it."""
    return {"type": type_, "label": label, "message": str(message), "timestamp": (at or timezone.now()).isoformat()}


class StepLogger:
    """Collects a node's log entries; the engine stores them with the step's result."""

    def __init__(self, label: str):
        self.label = label
        self.entries: list[dict] = []

    def log(self, type_: str, message: str) -> None:
        self.entries.append(log_entry(type_, self.label, message))

    def info(self, message: str) -> None:
        self.log("info", message)

    def warning(self, message: str) -> None:
        self.log("warning", message)

    def error(self, message: str) -> None:
        self.log("error", message)


@dataclass
class StepContext:
    """What a step function may know about the run it is part of."""

    execution_id: Any
    node_id: str
    node_run_id: int
    label: str
    attempt: int
    tenant_id: Any
    workflow_id: Any
    run_as_id: int
    context: dict
    logger: StepLogger
    credentials: dict = field(default_factory=dict)
    is_test: bool = False
    # Stable across the attempts of this node run, new after a retry from a node: send it to
    # services that deduplicate (the HTTP Request node sends it as Idempotency-Key).
    idempotency_key: str = ""

    def run_as(self):
        """The user the execution runs as."""
        from django.contrib.auth import get_user_model

        return get_user_model().objects.get(pk=self.run_as_id)


@dataclass
class NodeType:
    type: str
    label: str
    run: Callable[[dict, StepContext], Any]
    fields: list[Field] = field(default_factory=list)
    description: str = ""
    category: str = "Built-in"
    icon: str = "box"
    output_fields: list[dict] = field(default_factory=list)
    # Named branches the node's outgoing edges may carry; None allows any name.
    branches: tuple[str, ...] | None = ()
    # Resolve templates in the config before `run` (For Each resolves per item itself).
    resolve_config: bool = True
    # Called in the timer's transaction when a pause's `until` passes; returns the output
    # (dict or StepResult) or raises NodeError. Default: finish with empty output.
    on_deadline: Callable[[Any], Any] | None = None
    # Called in the cancelling transaction for a paused node run.
    on_cancel: Callable[[Any], object] | None = None
    # Extra config checks: returns a list of (field, message).
    validate: Callable[[dict], list[tuple[str, str]]] | None = None
    is_trigger: bool = False
    # Extra template roots the node provides to its own config (For Each: item, index).
    local_roots: tuple[str, ...] = ()
    # The plugin integration type this node belongs to (its credentials come from one).
    integration: str | None = None
    # For a node that resolves its own config (resolve_config=False): how it does, as
    # `(config, context) -> resolved`, so the viewer shows what the step saw.
    config_resolver: Callable[[dict, dict], Any] | None = None
    # What an operator needs to know about a paused node run of this type (the viewer's
    # panel): `(node_run, user) -> dict | None`, shaped by `pause_serializer` (a DRF
    # serializer class whose `kind` field names it, for the API schema).
    describe_pause: Callable[[Any, Any], dict | None] | None = None
    pause_serializer: Any = None

    def display_config(self, config: Any, context: dict) -> Any:
        """The node's config resolved against `context` as its step sees it (templates of the
        node's own roots, which it resolves per item, stay as written)."""
        if self.config_resolver is not None:
            return self.config_resolver(config, context)
        return templating.resolve(config, context, keep=frozenset(self.local_roots))

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "category": self.category,
            "icon": self.icon,
            "configFields": [f.as_dict() for f in self.fields],
            "outputFields": self.output_fields,
            "branches": list(self.branches) if self.branches is not None else None,
            "integration": self.integration,
        }


class Registry:
    """Node types by type name, loaded once from settings: the NODE_TYPES of each module in
    WORKFLOW_NODE_MODULES, then what each callable in WORKFLOW_NODE_SOURCES returns."""

    def __init__(self) -> None:
        self._types: dict[str, NodeType] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, NodeType]:
        with self._lock:
            if self._types is None:
                types: dict[str, NodeType] = {}
                for module_path in settings.WORKFLOW_NODE_MODULES:
                    module = importlib.import_module(module_path)
                    for node_type in getattr(module, "NODE_TYPES", []):
                        types[node_type.type] = node_type
                sources = [import_string(path) for path in getattr(settings, "WORKFLOW_NODE_SOURCES", [])]
                for extra in [*sources, *_extra_sources]:
                    for node_type in extra():
                        types[node_type.type] = node_type
                self._types = types
        return self._types

    def get(self, type_name: str) -> NodeType | None:
        return self._load().get(type_name)

    def all(self) -> list[NodeType]:
        return list(self._load().values())

    def reset(self) -> None:
        with self._lock:
            self._types = None


# Callables returning more node types, besides settings.WORKFLOW_NODE_SOURCES (dotted paths
# of such callables: the plugin loader and the data-source nodes are listed there).
_extra_sources: list[Callable[[], list[NodeType]]] = []

registry = Registry()
