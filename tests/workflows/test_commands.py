"""Management commands and admin pages."""

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import _test_database_url, chain
from workflows.models import Execution, Workflow

pytestmark = pytest.mark.django_db(transaction=True)

DEFINITION = chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": "{{Trigger.x}}"}}})


def call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_trigger_command_prints_the_execution_id(make_workflow, user):
    wf = make_workflow(DEFINITION)
    execution_id = call("trigger_workflow", str(wf.pk), "--user", "alice", "--input", '{"x": 3}')
    assert Execution.objects.get(pk=execution_id).input == {"x": 3}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "{oops"], "not valid JSON"),
        (["--input", "[1]"], "must be a JSON object"),
        (["--user", "ghost"], "Unknown user"),
    ],
)
def test_trigger_command_errors_are_clear(make_workflow, user, args, message):
    wf = make_workflow(DEFINITION)
    base = {"--user": "alice", "--input": "{}"}
    base.update(dict(zip(args[::2], args[1::2])))
    with pytest.raises(CommandError, match=message):
        call("trigger_workflow", str(wf.pk), *[x for kv in base.items() for x in kv])
    assert Execution.objects.count() == 0


def test_trigger_command_unknown_workflow(user):
    with pytest.raises(CommandError, match="Workflow not found"):
        call("trigger_workflow", "00000000-0000-0000-0000-000000000000", "--user", "alice")


def test_export_then_import_round_trip(make_workflow, tenant, tmp_path):
    wf = make_workflow(DEFINITION, name="Round trip")
    path = tmp_path / "wf.json"
    call("export_workflow", str(wf.pk), "-o", str(path))
    document = json.loads(path.read_text())
    assert document["definition"] == DEFINITION and document["name"] == "Round trip"
    new_id, _ = call("import_workflow", str(path), "--tenant", tenant.slug).split()
    imported = Workflow.objects.get(pk=new_id)
    assert imported.definition == DEFINITION and imported.tenant == tenant
    document["definition"]["nodes"][1]["config"]["values"]["y"] = 1
    path.write_text(json.dumps(document))
    assert call("import_workflow", str(path), "--tenant", tenant.slug, "--workflow", new_id).endswith("v2")


def test_import_rejects_invalid_definition_listing_problems(tenant, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "definition": {"nodes": [{"id": "x", "type": "nope"}], "edges": []}}))
    with pytest.raises(CommandError, match="x type: unknown node type"):
        call("import_workflow", str(path), "--tenant", tenant.slug)
    assert Workflow.objects.count() == 0


def test_seed_demo_is_idempotent():
    call("seed_demo")
    call("seed_demo")
    assert Workflow.objects.filter(tenant__slug="demo").count() >= 1
    assert Workflow.objects.filter(tenant__slug="demo", name="Order processing").count() == 1
    orders = Workflow.objects.get(tenant__slug="demo", name="Order processing")
    assert orders.error_workflow.name == "Tell ops about a failure"
    assert [f["name"] for f in orders.latest_version.definition["nodes"][0]["config"]["inputSchema"]] == [
        "orderId",
        "amount",
    ]


def test_runworkflows_until_idle(make_workflow, user):
    wf = make_workflow(DEFINITION)
    execution_id = call("trigger_workflow", str(wf.pk), "--user", "alice")
    assert call("runworkflows", "--until-idle") == "ran 1 step(s)"
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_runworkflows_runs_work_and_stops_cleanly_on_sigterm(make_workflow, user):
    wf = make_workflow(chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1s"}}))
    execution_id = call("trigger_workflow", str(wf.pk), "--user", "alice")
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "WORKFLOW_POLL_SECONDS": "0.5"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runworkflows", "--concurrency", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while Execution.objects.get(pk=execution_id).status != "success":
            assert time.monotonic() < deadline, "the worker process did not finish the sleep"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "stopped" in output


def test_admin_pages_render(client, make_workflow, user, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    wf = make_workflow(DEFINITION)
    execution_id = call("trigger_workflow", str(wf.pk), "--user", "alice")
    for url in [
        "/admin/workflows/workflow/",
        f"/admin/workflows/workflow/{wf.pk}/change/",
        "/admin/workflows/execution/",
        f"/admin/workflows/execution/{execution_id}/change/",
        "/admin/workflows/tenant/",
        "/admin/workflows/workflowversion/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/workflows/workflow/{wf.pk}/change/").content.decode()
    assert "{{Trigger.x}}" in page  # the definition is shown readably


def test_sigterm_gives_back_a_step_that_outlives_the_grace_period(
    make_workflow, user, recording_nodes, settings, tmp_path
):
    from workflows.models import NodeRun

    started = tmp_path / "started"
    wf = make_workflow(
        chain(
            {"id": "slow", "type": "test/record", "label": "Slow", "config": {"sleep": 60, "startedFile": str(started)}}
        )
    )
    execution_id = call("trigger_workflow", str(wf.pk), "--user", "alice")
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "WORKFLOW_SHUTDOWN_GRACE_SECONDS": "0.5",
        "WORKFLOW_NODE_MODULES": ",".join(settings.WORKFLOW_NODE_MODULES),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runworkflows"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = NodeRun.objects.get(execution_id=execution_id, node_id="slow")
    try:
        deadline = time.monotonic() + 20
        while not started.exists():  # claimed and running in a step thread, not just leased
            assert time.monotonic() < deadline, "the worker did not start the step"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)  # far less than the step's 60 s
    assert process.returncode == 0, output
    assert "gave back 1 unfinished step(s)" in output
    run.refresh_from_db()
    assert run.status == "running" and run.lease_owner is None and run.attempt == 0
