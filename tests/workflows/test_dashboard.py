"""The home page's dashboard: one tenant's counts, failures, ready work, workers and the
user's pending approvals, each from an aggregate query."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.models import ApprovalRequest
from tests.approvals.conftest import approval_definition
from tests.conftest import chain
from workflows import dashboard
from workflows.models import Execution, Membership, NodeRun, WorkerProcess
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)

SET = chain({"id": "a", "type": "set", "label": "Step", "config": {"values": {"ok": True}}})
FAILING = chain(
    {
        "id": "call",
        "type": "http-request",
        "label": "Charge card",
        "retry": {"maxAttempts": 1},
        "config": {"url": "http://127.0.0.1:9/closed", "timeout": 2},
    }
)


def start(workflow, user, **kwargs):
    return trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={}, **kwargs).execution_id


def force(execution_id, status, *, finished_ago=None, is_test=False):
    """Put an execution in a state directly (the counts read the table, whatever made it so)."""
    finished = timezone.now() - finished_ago if finished_ago is not None else None
    Execution.objects.filter(pk=execution_id).update(status=status, finished_at=finished, is_test=is_test)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_workflow(make_workflow, other_tenant, other_user):
    return make_workflow(SET, name="Globex intake", on_tenant=other_tenant)


def test_execution_counts_are_the_tenants_production_runs(make_workflow, user, tenant, other_workflow, other_user):
    workflow = make_workflow(SET)
    ids = [start(workflow, user) for _ in range(7)]
    force(ids[0], "running")
    force(ids[1], "paused")
    force(ids[2], "paused")
    force(ids[3], "error", finished_ago=timedelta(hours=1))
    force(ids[4], "error", finished_ago=timedelta(hours=30))  # failed before the last day
    force(ids[5], "success", finished_ago=timedelta(minutes=5))
    force(ids[6], "error", finished_ago=timedelta(minutes=1), is_test=True)  # test runs are not counted
    for _ in range(3):  # another tenant's
        force(start(other_workflow, other_user), "error", finished_ago=timedelta(minutes=2))

    counts = dashboard.execution_counts(tenant.pk, now=timezone.now())

    assert counts == dashboard.ExecutionCounts(running=1, paused=2, failed=1, succeeded=1)


def test_latest_failures_link_the_failed_node_and_its_error(
    make_workflow, user, tenant, worker, other_workflow, other_user
):
    workflow = make_workflow(FAILING, name="Payments")
    failed = start(workflow, user)
    worker.run_until_idle()
    force(start(other_workflow, other_user), "error", finished_ago=timedelta(minutes=1))

    failures = dashboard.latest_failures(tenant.pk)

    assert [f.pk for f in failures] == [failed]
    assert failures[0].error["label"] == "Charge card" and failures[0].error["message"]
    page = logged_in(user).get("/").content.decode()
    assert f'href="/workflows/executions/{failed}/"' in page
    assert "Charge card" in page and "Payments" in page


def test_the_backlog_counts_ready_node_runs_and_the_oldest_wait(
    make_workflow, user, tenant, other_workflow, other_user
):
    workflow = make_workflow(SET)
    now = timezone.now()
    first, second, leased, later = (start(workflow, user) for _ in range(4))
    NodeRun.objects.filter(execution_id=first, node_id="a").update(available_at=now - timedelta(minutes=7))
    NodeRun.objects.filter(execution_id=second, node_id="a").update(available_at=now - timedelta(seconds=5))
    NodeRun.objects.filter(execution_id=leased, node_id="a").update(  # a worker holds it
        lease_owner="w", lease_expires_at=now + timedelta(seconds=60), available_at=now - timedelta(hours=1)
    )
    NodeRun.objects.filter(execution_id=later, node_id="a").update(
        available_at=now + timedelta(minutes=1)
    )  # a retry's delay
    start(other_workflow, other_user)

    backlog = dashboard.backlog(tenant.pk, now=now)

    assert backlog.ready == 2
    assert backlog.oldest_age(now) == timedelta(minutes=7)


def test_an_empty_backlog_has_no_age(tenant):
    backlog = dashboard.backlog(tenant.pk, now=timezone.now())
    assert (backlog.ready, backlog.oldest_age(timezone.now())) == (0, None)


def test_my_pending_approvals_are_counted_for_me_only(make_workflow, make_user, user, tenant, worker, other_tenant):
    bob = make_user("bob", tenant=tenant)
    carol = make_user("carol", tenant=tenant)
    role = Group.objects.create(name="finance")
    carol.groups.add(role)
    for config in ({"approvers": ["bob"]}, {"approvers": ["bob", "carol"]}, {"approverRoles": ["finance"]}):
        start(make_workflow(approval_definition({"title": "Pay invoice", **config})), user)
    worker.run_until_idle()
    assert ApprovalRequest.objects.filter(status="pending").count() == 3

    def panel_for(member):
        return next(
            p for p in dashboard.panels(user=member, tenant=tenant) if p.template == "approvals/_home_panel.html"
        )

    assert panel_for(bob).context["count"] == 2
    assert panel_for(carol).context["count"] == 2
    assert panel_for(user).context["count"] == 0
    oldest = panel_for(bob).context["oldest"]
    assert [r.created_at for r in oldest] == sorted(r.created_at for r in oldest)
    # Bob acting in another tenant sees none of these.
    Membership.objects.create(tenant=other_tenant, user=bob)
    assert panel_for(bob).context["count"] == 2
    assert dashboard.panels(user=bob, tenant=other_tenant)[0].context["count"] == 0


def test_the_pending_query_agrees_with_the_approvers_rules(make_workflow, make_user, user, tenant, worker):
    """Named, by role, delegated away (excluded), already decided, self-approval off."""
    from approvals import selectors, services

    bob = make_user("bob", tenant=tenant)
    role = Group.objects.create(name="finance")
    bob.groups.add(role)
    definitions = [
        {"approvers": ["bob"]},
        {"approverRoles": ["finance"]},
        {"approvers": ["bob", "alice"], "allowSelfApproval": False},
        {"approvers": ["bob", "carol"], "approvalType": "all"},
    ]
    for config in definitions:
        start(make_workflow(approval_definition({"title": "T", **config}), name=str(config)), user)
    worker.run_until_idle()
    requests = {str(r.workflow.name): r for r in ApprovalRequest.objects.select_related("workflow")}
    assert set(selectors.pending(bob)) == set(requests.values())
    # alice requested the third one and may not approve it herself.
    assert set(selectors.pending(user)) == set()
    ApprovalRequest.objects.filter(pk=requests[str(definitions[0])].pk).update(excluded=["bob"])
    services.decide(request_id=requests[str(definitions[3])].pk, user=bob, decision="approved")
    assert set(selectors.pending(bob)) == {requests[str(definitions[1])], requests[str(definitions[2])]}


def test_workers_alive_and_stale(db):
    now = timezone.now()
    common = {"host": "h", "pid": 1, "concurrency": 4, "started_at": now - timedelta(hours=1)}
    WorkerProcess.objects.create(name="a", last_heartbeat_at=now - timedelta(seconds=2), steps_in_flight=3, **common)
    WorkerProcess.objects.create(name="b", last_heartbeat_at=now - timedelta(seconds=3), steps_in_flight=1, **common)
    WorkerProcess.objects.create(name="dead", last_heartbeat_at=now - timedelta(minutes=5), **common)
    WorkerProcess.objects.create(
        name="gone", last_heartbeat_at=now - timedelta(minutes=5), stopped_at=now - timedelta(minutes=5), **common
    )

    assert dashboard.worker_counts(now=now) == dashboard.WorkerCounts(alive=2, stale=1, slots=8, busy=4)


def test_the_home_page_counts_with_the_same_queries_however_many_executions(make_workflow, user, tenant):
    workflow = make_workflow(SET)
    client = logged_in(user)
    force(start(workflow, user), "error", finished_ago=timedelta(minutes=1))
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/").status_code == 200
    for _ in range(30):
        force(start(workflow, user), "error", finished_ago=timedelta(minutes=1))
        force(start(workflow, user), "paused")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/").content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert '<dd data-count="failed">31</dd>' in page and '<dd data-count="paused">30</dd>' in page
    counting = [
        q["sql"]
        for q in many.captured_queries
        if 'FROM "workflows_execution"' in q["sql"] and "COUNT(" in q["sql"].upper()
    ]
    assert len(counting) == 1  # one aggregate for every status


def test_the_home_page_shows_only_the_active_tenants_figures(make_workflow, user, tenant, other_workflow, other_user):
    force(start(other_workflow, other_user), "paused")
    page = logged_in(user).get("/").content.decode()
    assert '<dd data-count="paused">0</dd>' in page
    assert "Globex" not in page


def test_the_panels_fragment_is_what_the_page_refreshes(make_workflow, user):
    force(start(make_workflow(SET), user), "running")
    client = logged_in(user)
    fragment = client.get("/home/panels/")
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert '<dd data-count="running">1</dd>' in body and "<html" not in body
    home = client.get("/").content.decode()
    assert 'data-refresh-url="/home/panels/"' in home
    assert f"/api/executions/events/?tenant={user.memberships.get().tenant_id}&amp;isTest=false" in home


def test_a_user_without_a_tenant_gets_no_dashboard(make_user):
    page = logged_in(make_user("nomad")).get("/").content.decode()
    assert "not a member of any tenant" in page and "data-dashboard" not in page
    fragment = logged_in(make_user("nomad2")).get("/home/panels/")
    assert fragment.status_code == 200 and "dash-card" not in fragment.content.decode()


def test_the_dashboard_needs_a_login(db):
    answer = Client().get("/home/panels/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


@pytest.mark.postgres
def test_the_counts_and_failures_read_the_tenant_status_index(make_workflow, make_tenant, user, tenant):
    """On PostgreSQL, with 20,000 executions over 20 tenants, the aggregate and the latest
    failures are answered from execution_tenant_status_idx, not by reading the table."""
    workflow = make_workflow(SET)
    force(start(workflow, user), "error", finished_ago=timedelta(minutes=1))
    version_id = workflow.versions.get().pk
    tenants = [tenant.pk, *(make_tenant(f"T{i}").pk for i in range(19))]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO workflows_execution (id, tenant_id, workflow_id, workflow_version_id, status, input, context,
                revision, retry_count, run_as_id, is_test, created_at, started_at, finished_at, updated_at)
            SELECT gen_random_uuid(), (%s::uuid[])[1 + i %% 20], %s, %s,
                   (ARRAY['success','success','success','success','error','running','paused','cancelled'])[1 + i %% 8],
                   '{}', '{}', 0, 0, %s, i %% 10 = 0, now() - i * interval '1 minute', now() - i * interval '1 minute',
                   CASE WHEN i %% 8 IN (5, 6) THEN NULL ELSE now() - i * interval '1 minute' END, now()
            FROM generate_series(1, 20000) AS i
            """,
            [tenants, workflow.pk, version_id, user.pk],
        )
        cursor.execute("ANALYZE workflows_execution")
    with CaptureQueriesContext(connection) as read:
        dashboard.execution_counts(tenant.pk, now=timezone.now())
        dashboard.latest_failures(tenant.pk)
    assert len(read.captured_queries) == 2
    with connection.cursor() as cursor:
        for query in read.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "execution_tenant_status_idx" in plan and "Seq Scan" not in plan, plan
