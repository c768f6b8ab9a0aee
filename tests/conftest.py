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


def chain(*nodes: dict, edges: list[dict] | None = None) -> dict:
    """A definition: a trigger followed by `nodes` in a line (or the given edges)."""
    all_nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}, *nodes]
    if edges is None:
        edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(all_nodes, all_nodes[1:])]
    return {"nodes": all_nodes, "edges": edges}


@pytest.fixture
def make_workflow(tenant, user):
    def make(definition: dict, *, name: str = "Test workflow", on_tenant: Tenant | None = None, **kwargs):
        return services.create_workflow(tenant=on_tenant or tenant, name=name, definition=definition, user=user, **kwargs)

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
