"""Properties of the template resolver over generated scopes, paths and text (hypothesis)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.templating import TemplateSyntaxError, lookup, parse_path, resolve

# Derandomized: the suite explores the same examples on every run, so CI never flakes on a new one.
EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Keys a dotted path can spell: no dots, brackets, braces, and no surrounding spaces.
plain_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ -]{0,10}[A-Za-z0-9_]", fullmatch=True).filter(
    lambda key: not (key.startswith("__") and key.endswith("__"))
)
roots = st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,14}[A-Za-z0-9]", fullmatch=True)
text_without_braces = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20)


@st.composite
def scope_and_path(draw):
    """A scope, a path that exists in it, the expression spelling that path and its value."""
    root = draw(roots)
    value = draw(json_values)
    scope = {root: value}
    path, spelled, current = [root], root, value
    while draw(st.booleans()):
        if isinstance(current, dict) and current:
            key = draw(st.sampled_from(sorted(current)))
            if key.strip() != key or any(c in key for c in '"[]{}'):
                break
            path.append(key)
            spelled += f'["{key}"]'
            current = current[key]
        elif isinstance(current, list) and current:
            index = draw(st.integers(0, len(current) - 1))
            path.append(index)
            spelled += f"[{index}]"
            current = current[index]
        else:
            break
    return scope, path, spelled, current


@EXAMPLES
@given(json_values)
def test_a_value_without_templates_resolves_to_itself(value):
    if "{{" not in json.dumps(value):
        assert resolve(value, {"Trigger": {"x": 1}}) == value


@EXAMPLES
@given(scope_and_path())
def test_a_whole_expression_keeps_the_value_and_its_type(case):
    scope, path, spelled, value = case
    assert parse_path(spelled) == path
    resolved = resolve("{{" + spelled + "}}", scope)
    assert resolved == value and type(resolved) is type(value)
    assert resolve("  {{ " + spelled + " }} ", scope) == value


@EXAMPLES
@given(scope_and_path(), text_without_braces, text_without_braces)
def test_mixed_text_interpolates_strings_as_they_are_and_the_rest_as_json(case, before, after):
    scope, _, spelled, value = case
    if not (before.strip() or after.strip()):
        before = "x" + before
    expected = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    assert resolve(before + "{{" + spelled + "}}" + after, scope) == before + expected + after


@EXAMPLES
@given(roots, st.lists(plain_keys | st.integers(0, 50), min_size=1, max_size=5))
def test_a_dotted_path_round_trips_through_the_parser(root, segments):
    spelled = root + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in segments)
    assert parse_path(spelled) == [root, *segments]


@EXAMPLES
@given(roots, st.lists(plain_keys, min_size=1, max_size=4), json_values)
def test_a_missing_path_is_null_whole_and_empty_in_text(root, segments, value):
    scope = {root + "x": value}  # the root itself is absent
    spelled = root + "".join(f".{s}" for s in segments)
    assert resolve("{{" + spelled + "}}", scope) is None
    assert resolve("a {{" + spelled + "}} b", scope) == "a  b"


@EXAMPLES
@given(st.sampled_from(["__class__", "__dict__", "__globals__", "__init__", "__len__"]), json_values)
def test_dunder_names_are_never_followed(name, value):
    scope = {"Trigger": {"v": value}}
    assert lookup(scope, ["Trigger", "v", name]) is None
    assert resolve("{{Trigger.v." + name + "}}", scope) is None


@EXAMPLES
@given(st.text(max_size=60), st.dictionaries(st.text(max_size=6), json_values, max_size=3))
def test_any_text_resolves_or_is_refused_as_template_syntax(text, scope):
    try:
        resolve(text, scope)
    except TemplateSyntaxError:
        pass
