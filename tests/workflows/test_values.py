"""What can be stored as JSON, and how text about a step is cleaned (workflows/values.py)."""

import pytest

from workflows.values import REPLACEMENT, clean, unstorable


@pytest.mark.parametrize(
    "value, problem",
    [
        ({"a": [1, "x\x00y"]}, "$.a[1] contains a NUL character"),
        ({"a": "\ud800"}, "$.a contains a lone surrogate"),
        ({"k\x00": 1}, "$ has a key that contains a NUL character"),
        ("x" * 50, "$ is 52 bytes of JSON; the limit is 10"),
    ],
)
def test_unstorable_values_are_named_with_their_path(value, problem):
    assert unstorable(value, max_bytes=10 if isinstance(value, str) else None).startswith(problem)


@pytest.mark.parametrize("value", [{"emoji": "\U0001f600", "text": "\\u0000 is only text"}, [1, None, True], "plain"])
def test_storable_values_pass(value):
    assert unstorable(value, max_bytes=1000) is None


def test_clean_replaces_nul_and_lone_surrogates_everywhere():
    assert clean({"k\x00": ["a\x00", "\udc00b", "ok"], "n": 1}) == {
        f"k{REPLACEMENT}": [f"a{REPLACEMENT}", f"{REPLACEMENT}b", "ok"],
        "n": 1,
    }


def test_json_problem_names_the_top_level_key_of_too_deep_nesting():
    from workflows.values import json_problem

    assert json_problem('{"a": 1, "deep": ' + ("[" * 70 + "]" * 70) + "}", max_depth=64) == (
        "deep",
        "is nested deeper than 64 levels",
    )
    assert json_problem("[" * 70 + "]" * 70, max_depth=64) == ("body", "is nested deeper than 64 levels")
    assert json_problem('{"s": "' + ("[" * 100) + '"}', max_depth=64) is None  # brackets in a string
    assert json_problem('{"k\\"ey": ' + ('{"a": ' * 70 + "1" + "}" * 70) + "}", max_depth=64)[0] == 'k"ey'


def test_text_problem_names_where_a_nul_or_lone_surrogate_is():
    from workflows.values import may_have_unsafe_text, text_problem

    assert text_problem({"a": [{"b": "x\x00"}]}) == ("a[0].b", "contains a NUL character (\\u0000)")
    assert text_problem({"a": "\ud800"})[0] == "a"
    assert text_problem({"ok": "\U0001f600"}) is None
    assert may_have_unsafe_text('{"a": "\\u0000"}') and may_have_unsafe_text('"\\uD83D"')
    assert not may_have_unsafe_text('{"a": "\\u00e9"}')
