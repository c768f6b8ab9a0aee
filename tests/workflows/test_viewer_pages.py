"""The workflow pages and the execution viewer, rendered through the test client."""

import json

import pytest
from django.test import Client

from tests.conftest import chain
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)

SET_A = {"id": "a", "type": "set", "label": "Step A", "config": {"values": {"x": "{{Trigger.n}}"}}}
FAIL = {"id": "f", "type": "http-request", "label": "Broken", "config": {"url": "not-a-url"}}


@pytest.fixture
def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def run(workflow, user, worker, **input):
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input=input)
    worker.run_until_idle()
    return Execution.objects.get(pk=result.execution_id)


def test_pages_need_login(make_workflow):
    wf = make_workflow(chain(SET_A))
    for url in ("/workflows/", f"/workflows/{wf.pk}/", "/workflows/examples/embed/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_list_shows_workflows_health_and_latest_executions(client, make_workflow, user, tenant, worker):
    wf = make_workflow(chain(SET_A), name="Order intake")
    execution = run(wf, user, worker, n=1)
    page = client.get("/workflows/").content.decode()
    assert "Order intake" in page
    assert f'data-execution-id="{execution.pk}"' in page
    assert f'data-health-for="{wf.pk}"' in page
    last_run = page.split(f'data-last-run-for="{wf.pk}">')[1].split("</td>")[0]
    assert f'href="/workflows/executions/{execution.pk}/"' in last_run and "success" in last_run
    assert f'data-events-url="/api/executions/events/?isTest=false&amp;tenant={tenant.pk}"' in page
    assert "✓</span> success" in page  # status by icon and text, not colour alone


def test_list_and_detail_are_tenant_scoped(client, make_workflow, other_tenant, other_user):
    theirs = make_workflow(chain(SET_A), name="Globex secret", on_tenant=other_tenant)
    assert "Globex secret" not in client.get("/workflows/").content.decode()
    assert client.get(f"/workflows/{theirs.pk}/").status_code == 404


def test_detail_draws_the_definition_graph_read_only(client, make_workflow):
    definition = chain(SET_A)
    definition["nodes"][0]["position"] = {"x": 0, "y": 0}
    wf = make_workflow(definition, name="Drawn")
    page = client.get(f"/workflows/{wf.pk}/").content.decode()
    assert page.count('class="wf-node"') == 2  # no status on a definition
    assert 'data-node-id="a"' in page and "Step A" in page
    assert 'class="wf-edge"' in page
    assert "Start test run" in page and "last 15m" in page


def test_viewer_shows_graph_statuses_timeline_and_header(client, make_workflow, user, worker):
    wf = make_workflow(chain(SET_A), name="Viewer flow")
    execution = run(wf, user, worker, n=7)
    response = client.get(f"/workflows/executions/{execution.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="wf-node status-success" data-node-id="a" data-status="success"' in page
    assert "Viewer flow" in page and "v1" in page and "alice" in page
    assert '"n": 7' in page  # the input
    assert 'data-open-node="a"' in page  # the timeline row of Step A
    for status in ("idle", "running", "paused", "success", "error", "skipped", "cancelled"):
        assert f"wf-swatch status-{status}" in page
    snapshot = json.loads(
        page.split(f'id="viewer-data-{execution.pk}" type="application/json">')[1].split("</script>")[0]
    )
    assert snapshot["execution"]["status"] == "success"
    assert {r["nodeId"]: r["output"] for r in snapshot["execution"]["nodeRuns"]}["a"] == {"x": 7}
    # Finished: no Cancel; success: no Retry.
    assert 'data-role="cancel" hidden' in page and 'data-role="retry" hidden' in page


def test_viewer_lays_out_nodes_without_positions_by_depth(client, make_workflow, user, worker):
    b = {"id": "b", "type": "set", "label": "Step B", "config": {}}
    wf = make_workflow(chain(SET_A, b))
    page = client.get(f"/workflows/executions/{run(wf, user, worker).pk}/").content.decode()
    xs = [
        float(page.split(f'data-node-id="{nid}"')[1].split("translate(")[1].split(",")[0])
        for nid in ("trigger", "a", "b")
    ]
    assert xs[0] < xs[1] < xs[2]


def test_viewer_is_404_across_tenants(make_workflow, user, worker, other_user):
    execution = run(make_workflow(chain(SET_A)), user, worker)
    outsider = Client()
    outsider.force_login(other_user)
    assert outsider.get(f"/workflows/executions/{execution.pk}/").status_code == 404
    assert outsider.post(f"/workflows/executions/{execution.pk}/cancel/").status_code == 404


def test_failed_execution_offers_retry_and_shows_the_error(client, make_workflow, user, worker):
    execution = run(make_workflow(chain(FAIL)), user, worker)
    page = client.get(f"/workflows/executions/{execution.pk}/").content.decode()
    assert execution.status == "error"
    assert "url must be an http(s) URL" in page
    assert 'data-role="retry" hidden' not in page and 'data-role="cancel" hidden' in page
    response = client.post(f"/workflows/executions/{execution.pk}/retry/")
    assert response.status_code == 302
    assert Execution.objects.get(pk=execution.pk).status == "running"


def test_cancel_button_cancels_a_running_execution(client, make_workflow, user):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    page = client.get(f"/workflows/executions/{result.execution_id}/").content.decode()
    assert 'data-role="cancel" hidden' not in page and ">Cancel…</button>" in page
    refused = client.post(f"/workflows/executions/{result.execution_id}/cancel/")  # no reason given
    assert refused.status_code == 302 and Execution.objects.get(pk=result.execution_id).status == "running"
    response = client.post(f"/workflows/executions/{result.execution_id}/cancel/", {"reason": "customer called"})
    assert response.status_code == 302 and response["Location"] == f"/workflows/executions/{result.execution_id}/"
    assert Execution.objects.get(pk=result.execution_id).status == "cancelled"


def test_viewer_forms_return_to_the_embedding_page_but_never_off_site(client, make_workflow, user):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    first = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={}).execution_id
    second = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={}).execution_id
    back = client.post(
        f"/workflows/executions/{first}/cancel/", {"next": "/workflows/examples/embed/?execution=x", "reason": "r"}
    )
    assert back["Location"] == "/workflows/examples/embed/?execution=x"
    off_site = client.post(f"/workflows/executions/{second}/cancel/", {"next": "https://evil.example/", "reason": "r"})
    assert off_site["Location"] == f"/workflows/executions/{second}/"


