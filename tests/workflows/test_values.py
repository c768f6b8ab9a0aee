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


@pytest.mark.parametrize("value", [{"emoji": "\U0001F600", "text": "\\u0000 is only text"}, [1, None, True], "plain"])
def test_storable_values_pass(value):
    assert unstorable(value, max_bytes=1000) is None


def test_clean_replaces_nul_and_lone_surrogates_everywhere():
    assert clean({"k\x00": ["a\x00", "\udc00b", "ok"], "n": 1}) == {f"k{REPLACEMENT}": [f"a{REPLACEMENT}", f"{REPLACEMENT}b", "ok"], "n": 1}
