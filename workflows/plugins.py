"""Plugins: node types users add by naming a plain object in settings.WORKFLOW_PLUGINS.

A plugin has a server half (step importers: action id -> step function, or a lazy
"module.path:function" imported on first use; action labels) and a catalog half (the
integration a builder UI shows: type, label, icon, credential form fields and actions).
Loading a plugin imports only the module that holds it; no step module is imported until
a node of that action runs.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .fields import field_definition_problems
from .nodes import Field, NodeError, NodeType, StepContext

INTEGRATION_FIELD = "integrationId"


@dataclass(frozen=True)
class StepImporter:
    """Where the step of one action comes from: the function itself, or its "module:function" path."""

    action_id: str
    step: Callable[[dict, StepContext], Any] | None = None
    path: str | None = None


@dataclass(frozen=True)
class ServerPlugin:
    """What the engine needs: step importers and the actions' labels."""

    step_importers: list[StepImporter] = field(default_factory=list)
    action_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormField:
    """One credential field of an integration (an API key is a `password` field)."""

    id: str
    label: str
    type: str = "text"
    placeholder: str = ""
    config_key: str | None = None
    required: bool = True

    @property
    def key(self) -> str:
        return self.config_key or self.id

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "type": self.type,
            "placeholder": self.placeholder,
            "configKey": self.key,
            "required": self.required,
        }


@dataclass(frozen=True)
class Action:
    """One action of an integration; its node type is "<integration type>/<slug>"."""

    slug: str
    label: str
    description: str = ""
    category: str = ""
    config_fields: list[Field] = field(default_factory=list)
    output_fields: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class IntegrationDefinition:
    """The catalog half: what a builder UI shows for an integration."""

    type: str
    label: str
    description: str = ""
    icon: str = "plug"
    form_fields: list[FormField] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    def action_id(self, action: Action) -> str:
        return f"{self.type}/{action.slug}"

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "icon": self.icon,
            "formFields": [f.as_dict() for f in self.form_fields],
            "actions": [
                {
                    "id": self.action_id(a),
                    "slug": a.slug,
                    "label": a.label,
                    "description": a.description,
                    "category": a.category,
                    "configFields": [f.as_dict() for f in a.config_fields],
                    "outputFields": a.output_fields,
                }
                for a in self.actions
            ],
        }


@dataclass(frozen=True)
class Plugin:
    """A plugin as registered in settings.WORKFLOW_PLUGINS (by the dotted path of an instance)."""

    integration: IntegrationDefinition
    server: ServerPlugin


class LazyStep:
    """A step function imported from "module.path:function" on its first call only."""

    def __init__(self, path: str):
        self.path = path
        self._function: Callable | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._function is not None

    def resolve(self) -> Callable:
        if self._function is None:
            with self._lock:
                if self._function is None:
                    self._function = import_string(self.path.replace(":", "."))
        return self._function


# --- Loading ----------------------------------------------------------------------------


def load_plugins(paths: list[str] | None = None) -> list[Plugin]:
    """The plugin objects named in settings.WORKFLOW_PLUGINS (or `paths`)."""
    if paths is None:
        paths = getattr(settings, "WORKFLOW_PLUGINS", [])
    plugins = []
    for path in paths:
        plugin = import_string(path)
        if not isinstance(plugin, Plugin):
            raise TypeError(f"{path} is a {type(plugin).__name__}, not a workflows.plugins.Plugin")
        plugins.append(plugin)
    return plugins


_steps: dict[str, LazyStep] = {}
_steps_lock = threading.Lock()


def _lazy(path: str) -> LazyStep:
    # One LazyStep per path, kept across registry reloads so a step is imported once.
    with _steps_lock:
        return _steps.setdefault(path, LazyStep(path))


def _step_function(importer: StepImporter) -> Callable[[], Callable]:
    step = importer.step
    if step is not None:
        return lambda: step
    assert importer.path, "an importer has a step or a path (checked by plugin_problems)"
    return _lazy(importer.path).resolve


def _json_safe(action_id: str, result: Any) -> Any:
    if result is None:
        return {}
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise NodeError(f"{action_id} returned a value that is not JSON: {exc}", retryable=False) from exc
    return result


def _runner(action_id: str, get_step: Callable[[], Callable]) -> Callable[[dict, StepContext], Any]:
    def run(config: dict, ctx: StepContext) -> Any:
        step_config = {k: v for k, v in config.items() if k != INTEGRATION_FIELD}
        result = get_step()(step_config, ctx)
        if inspect.isawaitable(result):
            return _await_json(action_id, result)
        return _json_safe(action_id, result)

    return run


async def _await_json(action_id: str, awaitable) -> Any:
    return _json_safe(action_id, await awaitable)


