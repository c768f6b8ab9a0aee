"""GET /healthz and /readyz: unauthenticated, ahead of the host check, 503 naming what
failed when the database, the migrations or the channel layer are not there."""

import json
import socket
import urllib.error
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.test import AsyncClient, Client, override_settings

from workflows import health, store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_migration_check():
    health.forget_migrations()
    yield
    health.forget_migrations()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed when the socket is: nothing listens there


@pytest.fixture
def unreachable_database(monkeypatch):
    """The probes' connection points at a closed port (PostgreSQL) or an impossible file (SQLite)."""
    wrapper = connections.create_connection("default")
    settings_dict = dict(wrapper.settings_dict)
    if wrapper.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-directory/db.sqlite3"
    else:
        options = {k: v for k, v in settings_dict.get("OPTIONS", {}).items() if k != "pool"}
        settings_dict.update(HOST="127.0.0.1", PORT=closed_port(), OPTIONS={**options, "connect_timeout": 2})
    wrapper.settings_dict = settings_dict
    monkeypatch.setattr(store, "connection", wrapper)
    monkeypatch.setattr(health, "connection", wrapper)
    yield wrapper
    wrapper.close()


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "workflows.layers.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 1}]},
    }
}


def test_healthz_answers_without_login_database_or_an_allowed_host(django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = Client().get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert answer.status_code == 200
    assert answer.json() == {"status": "alive"}
    assert answer["Cache-Control"] == "no-store"


def test_readyz_names_every_check_when_ready():
    answer = Client().get("/readyz", HTTP_HOST="10.1.2.3:8000")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "migrations": True,
        "channelLayer": True,
    }
    assert Client().get("/readyz/").status_code == 200


def test_readyz_answers_503_when_the_database_is_unreachable(unreachable_database):
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["code"] == "not_ready" and body["failed"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert body["message"].startswith("Not ready: database: ")
    assert body["checks"]["channelLayer"]["ok"] is True


def test_readyz_answers_503_when_a_migration_is_not_applied():
    latest = MigrationRecorder.Migration.objects.filter(app="workflows").order_by("-name").first()
    latest.delete()
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failed"] == ["migrations"]
    assert f"1 not applied: workflows.{latest.name}" in body["checks"]["migrations"]["message"]


@override_settings(CHANNEL_LAYERS=UNREACHABLE_REDIS, WORKFLOW_HEALTH_TIMEOUT_SECONDS=2)
def test_readyz_answers_503_when_the_channel_layer_is_unreachable():
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failed"] == ["channelLayer"]
    assert body["checks"]["database"]["ok"] is True


@override_settings(CHANNEL_LAYERS=UNREACHABLE_REDIS, WORKFLOW_HEALTH_TIMEOUT_SECONDS=2)
def test_readyz_under_asgi_asks_the_layer_on_the_servers_loop():
    answer = async_to_sync(AsyncClient().get)("/readyz")
    assert answer.status_code == 503
    assert json.loads(answer.content)["failed"] == ["channelLayer"]


def test_readyz_under_asgi_is_ready():
    answer = async_to_sync(AsyncClient().get)("/readyz")
    assert answer.status_code == 200, answer.content


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_a_workers_probe_port_says_when_its_timer_loop_is_stuck():
    alive = {"value": True}
    server = health.serve_probes(host="127.0.0.1", port=0, alive=lambda: alive["value"])
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert get(f"{url}/healthz") == (200, {"status": "alive"})
        alive["value"] = False
        status, body = get(f"{url}/healthz")
        assert status == 503 and body["code"] == "not_alive"
        status, body = get(f"{url}/readyz")
        assert status == 200 and body["status"] == "ready"
    finally:
        server.shutdown()
        server.server_close()
