"""System checks: report a misconfigured plugin, data source or encryption key at start-up, with a clear message."""
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


@checks.register()
def check_integration_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every key in WORKFLOW_INTEGRATION_KEYS is a Fernet key."""
    from cryptography.fernet import Fernet
    from django.conf import settings

    problems = []
    for index, key in enumerate(getattr(settings, "WORKFLOW_INTEGRATION_KEYS", []) or []):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                checks.Error(
                    f"WORKFLOW_INTEGRATION_KEYS[{index}] is not a Fernet key (32 url-safe base64-encoded bytes)",
                    hint="make one with: python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"",
                    id="workflows.E011",
                )
            )
    return problems
