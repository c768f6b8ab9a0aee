"""The OpenAPI schema is the truth: schemathesis sends generated requests (a few per
operation) through the project's WSGI application, authenticated, and every answer must be
no 5xx, with a status code, content type and body the schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.conftest import chain
from workflows.services import trigger_workflow

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """As Django's test client does: a request through the WSGI application must not close
    the connection that holds the test's transaction."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token(db, user, make_workflow):
    """A token of a member whose tenant has a workflow and an execution to find."""
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"n": 1}}}))
    trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"n": 1})
    return Token.objects.create(user=user).key


@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_answers_conform_to_the_schema(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
