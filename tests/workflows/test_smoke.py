import pytest

from tests.conftest import chain
from workflows.models import Execution
from workflows.services import trigger_workflow


@pytest.mark.django_db(transaction=True)
def test_chain_runs_to_success(make_workflow, user, worker):
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": "{{Trigger.n}}"}}}))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"n": 5})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success"
    assert execution.context["A"] == {"x": 5}
