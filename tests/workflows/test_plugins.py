"""Plugins: loading by dotted path, lazy step import, the step context, sync and async steps."""

import sys

import pytest

from tests.conftest import chain
from tests.workflows.plugins_support import echo_plugins, node  # noqa: F401 (fixture)
from workflows import integrations
from workflows.api.catalog import node_catalog_entry
from workflows.exceptions import InvalidDefinition
from workflows.models import Execution, NodeRun
from workflows.nodes import registry
from workflows.plugins import Plugin, load_plugins
from workflows.services import trigger_workflow

STEPS_MODULE = "tests.workflows.sample_plugins.echo_steps"


@pytest.fixture
def token(tenant, user):
    return integrations.create_integration(
        tenant=tenant, owner=user, type="echo", name="Mine", credentials={"token": "t-123"}
    )


def test_plugins_load_by_dotted_path(echo_plugins):
    loaded = load_plugins()
    assert [p.integration.type for p in loaded] == ["sms", "echo"]
    assert all(isinstance(p, Plugin) for p in loaded)


def test_a_dotted_path_to_something_else_is_refused():
    with pytest.raises(TypeError, match="not a workflows.plugins.Plugin"):
        load_plugins(["tests.workflows.sample_plugins.NOT_A_PLUGIN"])


def test_actions_become_node_types_with_the_integration_field(echo_plugins):
    say = registry.get("echo/say")
    assert say.label == "Say it"  # from the server half's action labels
    assert say.category == "Echo" and say.integration == "echo"
    assert [f.key for f in say.fields] == ["integrationId", "text"]
    assert registry.get("sms/send").integration == "sms"


@pytest.mark.django_db(transaction=True)
def test_step_module_is_imported_on_first_use_only(echo_plugins, make_workflow, user, token, worker):
    registry.all()
    for node_type in registry.all():
        node_catalog_entry(node_type)
    wf = make_workflow(chain(node("say", "echo/say", "Say", integrationId=token.pk, text="hi {{Trigger.name}}")))
    assert STEPS_MODULE not in sys.modules
    assert echo_plugins.IMPORTED == []

    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"name": "Bo"})
    assert STEPS_MODULE not in sys.modules  # triggering runs no step
    worker.run_until_idle()
    assert echo_plugins.IMPORTED == [STEPS_MODULE]

    second = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"name": "Al"})
    worker.run_until_idle()
    assert echo_plugins.IMPORTED == [STEPS_MODULE]  # imported once
    assert Execution.objects.get(pk=second.execution_id).context["Say"]["said"] == "hi Al"
    first = Execution.objects.get(pk=result.execution_id)
    assert first.status == "success"


@pytest.mark.django_db(transaction=True)
def test_step_gets_context_credentials_and_logger(echo_plugins, make_workflow, user, token, worker):
    wf = make_workflow(chain(node("say", "echo/say", "Say", integrationId=str(token.pk), text="x")))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username)
    worker.run_until_idle()
    output = Execution.objects.get(pk=result.execution_id).context["Say"]
    assert output == {
        "said": "x",
        "executionId": str(result.execution_id),
        "nodeId": "say",
        "attempt": 1,
        "runAs": "alice",
        "token": "t-123",
    }
    run = NodeRun.objects.get(execution_id=result.execution_id, node_id="say")
    assert [e["message"] for e in run.logs] == ["saying x"]
    assert run.resolved_config == {"integrationId": str(token.pk), "text": "x"}


@pytest.mark.django_db(transaction=True)
def test_async_step_runs(echo_plugins, make_workflow, user, token, worker):
    wf = make_workflow(chain(node("shout", "echo/shout", "Shout", integrationId=token.pk, text="{{Trigger.t}}")))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"t": "quiet"})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success"
    assert execution.context["Shout"] == {"text": "QUIET", "credentials": ["token"]}


@pytest.mark.django_db(transaction=True)
def test_a_step_returning_non_json_fails_its_node(echo_plugins, make_workflow, user, token, worker):
    wf = make_workflow(chain(node("b", "echo/broken", "Broken", integrationId=token.pk)))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username)
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "error"
    assert "echo/broken returned a value that is not JSON" in execution.error["message"]
    assert NodeRun.objects.get(execution=execution, node_id="b").attempt == 1  # not retried


@pytest.mark.django_db
def test_saving_validates_plugin_config_fields(echo_plugins, make_workflow):
    with pytest.raises(InvalidDefinition) as caught:
        make_workflow(chain(node("say", "echo/say", "Say", integrationId="{{Trigger.id}}")))
    fields = {(e["nodeId"], e["field"]) for e in caught.value.errors}
    assert fields == {("say", "config.text"), ("say", "config.integrationId")}


@pytest.mark.django_db
def test_saving_requires_the_integration(echo_plugins, make_workflow):
    with pytest.raises(InvalidDefinition) as caught:
        make_workflow(chain(node("say", "echo/say", "Say", text="hi")))
    assert caught.value.errors == [
        {"nodeId": "say", "field": "config.integrationId", "message": "Echo integration is required"}
    ]