def integration_field(integration: IntegrationDefinition) -> Field:
    """The field by which a node picks one of its user's integrations of this type."""
    return Field(
        INTEGRATION_FIELD,
        f"{integration.label} integration",
        "combobox",
        required=True,
        extra={"optionsSource": "integrations", "integrationType": integration.type},
    )


def _validate_integration_ref(config: dict) -> list[tuple[str, str]]:
    ref = config.get(INTEGRATION_FIELD)
    if ref in (None, ""):
        return []  # the required-field check reports it
    if isinstance(ref, bool) or not str(ref).isdigit():
        return [(INTEGRATION_FIELD, "must be the id of one of your integrations (not a template)")]
    return []


def node_types_of(plugin: Plugin) -> list[NodeType]:
    """One node type per action of the plugin that has a step."""
    integration = plugin.integration
    importers = {i.action_id: i for i in plugin.server.step_importers}
    types = []
    for action in integration.actions:
        action_id = integration.action_id(action)
        importer = importers.get(action_id)
        if importer is None:
            continue  # reported by the system checks
        fields = list(action.config_fields)
        if integration.form_fields:
            fields.insert(0, integration_field(integration))
        types.append(
            NodeType(
                type=action_id,
                label=plugin.server.action_labels.get(action_id, action.label),
                run=_runner(action_id, _step_function(importer)),
                fields=fields,
                description=action.description,
                category=action.category or integration.label,
                icon=integration.icon,
                output_fields=action.output_fields,
                integration=integration.type if integration.form_fields else None,
                validate=_validate_integration_ref if integration.form_fields else None,
            )
        )
    return types


def plugin_node_types() -> list[NodeType]:
    """Node types of every configured plugin (listed in settings.WORKFLOW_NODE_SOURCES)."""
    return [node_type for plugin in load_plugins() for node_type in node_types_of(plugin)]


def integration_definitions() -> dict[str, IntegrationDefinition]:
    """The configured plugins' integrations by type."""
    return {plugin.integration.type: plugin.integration for plugin in load_plugins()}


# --- Configuration problems (the system checks report them) -------------------------------


@dataclass(frozen=True)
class Problem:
    id: str
    message: str
    hint: str = ""


def step_path_problem(path: str) -> str | None:
    """Why "module.path:function" would not import, found without running the step module."""
    module_path, sep, name = path.partition(":")
    if not sep or not module_path or not name:
        return f"step path {path!r} must look like 'module.path:function_name'"
    try:
        spec = importlib.util.find_spec(module_path)
    except (ImportError, ValueError) as exc:
        return f"step path {path!r}: {exc}"
    if spec is None:
        return f"step path {path!r}: no module named {module_path!r}"
    if spec.origin and spec.origin.endswith(".py"):
        # Read the source instead of importing it, so start-up stays free of heavy steps.
        try:
            with open(spec.origin, encoding="utf-8") as source:
                tree = ast.parse(source.read(), filename=spec.origin)
        except SyntaxError as exc:
            return f"step path {path!r}: {module_path} has a syntax error on line {exc.lineno}"
        if name not in _top_level_names(tree):
            return f"step path {path!r}: {module_path} defines no {name!r}"
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def plugin_problems(plugins: list[Plugin]) -> list[Problem]:
    """Every misconfiguration of the given plugins."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for plugin in plugins:
        integration = plugin.integration
        importers = {i.action_id: i for i in plugin.server.step_importers}
        action_ids = set()
        for action in integration.actions:
            action_id = integration.action_id(action)
            action_ids.add(action_id)
            if action_id in seen:
                problems.append(
                    Problem("workflows.E004", f"duplicate action id {action_id!r} (also in {seen[action_id]})")
                )
            seen[action_id] = integration.label
            if action.category != integration.label:
                problems.append(
                    Problem(
                        "workflows.E001",
                        f"action {action_id!r} has category {action.category!r}, not its integration's label {integration.label!r}",
                        hint=f"set category={integration.label!r}",
                    )
                )
            importer = importers.get(action_id)
            if importer is None or (importer.step is None and not importer.path):
                problems.append(
                    Problem("workflows.E002", f"action {action_id!r} has no step", hint="add a StepImporter for it")
                )
            elif importer.step is None:
                message = step_path_problem(importer.path or "")
                if message:
                    problems.append(Problem("workflows.E003", f"action {action_id!r}: {message}"))
            elif not callable(importer.step):
                problems.append(Problem("workflows.E003", f"action {action_id!r}: its step is not callable"))
            for config_field in action.config_fields:
                for message in field_definition_problems(config_field):
                    problems.append(Problem("workflows.E005", f"action {action_id!r}: {message}"))
        for action_id in sorted(set(importers) - action_ids):
            problems.append(
                Problem(
                    "workflows.E006", f"step importer {action_id!r} names no action of integration {integration.type!r}"
                )
            )
    return problems
