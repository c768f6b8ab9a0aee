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

    problems: list[checks.CheckMessage] = []
    for index, key in enumerate(getattr(settings, "WORKFLOW_INTEGRATION_KEYS", []) or []):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                checks.Error(
                    f"WORKFLOW_INTEGRATION_KEYS[{index}] is not a Fernet key (32 url-safe base64-encoded bytes)",
                    hint='make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
                    id="workflows.E011",
                )
            )
    return problems


@checks.register()
def check_channel_layer_timeouts(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A Redis channel layer's socket timeout outlasts its blocking receive (else idle live
    connections fail every few seconds)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    problems: list[checks.CheckMessage] = []
    for alias, layer in getattr(settings, "CHANNEL_LAYERS", {}).items():
        try:
            blocking = getattr(import_string(layer["BACKEND"]), "brpop_timeout", None)
        except ImportError as exc:
            problems.append(checks.Error(f"CHANNEL_LAYERS[{alias!r}]: {exc}", id="workflows.E012"))
            continue
        if blocking is None:
            continue
        for host in layer.get("CONFIG", {}).get("hosts", []):
            timeout = redis_socket_timeout(host)
            if timeout is not None and timeout <= blocking:
                problems.append(
                    checks.Error(
                        f"CHANNEL_LAYERS[{alias!r}]: Redis socket timeout {timeout:g}s does not exceed the "
                        f"layer's blocking receive ({blocking}s): idle live connections would fail",
                        hint="set REDIS_SOCKET_TIMEOUT (default 20) and drop socket_timeout from REDIS_URL",
                        id="workflows.E012",
                    )
                )
    return problems


# Besides its step threads a worker holds connections for its claim loop, duties and
# notifications listener (see workflows/worker.py).
WORKER_OTHER_CONNECTIONS = 3


def pool_shortfall(concurrency: int) -> str | None:
    """Why a process with `concurrency` step threads would wait for database connections
    (its threads keep theirs for their life), or None if the pool holds them all."""
    from django.conf import settings

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if not isinstance(pool, dict) or "max_size" not in pool:
        return None
    needed = concurrency + WORKER_OTHER_CONNECTIONS + 1  # and one for a web request
    if pool["max_size"] >= needed:
        return None
    return (
        f"the database pool holds {pool['max_size']} connections but a worker with concurrency "
        f"{concurrency} needs {needed}: its step threads would stall waiting for one"
    )


@checks.register()
def check_pool_size(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from django.conf import settings

    problem = pool_shortfall(settings.WORKFLOW_WORKER_CONCURRENCY)
    if problem is None:
        return []
    return [
        checks.Warning(
            problem, hint="raise DATABASE_POOL_MAX_SIZE or lower WORKFLOW_WORKER_CONCURRENCY", id="workflows.W013"
        )
    ]


def redis_socket_timeout(host) -> float | None:
    """The read timeout redis-py will use for a channels-redis host entry (None: no timeout)."""
    import inspect
    from urllib.parse import parse_qs, urlsplit

    from redis.asyncio.connection import AbstractConnection

    timeout = inspect.signature(AbstractConnection.__init__).parameters["socket_timeout"].default
    if isinstance(host, dict):
        timeout = host.get("socket_timeout", timeout)
        host = host.get("address", "")
    if isinstance(host, str):
        query = parse_qs(urlsplit(host).query)
        if query.get("socket_timeout"):
            timeout = float(query["socket_timeout"][0])
    return None if timeout is None else float(timeout)


@checks.register()
def check_http_allowed_networks(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every entry of WORKFLOW_HTTP_ALLOWED_NETWORKS is a network (CIDR) or an address."""
    import ipaddress

    from django.conf import settings

    problems: list[checks.CheckMessage] = []
    for entry in getattr(settings, "WORKFLOW_HTTP_ALLOWED_NETWORKS", []) or []:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(
                checks.Error(
                    f"WORKFLOW_HTTP_ALLOWED_NETWORKS: {entry!r} is not a network (e.g. 10.20.0.0/16) or an address",
                    id="workflows.E014",
                )
            )
    return problems
