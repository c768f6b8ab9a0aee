"""System checks: report a misconfigured plugin or data source at start-up, with a clear message."""
from __future__ import annotations

from django.core import checks


@checks.register()
def check_plugins(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Category vs label, actions without steps, step paths that do not import, duplicate ids."""
    from .plugins import load_plugins, plugin_problems

    try:
        plugins = load_plugins()
    except (ImportError, TypeError) as exc:
        return [checks.Error(f"WORKFLOW_PLUGINS: {exc}", id="workflows.E000")]
    return [checks.Error(p.message, hint=p.hint or None, id=p.id) for p in plugin_problems(plugins)]


@checks.register()
def check_datasources(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every exposed model and field in WORKFLOW_DATASOURCES exists."""
    from .datasources import datasource_problems

    return [checks.Error(message, id="workflows.E010") for message in datasource_problems()]
