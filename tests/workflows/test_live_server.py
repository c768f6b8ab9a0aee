"""The live-server fixtures: daphne serves the test database and runs its worker."""

import time

import pytest

from tests.conftest import chain
from workflows.models import Execution
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_daphne_serves_pages_and_its_worker_runs_executions(daphne_server, make_workflow, user, logged_in_page):
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"ok": True}}}))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    deadline = time.monotonic() + 15
    while Execution.objects.get(pk=result.execution_id).status != "success":
        assert time.monotonic() < deadline, "the server's embedded worker did not run the execution"
        time.sleep(0.1)
    page = logged_in_page(user)
    page.goto(daphne_server.url + "/")
    assert "What needs you now" in page.text_content("h1")  # the home dashboard
    assert page.text_content(".user").strip().startswith("alice")
    css = page.request.get(daphne_server.url + "/static/css/base.css")
    assert css.status == 200 and "--accent" in css.text()
