"""Shared fixtures: real tenants, users and workflows, an in-process worker, API clients."""

from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from workflows import services
from workflows.models import Execution, Membership, Tenant
from workflows.worker import Worker


def pytest_configure(config):
    # The tests run their own workers; importing config.asgi (the production application,
    # which socket tests go through) must not start the embedded one in this process.
    settings.WORKFLOW_EMBEDDED_WORKER = False


@pytest.fixture(autouse=True)
def no_widget_socket_outlives_its_test():
    """A socket's consumer unwatches its executions and stops its loop's heartbeat when it
    closes. One a test leaves open fails that test, and its state is dropped here so it
    cannot change what the next test on this process sees."""
    yield
    from widgets import fanout
    from widgets.consumers import HEARTBEAT

    left = {"sockets": HEARTBEAT.sockets(), "watched executions": fanout.watched_count()}
    HEARTBEAT.loops.clear()
    fanout._watched.clear()
    assert not any(left.values()), f"widget sockets left open by this test: {left}"


def pytest_collection_modifyitems(config, items):
    if settings.USES_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL set (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def make_tenant(db):
    def make(name: str = "Acme") -> Tenant:
        return Tenant.objects.create(name=name, slug=f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}")

    return make


@pytest.fixture
def make_user(db):
    def make(username: str, *, tenant: Tenant | None = None, email: str | None = None, **extra):
        user = get_user_model().objects.create_user(
            username=username, password="pw-for-tests", email=email or f"{username}@example.com", **extra
        )
        if tenant is not None:
            Membership.objects.create(tenant=tenant, user=user)
        return user

    return make


@pytest.fixture
def tenant(make_tenant) -> Tenant:
    return make_tenant("Acme")


@pytest.fixture
def user(make_user, tenant):
    return make_user("alice", tenant=tenant)


@pytest.fixture
def other_tenant(make_tenant) -> Tenant:
    return make_tenant("Globex")


@pytest.fixture
def other_user(make_user, other_tenant):
    return make_user("mallory", tenant=other_tenant)


def error_fields(response) -> set:
    """The fields an error answer names (its `field` and each of its `errors`)."""
    body = response.json()
    return {e.get("field") for e in body.get("errors", [])} | {body.get("field")} - {None}


def chain(*nodes: dict, edges: list[dict] | None = None) -> dict:
    """A definition: a trigger followed by `nodes` in a line (or the given edges)."""
    all_nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}, *nodes]
    if edges is None:
        edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(all_nodes, all_nodes[1:])]
    return {"nodes": all_nodes, "edges": edges}


@pytest.fixture
def make_workflow(tenant, user):
    def make(definition: dict, *, name: str = "Test workflow", on_tenant: Tenant | None = None, **kwargs):
        return services.create_workflow(
            tenant=on_tenant or tenant, name=name, definition=definition, user=user, **kwargs
        )

    return make


@pytest.fixture
def worker():
    return Worker(concurrency=1, name="test-worker", poll_seconds=0.1)


@pytest.fixture
def run_until():
    """Drive an in-process worker until `predicate()` holds (deadlines, retries, sleeps)."""

    def run(predicate, *, worker: Worker | None = None, timeout: float = 10.0):
        w = worker or Worker(concurrency=1, name="test-worker", poll_seconds=0.1)
        deadline = time.monotonic() + timeout
        while True:
            w.run_until_idle()
            if predicate():
                return
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.05)

    return run


@pytest.fixture
def finished():
    def check(execution_id):
        return lambda: Execution.objects.get(pk=execution_id).is_finished

    return check


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- A real daphne server and a real browser ------------------------------------------------


class LiveServer:
    def __init__(self, url: str, process):
        self.url = url
        self.ws_url = url.replace("http://", "ws://")
        self.process = process


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}/{params['NAME']}"


def start_daphne(extra_env: dict | None = None) -> LiveServer:
    """Start daphne in a subprocess on the test database, with its embedded worker."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "WORKFLOW_EMBEDDED_WORKER": "true",
        "WORKFLOW_POLL_SECONDS": "0.5",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The tests' HTTP servers listen on loopback, which the HTTP Request node refuses by default.
        "WORKFLOW_HTTP_ALLOWED_NETWORKS": "127.0.0.0/8",
        **(extra_env or {}),
    }
    root = Path(__file__).resolve().parent.parent
    log = open(root / f".daphne-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited early: see {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return LiveServer(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("daphne did not start listening in 30s")


def stop_daphne(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except Exception:
        server.process.kill()


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker):
    """A daphne process serving the test database (use with django_db(transaction=True)).
    Module-scoped: its embedded worker would otherwise race the other tests' workers."""
    server = start_daphne()
    yield server
    stop_daphne(server)


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (no browser download). Module-scoped: its
    event loop must not outlive the browser tests' module."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests
    # make between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def logged_in_page(browser, daphne_server):
    """A browser page whose session cookie belongs to the given user (call with the user)."""
    from django.test import Client

    contexts = []

    def open_page(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": daphne_server.url}]
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where browser tests save screenshots (CI keeps them): artifacts/ at the repo root."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path


def documented_properties(api, path: str, method: str, status: str) -> set[str]:
    """The property names the OpenAPI schema documents for one answer of one operation."""
    schema = api.get("/api/schema/?format=json").json()
    body = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    return set(schema["components"]["schemas"][name]["properties"])
