"""The engine end to end with a real in-process worker: branches, joins, retries, sleep,
cancellation, lease expiry, sub-workflows and idempotency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import chain
from workflows import engine
from workflows.models import Execution, NodeRun
from workflows.services import retry_execution, trigger_workflow, update_workflow
from workflows.worker import Worker, claim

pytestmark = pytest.mark.django_db(transaction=True)

NO_RETRY = {"maxAttempts": 1}
FAST_RETRY = {"maxAttempts": 3, "initialInterval": 0.05, "backoffFactor": 2, "jitter": 0.1}


def start(workflow, user, input=None, **kwargs):
    return trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input=input or {}, **kwargs).execution_id


def runs(execution_id) -> dict[str, NodeRun]:
    return {r.node_id: r for r in NodeRun.objects.filter(execution_id=execution_id)}


def set_node(node_id, label=None, **values):
    return {"id": node_id, "type": "set", "label": label or node_id.upper(), "config": {"values": values}}


def branching():
    return chain(
        {
            "id": "c",
            "type": "condition",
            "label": "Big",
            "config": {"left": "{{Trigger.amount}}", "operator": "gt", "right": 100},
        },
        set_node("yes", "Yes", lane="slow"),
        set_node("no", "No", lane="fast"),
        set_node("join", "Join", yes="{{Yes.lane}}", no="{{No.lane}}"),
        edges=[
            {"source": "trigger", "target": "c"},
            {"source": "c", "target": "yes", "branch": "true"},
            {"source": "c", "target": "no", "branch": "false"},
            {"source": "yes", "target": "join"},
            {"source": "no", "target": "join"},
        ],
    )


def test_chain_passes_outputs_through_context(make_workflow, user, worker):
    wf = make_workflow(
        chain(
            set_node("a", "First", n="{{Trigger.n}}"),
            set_node("b", "Second", total="{{First.n}}", text="n={{First.n}}"),
        )
    )
    execution_id = start(wf, user, {"n": 7})
    assert Execution.objects.get(pk=execution_id).status == "running"
    worker.run_until_idle()
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success"
    assert execution.context == {"Trigger": {"n": 7}, "First": {"n": 7}, "Second": {"total": 7, "text": "n=7"}}
    assert execution.finished_at is not None
    assert {r.status for r in runs(execution_id).values()} == {"success"}
    assert execution.revision >= 2  # every context write moved the revision on


@pytest.mark.parametrize("amount, taken, skipped", [(500, "yes", "no"), (5, "no", "yes")])
def test_condition_takes_one_branch_skips_the_other_and_join_runs(make_workflow, user, worker, amount, taken, skipped):
    wf = make_workflow(branching())
    execution_id = start(wf, user, {"amount": amount})
    worker.run_until_idle()
    by_id = runs(execution_id)
    assert by_id["c"].output == {"result": amount > 100} and by_id["c"].branch == str(amount > 100).lower()
    assert by_id[taken].status == "success" and by_id[skipped].status == "skipped"
    assert by_id["join"].status == "success"
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success"
    lane = "slow" if taken == "yes" else "fast"
    assert execution.context["Join"] == {"yes": lane if taken == "yes" else None, "no": lane if taken == "no" else None}


def test_parallel_branches_join_once_with_both_outputs(make_workflow, user, worker):
    wf = make_workflow(
        chain(
            set_node("a", "A", v=1),
            set_node("b", "B", v=2),
            set_node("j", "J", sum="{{A.v}}+{{B.v}}"),
            edges=[
                {"source": "trigger", "target": "a"},
                {"source": "trigger", "target": "b"},
                {"source": "a", "target": "j"},
                {"source": "b", "target": "j"},
            ],
        )
    )
    execution_id = start(wf, user)
    ready = NodeRun.objects.filter(execution_id=execution_id, status="running").count()
    assert ready == 2  # both branches are ready at once, for any worker to claim
    worker.run_until_idle()
    assert runs(execution_id)["j"].output == {"sum": "1+2"}
    assert runs(execution_id)["j"].attempt == 1


def test_switch_routes_by_named_case(make_workflow, user, worker):
    wf = make_workflow(
        chain(
            {
                "id": "s",
                "type": "switch",
                "label": "S",
                "config": {
                    "value": "{{Trigger.tier}}",
                    "cases": [{"branch": "gold", "equals": "gold"}, {"branch": "silver", "equals": "silver"}],
                },
            },
            set_node("g", "G"),
            set_node("x", "X"),
            set_node("d", "D"),
            edges=[
                {"source": "trigger", "target": "s"},
                {"source": "s", "target": "g", "branch": "gold"},
                {"source": "s", "target": "x", "branch": "silver"},
                {"source": "s", "target": "d", "branch": "default"},
            ],
        )
    )
    execution_id = start(wf, user, {"tier": "silver"})
    worker.run_until_idle()
    statuses = {k: r.status for k, r in runs(execution_id).items()}
    assert statuses == {"trigger": "success", "s": "success", "g": "skipped", "x": "success", "d": "skipped"}


def http_node(url, retry=None, **config):
    node = {"id": "h", "type": "http-request", "label": "Call", "config": {"method": "POST", "url": url, **config}}
    if retry:
        node["retry"] = retry
    return node


def test_http_request_sends_templated_body_and_parses_json(make_workflow, user, worker, http_server):
    http_server.script = [(200, {"id": "msg-1"})]
    wf = make_workflow(
        chain(
            http_node(
                http_server.url + "/send",
                NO_RETRY,
                body={"order": "{{Trigger.orderId}}"},
                headers={"X-Trace": "t-{{Trigger.orderId}}"},
            )
        )
    )
    execution_id = start(wf, user, {"orderId": 12})
    worker.run_until_idle()
    output = runs(execution_id)["h"].output
    assert output["status"] == 200 and output["body"] == {"id": "msg-1"}
    assert http_server.requests[0]["body"] == '{"order": 12}'
    assert http_server.requests[0]["headers"]["X-Trace"] == "t-12"


def test_failed_step_is_retried_with_backoff_then_succeeds(make_workflow, user, run_until, finished, http_server):
    http_server.script = [(503, {}), (500, {}), (200, {"fine": True})]
    wf = make_workflow(chain(http_node(http_server.url, FAST_RETRY)))
    execution_id = start(wf, user)
    run_until(finished(execution_id))
    run = runs(execution_id)["h"]
    assert run.status == "success" and run.attempt == 3
    assert len(http_server.requests) == 3
    warnings = [entry["message"] for entry in run.logs if entry["type"] == "warning"]
    assert len(warnings) == 2 and "retrying in" in warnings[0]


def test_retries_spent_fail_node_and_execution(make_workflow, user, run_until, finished, http_server):
    http_server.script = [(500, {"why": "down"})]
    wf = make_workflow(chain(http_node(http_server.url, FAST_RETRY), set_node("after", "After")))
    execution_id = start(wf, user)
    run_until(finished(execution_id))
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "error"
    assert execution.error["nodeId"] == "h" and "answered 500" in execution.error["message"]
    by_id = runs(execution_id)
    assert by_id["h"].status == "error" and by_id["h"].attempt == 3
    assert by_id["after"].status == "idle"


def test_client_errors_are_not_retried(make_workflow, user, run_until, finished, http_server):
    http_server.script = [(404, {})]
    wf = make_workflow(chain(http_node(http_server.url, FAST_RETRY)))
    execution_id = start(wf, user)
    run_until(finished(execution_id))
    assert runs(execution_id)["h"].attempt == 1 and len(http_server.requests) == 1


def test_error_branch_routes_failure_onward(make_workflow, user, worker, http_server):
    http_server.script = [(500, {})]
    wf = make_workflow(
        chain(
            http_node(http_server.url, NO_RETRY),
            set_node("ok", "Ok"),
            set_node("fallback", "Fallback", reason="{{Call.error}}"),
            edges=[
                {"source": "trigger", "target": "h"},
                {"source": "h", "target": "ok"},
                {"source": "h", "target": "fallback", "branch": "error"},
            ],
        )
    )
    execution_id = start(wf, user)
    worker.run_until_idle()
    by_id = runs(execution_id)
    assert by_id["h"].status == "error" and by_id["ok"].status == "skipped"
    assert "answered 500" in by_id["fallback"].output["reason"]
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_sleep_pauses_without_holding_a_worker_then_resumes(make_workflow, user, worker, run_until, finished):
    wf = make_workflow(
        chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1s"}}, set_node("after", "After"))
    )
    execution_id = start(wf, user)
    worker.run_until_idle()  # returns: nothing is ready while the node sleeps
    execution = Execution.objects.get(pk=execution_id)
    nap = runs(execution_id)["z"]
    assert execution.status == "paused" and nap.status == "paused"
    assert nap.wake_at - timezone.now() <= timedelta(seconds=1)
    run_until(finished(execution_id))
    nap.refresh_from_db()
    assert nap.status == "success" and nap.output["sleptUntil"]
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_sleep_until_a_past_timestamp_finishes_at_once(make_workflow, user, worker):
    wf = make_workflow(chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"until": "{{Trigger.at}}"}}))
    execution_id = start(wf, user, {"at": "2020-01-01T00:00:00Z"})
    worker.run_until_idle()
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_sleep_until_a_timestamp_without_a_zone_reads_it_as_utc(make_workflow, user, worker):
    wf = make_workflow(chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"until": "{{Trigger.at}}"}}))
    execution_id = start(wf, user, {"at": "2020-01-01T00:00:00"})
    worker.run_until_idle()
    nap = NodeRun.objects.get(execution_id=execution_id, node_id="z")
    assert nap.status == "success", nap.error  # it failed: django.utils.timezone.utc is gone
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_cancel_stops_paused_and_pending_nodes(make_workflow, user, worker):
    wf = make_workflow(
        chain(
            {"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}},
            set_node("p", "Pending"),
            edges=[{"source": "trigger", "target": "z"}, {"source": "trigger", "target": "p"}],
        )
    )
    execution_id = start(wf, user)
    engine.cancel_execution(execution_id, reason="operator")
    by_id = runs(execution_id)
    assert by_id["z"].status == "cancelled" and by_id["p"].status == "cancelled"
    assert Execution.objects.get(pk=execution_id).status == "cancelled"
    assert worker.run_until_idle() == 0


def test_lease_expiry_after_a_crash_lets_another_worker_finish(make_workflow, user, worker):
    wf = make_workflow(chain(set_node("a", "A", v=1)))
    execution_id = start(wf, user)
    [crashed] = claim("crashed-worker", 1)  # it claims, then dies before finishing
    assert worker.run_until_idle() == 0  # the lease is still live: nobody else runs it
    NodeRun.objects.filter(pk=crashed.run_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert worker.run_until_idle() == 1
    run = runs(execution_id)["a"]
    assert run.status == "success" and run.attempt == 2
    # The crashed worker coming back late cannot overwrite the result.
    from workflows.nodes import StepResult

    assert engine.finish_claimed(crashed, StepResult(output={"late": True})) is None
    run.refresh_from_db()
    assert run.output == {"v": 1}


def test_lost_worker_on_the_last_attempt_fails_the_node(make_workflow, user, worker):
    node = set_node("a", "A")
    node["retry"] = NO_RETRY
    wf = make_workflow(chain(node))
    execution_id = start(wf, user)
    [crashed] = claim("crashed-worker", 1)
    NodeRun.objects.filter(pk=crashed.run_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    worker.run_until_idle()
    run = runs(execution_id)["a"]
    assert run.status == "error" and "Worker lost" in run.error["message"]


def test_released_lease_does_not_count_as_an_attempt(make_workflow, user, worker):
    from workflows.worker import release_leases

    wf = make_workflow(chain(set_node("a", "A")))
    execution_id = start(wf, user)
    [held] = claim("stopping-worker", 1)
    release_leases("stopping-worker", [held.run_id])
    worker.run_until_idle()
    assert runs(execution_id)["a"].attempt == 1


def test_trigger_workflow_node_waits_for_child_and_takes_its_context(make_workflow, user, worker):
    child = make_workflow(chain(set_node("c", "Child Step", doubled="{{Trigger.n}}{{Trigger.n}}")), name="child")
    parent = make_workflow(
        chain(
            {
                "id": "t",
                "type": "trigger-workflow",
                "label": "Run Child",
                "config": {"workflowId": str(child.pk), "input": {"n": "{{Trigger.n}}"}},
            },
            set_node("after", "After", got="{{Run Child.Child Step.doubled}}"),
        ),
        name="parent",
    )
    execution_id = start(parent, user, {"n": 4})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success"
    assert execution.context["After"] == {"got": "44"}
    child_execution = Execution.objects.get(parent_execution_id=execution_id)
    assert child_execution.status == "success" and child_execution.input == {"n": 4}


def test_trigger_workflow_node_without_waiting_goes_on_and_the_child_still_finishes(make_workflow, user, worker):
    """waitForCompletion: false: the parent finishes while its child sleeps, with the child's
    execution id as the node's output; the child then runs to completion on its own."""
    child = make_workflow(
        chain(
            {"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}},
            set_node("c", "Child Step", got="{{Trigger.n}}"),
        ),
        name="child",
    )
    parent = make_workflow(
        chain(
            {
                "id": "t",
                "type": "trigger-workflow",
                "label": "Run Child",
                "config": {"workflowId": str(child.pk), "input": {"n": "{{Trigger.n}}"}, "waitForCompletion": False},
            },
            set_node("after", "After", child="{{Run Child.executionId}}"),
        ),
        name="parent",
    )
    execution_id = start(parent, user, {"n": 4})
    worker.run_until_idle()

    execution = Execution.objects.get(pk=execution_id)
    child_execution = Execution.objects.get(parent_execution_id=execution_id)
    assert execution.status == "success"
    assert child_execution.status == "paused"  # the parent did not wait for it
    assert runs(execution_id)["t"].output == {"executionId": str(child_execution.pk), "status": "running"}
    assert execution.context["Run Child"]["executionId"] == str(child_execution.pk)
    assert execution.context["After"] == {"child": str(child_execution.pk)}

    # Wake the child's sleep now rather than in an hour.
    NodeRun.objects.filter(execution_id=child_execution.pk, node_id="z").update(
        wake_at=timezone.now() - timedelta(seconds=1)
    )
    worker.run_until_idle()
    child_execution.refresh_from_db()
    assert child_execution.status == "success"
    assert child_execution.context["Child Step"] == {"got": 4}
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_for_each_runs_a_child_per_item_and_collects_in_order(make_workflow, user, worker):
    child = make_workflow(
        chain(set_node("c", "Square", tag="item-{{Trigger.index}}:{{Trigger.item.name}}")), name="child"
    )
    parent = make_workflow(
        chain(
            {
                "id": "f",
                "type": "for-each",
                "label": "Each",
                "config": {
                    "items": "{{Trigger.items}}",
                    "workflowId": str(child.pk),
                    "input": {"tag": "{{item.name}}"},
                },
            },
        ),
        name="parent",
    )
    execution_id = start(parent, user, {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    worker.run_until_idle()
    output = runs(execution_id)["f"].output
    assert output["count"] == 3
    assert [r["Square"]["tag"] for r in output["results"]] == ["item-0:a", "item-1:b", "item-2:c"]
    assert [r["Trigger"]["tag"] for r in output["results"]] == ["a", "b", "c"]


def test_failed_child_fails_the_parent_node(make_workflow, user, run_until, finished, http_server):
    http_server.script = [(500, {})]
    child = make_workflow(chain(http_node(http_server.url, NO_RETRY)), name="child")
    parent = make_workflow(
        chain({"id": "t", "type": "trigger-workflow", "label": "Run", "config": {"workflowId": str(child.pk)}}),
        name="parent",
    )
    execution_id = start(parent, user)
    run_until(finished(execution_id))
    run = runs(execution_id)["t"]
    assert run.status == "error" and "Child execution" in run.error["message"]


def test_cancelling_parent_cancels_waiting_child(make_workflow, user, worker):
    child = make_workflow(
        chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}), name="child"
    )
    parent = make_workflow(
        chain({"id": "t", "type": "trigger-workflow", "label": "Run", "config": {"workflowId": str(child.pk)}}),
        name="parent",
    )
    execution_id = start(parent, user)
    worker.run_until_idle()
    child_execution = Execution.objects.get(parent_execution_id=execution_id)
    assert child_execution.status == "paused"
    engine.cancel_execution(execution_id)
    child_execution.refresh_from_db()
    assert child_execution.status == "cancelled"


def test_retry_from_failed_node_keeps_earlier_outputs(make_workflow, user, run_until, finished, worker, http_server):
    http_server.script = [(500, {}), (200, {"sent": True})]
    wf = make_workflow(
        chain(set_node("a", "A", v=1), http_node(http_server.url, NO_RETRY), set_node("z", "Z", r="{{Call.body.sent}}"))
    )
    execution_id = start(wf, user)
    run_until(finished(execution_id))
    first_a = runs(execution_id)["a"]
    assert Execution.objects.get(pk=execution_id).status == "error"
    retry_execution(Execution.objects.get(pk=execution_id))
    worker.run_until_idle()
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success" and execution.context["Z"] == {"r": True}
    again_a = runs(execution_id)["a"]
    assert again_a.finished_at == first_a.finished_at  # not run again


def test_retry_from_a_chosen_node_on_the_latest_version(make_workflow, user, worker):
    wf = make_workflow(chain(set_node("a", "A", v=1), set_node("b", "B", v="old")))
    execution_id = start(wf, user)
    worker.run_until_idle()
    update_workflow(wf, definition=chain(set_node("a", "A", v=1), set_node("b", "B", v="new")))
    retry_execution(Execution.objects.get(pk=execution_id), from_node="b", version="latest")
    worker.run_until_idle()
    execution = Execution.objects.get(pk=execution_id)
    assert execution.context["B"] == {"v": "new"} and execution.workflow_version.number == 2


def test_write_context_bumps_version(make_workflow, user):
    wf = make_workflow(chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    execution_id = start(wf, user)
    before = Execution.objects.get(pk=execution_id).revision
    engine.write_context(execution_id, "__widgetInput", {"clicked": True})
    execution = Execution.objects.get(pk=execution_id)
    assert execution.context["__widgetInput"] == {"clicked": True} and execution.revision == before + 1


def test_resume_node_run_is_the_one_resumer(make_workflow, user, worker):
    wf = make_workflow(
        chain(
            {"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}},
            set_node("after", "After", got="{{Nap.answer}}"),
        )
    )
    execution_id = start(wf, user)
    worker.run_until_idle()
    nap = runs(execution_id)["z"]
    engine.resume_node_run(nap.pk, output={"answer": 42}, message="woken early")
    worker.run_until_idle()
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success" and execution.context["After"] == {"got": 42}
    from workflows.exceptions import InvalidState

    with pytest.raises(InvalidState):
        engine.resume_node_run(nap.pk, output={})


def test_worker_thread_runs_executions_and_stops_cleanly(make_workflow, user, finished):
    import threading
    import time

    wf = make_workflow(
        chain(
            set_node("a", "A"),
            {"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "300ms"}},
            set_node("b", "B"),
        )
    )
    live_worker = Worker(concurrency=2, name="threaded", poll_seconds=0.2)
    thread = threading.Thread(target=live_worker.run, daemon=True)
    thread.start()
    try:
        execution_id = start(wf, user)
        deadline = time.monotonic() + 10
        while not finished(execution_id)():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        live_worker.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert Execution.objects.get(pk=execution_id).status == "success"


def test_a_step_raising_system_exit_does_not_end_the_worker_thread(
    make_workflow, user, finished, recording_nodes, settings
):
    """Its node run waits for its lease to expire; the worker's only step thread goes on
    with other executions."""
    import threading
    import time

    settings.WORKFLOW_LEASE_SECONDS = 0.5
    bad = make_workflow(chain({"id": "x", "type": "test/record", "label": "X", "config": {"exit": True}}), name="bad")
    good = make_workflow(chain(set_node("a", "A")), name="good")
    live_worker = Worker(concurrency=1, name="survivor", poll_seconds=0.1)
    thread = threading.Thread(target=live_worker.run, daemon=True)
    thread.start()
    try:
        bad_id = start(bad, user)
        deadline = time.monotonic() + 10
        while not runs(bad_id)["x"].attempt:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        good_id = start(good, user)
        while not (finished(good_id)() and finished(bad_id)()):
            assert time.monotonic() < deadline, "the step thread should have gone on"
            time.sleep(0.05)
    finally:
        live_worker.stop()
        thread.join(timeout=10)
    assert Execution.objects.get(pk=good_id).status == "success"
    assert Execution.objects.get(pk=bad_id).status == "success"
    assert runs(bad_id)["x"].attempt == 2, "the lost attempt expired and ran again"


def test_late_completion_through_the_fast_path_is_dropped(make_workflow, user, worker):
    from workflows.nodes import StepResult

    wf = make_workflow(chain(set_node("a", "A", v=1), set_node("b", "B", v=2)))
    execution_id = start(wf, user)
    [crashed] = claim("crashed-worker", 1)
    NodeRun.objects.filter(pk=crashed.run_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    worker.run_until_idle()
    assert engine.finish_claimed(crashed, StepResult(output={"late": True}), handoff=True) is None
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success" and execution.context["A"] == {"v": 1}
    assert runs(execution_id)["b"].attempt == 1  # the late finish did not ready B a second time


def test_context_written_meanwhile_is_kept_when_the_step_finishes(make_workflow, user, worker):
    from workflows.worker import execute

    wf = make_workflow(chain(set_node("a", "A", v=1), set_node("b", "B", seen="{{__widgetInput.x}}")))
    execution_id = start(wf, user)
    [held] = claim("slow-worker", 1)
    engine.write_context(execution_id, "__widgetInput", {"x": "typed"})  # the claim's snapshot is now stale
    execute(held)
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success"
    assert execution.context["__widgetInput"] == {"x": "typed"} and execution.context["B"] == {"seen": "typed"}


def test_retried_sub_workflow_node_counts_only_its_new_children(
    make_workflow, user, run_until, finished, worker, http_server
):
    http_server.script = [(500, {}), (200, {"ok": True})]
    child = make_workflow(chain(http_node(http_server.url, NO_RETRY)), name="child")
    parent = make_workflow(
        chain({"id": "t", "type": "trigger-workflow", "label": "Run", "config": {"workflowId": str(child.pk)}}),
        name="parent",
    )
    execution_id = start(parent, user)
    run_until(finished(execution_id))
    assert Execution.objects.get(pk=execution_id).status == "error"
    retry_execution(Execution.objects.get(pk=execution_id))
    run_until(finished(execution_id))
    assert Execution.objects.get(pk=execution_id).status == "success"
    assert Execution.objects.filter(parent_execution_id=execution_id).count() == 2


def test_a_bad_workflow_id_fails_the_node_at_once(make_workflow, user, worker):
    wf = make_workflow(
        chain({"id": "t", "type": "trigger-workflow", "label": "Run", "config": {"workflowId": "not-a-uuid"}})
    )
    execution_id = start(wf, user)
    worker.run_until_idle()
    run = runs(execution_id)["t"]
    assert run.status == "error" and run.attempt == 1 and "Workflow not found" in run.error["message"]


def test_a_steps_idempotency_key_is_stable_across_attempts_and_new_after_a_retry(
    make_workflow, user, recording_nodes, run_until, finished, settings
):
    settings.WORKFLOW_DEFAULT_RETRY = {**settings.WORKFLOW_DEFAULT_RETRY, "initialInterval": 0.01, "jitter": 0}
    wf = make_workflow(chain({"id": "r", "type": "test/record", "label": "R", "config": {"failFirst": True}}))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name=user.username).execution_id
    run_until(finished(execution_id))
    (first_run, a1, key1), (_, a2, key2) = recording_nodes.KEYS
    assert (a1, a2) == (1, 2) and key1 == key2 == f"{execution_id}:r:0"
    engine.retry_execution(execution_id, from_node="r")
    run_until(finished(execution_id))
    keys = {key for _, _, key in recording_nodes.KEYS}
    assert keys == {f"{execution_id}:r:0", f"{execution_id}:r:1"}


@pytest.mark.parametrize("bad", ["nul", "surrogate"])
def test_an_output_that_cannot_be_stored_fails_the_node_at_once(
    make_workflow, user, recording_nodes, run_until, finished, bad
):
    wf = make_workflow(chain({"id": "r", "type": "test/record", "label": "R", "config": {"badOutput": bad}}))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name=user.username).execution_id
    run_until(finished(execution_id))
    run = NodeRun.objects.get(execution_id=execution_id, node_id="r")
    assert run.status == "error" and run.attempt == 1 and len(recording_nodes.RECORDED) == 1
    assert run.error["message"].startswith("The step's output cannot be stored: $.text contains a")
    assert "\ufffd" in run.logs[-2]["message"]  # the step's own log line, cleaned
    assert Execution.objects.get(pk=execution_id).status == "error"


def test_an_output_over_the_size_limit_fails_the_node(make_workflow, user, run_until, finished, settings):
    settings.WORKFLOW_MAX_OUTPUT_BYTES = 100
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"blob": "x" * 200}}}))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name=user.username).execution_id
    run_until(finished(execution_id))
    run = NodeRun.objects.get(execution_id=execution_id, node_id="a")
    assert run.status == "error" and "the limit is 100 (WORKFLOW_MAX_OUTPUT_BYTES)" in run.error["message"]
