"""The system checks report misconfigured plugins at start-up, with a clear message."""

import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from workflows.checks import check_plugins
from workflows.plugins import step_path_problem

SAMPLES = "tests.workflows.sample_plugins"


def messages(settings, *names):
    settings.WORKFLOW_PLUGINS = [f"{SAMPLES}.{n}" for n in names]
    return [(m.id, m.msg) for m in check_plugins()]


def test_the_shipped_configuration_passes(settings):
    assert check_plugins() == []


def test_category_must_match_the_integration_label(settings):
    assert messages(settings, "BAD_CATEGORY") == [
        ("workflows.E001", "action 'bad/go' has category 'Something else', not its integration's label 'Bad'")
    ]


def test_an_action_without_a_step(settings):
    assert messages(settings, "NO_STEP") == [("workflows.E002", "action 'nostep/go' has no step")]


def test_step_paths_that_do_not_import(settings):
    sys.modules.pop(f"{SAMPLES}.echo_steps", None)
    found = messages(settings, "BAD_PATHS")
    assert [i for i, _ in found] == ["workflows.E003"] * 3
    assert "no module named 'tests.workflows.sample_plugins.not_there'" in found[0][1]
    assert "echo_steps defines no 'missing'" in found[1][1]
    assert "must look like 'module.path:function_name'" in found[2][1]
    # Checking read the step module's source; it did not run it.
    assert f"{SAMPLES}.echo_steps" not in sys.modules


def test_duplicate_action_ids(settings):
    found = messages(settings, "ECHO", "ECHO_AGAIN")
    assert ("workflows.E004", "duplicate action id 'echo/say' (also in Echo)") in found


def test_config_fields_of_unknown_type(settings):
    (found,) = messages(settings, "BAD_FIELD")
    assert found[0] == "workflows.E005" and "unknown type 'colour-picker'" in found[1]


def test_a_plugin_path_that_is_not_a_plugin(settings):
    assert messages(settings, "NOT_A_PLUGIN")[0][0] == "workflows.E000"
    settings.WORKFLOW_PLUGINS = ["plugins.nothing.PLUGIN"]
    assert check_plugins()[0].id == "workflows.E000"


def test_manage_py_check_fails_with_the_message(settings):
    settings.WORKFLOW_PLUGINS = [f"{SAMPLES}.BAD_CATEGORY"]
    with pytest.raises(SystemCheckError, match="must match|not its integration's label 'Bad'"):
        call_command("check")


def test_step_path_problem_accepts_a_real_path():
    assert step_path_problem("plugins.sms.steps:send_sms") is None