def test_paused_nodes_link_their_approval_and_show_their_event(client, make_workflow, user):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Wait here", "config": {"duration": "1h"}}))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    # Approvals and events store what they wait for in pause_data; the viewer reads it generically.
    NodeRun.objects.filter(execution_id=result.execution_id, node_id="s").update(
        status="paused",
        started_at="2026-01-01T00:00:00Z",
        pause_data={"approvalRequestId": "42", "eventNamespace": "orders", "eventKey": "o-1"},
    )
    page = client.get(f"/workflows/executions/{result.execution_id}/").content.decode()
    assert '<a href="/workflows/approvals/42">Approval request</a>' in page
    assert '"approvalUrl": "/workflows/approvals/42"' in page
    NodeRun.objects.filter(execution_id=result.execution_id, node_id="s").update(
        pause_data={"eventNamespace": "orders", "eventKey": "o-1"},
    )
    page = client.get(f"/workflows/executions/{result.execution_id}/").content.decode()
    assert "event orders / o-1" in page


def test_embed_example_triggers_and_shows_inline_and_dialog_viewers(client, make_workflow):
    wf = make_workflow(chain(SET_A), name="Embeddable")
    response = client.post("/workflows/examples/embed/", {"workflow": str(wf.pk), "input": '{"n": 3}'})
    assert response.status_code == 302
    execution = Execution.objects.get(workflow=wf)
    assert execution.input == {"n": 3} and not execution.is_test
    page = client.get(response["Location"]).content.decode()
    assert f'id="viewer-{execution.pk}"' in page and f'id="viewer-dialog-{execution.pk}"' in page
    assert f'<dialog class="wf-dialog" id="viewer-dialog-{execution.pk}"' in page
    assert f'data-open-viewer="viewer-dialog-{execution.pk}"' in page
    assert "workflows/viewer.js" in page


def test_embed_example_reports_bad_input(client, make_workflow):
    wf = make_workflow(chain(SET_A))
    response = client.post("/workflows/examples/embed/", {"workflow": str(wf.pk), "input": "[1"})
    assert response.status_code == 400 and "not valid JSON" in response.content.decode()
    assert not Execution.objects.filter(workflow=wf).exists()
