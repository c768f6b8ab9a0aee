"""Widget processors and the context pipeline: pure functions, no database."""

from __future__ import annotations

import pytest

from widgets import processors
from widgets.markdown import render_markdown, sanitize
from widgets.processing import process_context, resolve_config

CONTEXT = {
    "Query": {"rows": [{"x": 1, "y": 2}, {"x": 2, "y": 5}], "total": 7, "name": "Sales"},
    "Prev": {"total": 5},
}


# --- Template resolution ---------------------------------------------------------------------------


def test_a_whole_expression_keeps_its_type():
    resolved = resolve_config({"data": {"values": "{{ctx.Query.rows}}"}, "n": "{{ctx.Query.total}}"}, CONTEXT)
    assert resolved == {"data": {"values": CONTEXT["Query"]["rows"]}, "n": 7}


def test_two_expressions_in_one_string_are_two_not_one():
    assert resolve_config("{{ctx.Query.total}} {{ctx.Prev.total}}", CONTEXT) == "7 5"
    assert resolve_config("{{ctx.Query.name}}{{ctx.Prev.total}}", CONTEXT) == "Sales5"


def test_templates_resolve_inside_nested_lists_and_objects():
    resolved = resolve_config({"layer": [{"title": "Total {{ctx.Query.total}}", "v": ["{{ctx.Prev.total}}"]}]}, CONTEXT)
    assert resolved == {"layer": [{"title": "Total 7", "v": [5]}]}


def test_node_labels_resolve_without_ctx_too():
    assert resolve_config("{{Query.total}}", CONTEXT) == 7


@pytest.mark.parametrize(
    "expression",
    [
        "{{ctx.__class__}}",
        "{{ctx.Query.__class__.__mro__}}",
        "{{ctx.Query.rows.__len__}}",
        "{{ctx.Query.get}}",
        "{{ctx.Query.items}}",
        "{{ctx.Query.rows.append}}",
    ],
)
def test_paths_never_reach_python_internals(expression):
    assert resolve_config(expression, CONTEXT) is None


def test_a_missing_path_is_none_alone_and_empty_in_text():
    assert resolve_config("{{ctx.Nope.x}}", CONTEXT) is None
    assert resolve_config("a{{ctx.Nope.x}}b", CONTEXT) == "ab"


# --- The pipeline ------------------------------------------------------------------------------------


def test_pipeline_failure_gives_null_data_with_a_reason():
    result = process_context(CONTEXT, widget_type="table", widget_config={"rows": "{{ctx.Query.total}}"})
    assert result.data is None and "rows must resolve to a list" in result.error


def test_pipeline_unknown_type_and_bad_template_give_null():
    assert process_context(CONTEXT, widget_type="sparkles", widget_config={}).data is None
    bad = process_context(CONTEXT, widget_type="text", widget_config={"markdown": "{{ }}"})
    assert bad.data is None and "bad template" in bad.error


def test_pipeline_uses_an_extra_registry():
    result = process_context(
        CONTEXT,
        widget_type="count",
        widget_config={"rows": "{{ctx.Query.rows}}"},
        registry={"count": lambda config, ctx: len(config["rows"])},
    )
    assert result.data == 2 and result.error is None


def test_processors_from_settings_are_added(settings):
    from widgets import processing

    settings.WIDGET_PROCESSORS = {"upper": "tests.widgets.test_processors.upper"}
    processing.processors.cache_clear()
    try:
        result = process_context(CONTEXT, widget_type="upper", widget_config={"text": "{{ctx.Query.name}}"})
        assert result.data == "SALES"
        assert "vega-lite" in processing.processors()
    finally:
        processing.processors.cache_clear()


def upper(config, context):
    return config["text"].upper()


# --- vega-lite ---------------------------------------------------------------------------------------


def test_vega_lite_fills_the_data_values():
    out = processors.vega_lite({"mark": "bar", "data": {"values": CONTEXT["Query"]["rows"]}}, CONTEXT)
    assert out["spec"]["data"]["values"] == CONTEXT["Query"]["rows"]
    assert out["spec"]["$schema"].endswith("vega-lite/v5.json") and out["count"] == 2


def test_vega_lite_missing_values_are_an_empty_list_and_urls_are_dropped():
    out = processors.vega_lite({"mark": "line", "data": {"values": None, "url": "http://evil/x.json"}}, {})
    assert out["spec"]["data"] == {"values": []}


def test_vega_lite_needs_a_mark_and_list_values():
    with pytest.raises(ValueError, match="mark"):
        processors.vega_lite({"data": {"values": []}}, {})
    with pytest.raises(ValueError, match="list"):
        processors.vega_lite({"mark": "bar", "data": {"values": 3}}, {})


def test_vega_lite_does_not_change_the_config_it_gets():
    config = {"mark": "bar", "data": {"values": [{"a": 1}]}}
    processors.vega_lite(config, {})
    assert "$schema" not in config


# --- table ----------------------------------------------------------------------------------------------


def test_table_infers_columns_from_row_keys():
    out = processors.table({"rows": [{"a": 1, "b": 2}, {"a": 3, "c": {"d": 4}}]}, {})
    assert [c["key"] for c in out["columns"]] == ["a", "b", "c"]
    assert out["rows"] == [[1, 2, None], [3, None, '{"d": 4}']]
    assert out["total"] == 2 and out["truncated"] is False


def test_table_uses_given_columns_and_cuts_at_max_rows():
    out = processors.table(
        {"columns": ["b", {"key": "a", "label": "Alpha"}], "rows": [{"a": i, "b": -i} for i in range(5)], "maxRows": 2},
        {},
    )
    assert out["columns"] == [{"key": "b", "label": "b"}, {"key": "a", "label": "Alpha"}]
    assert out["rows"] == [[0, 0], [-1, 1]] and out["total"] == 5 and out["truncated"] is True


def test_table_rejects_bad_input():
    with pytest.raises(ValueError):
        processors.table({"rows": "nope"}, {})
    with pytest.raises(ValueError):
        processors.table({"rows": [], "maxRows": 0}, {})


# --- metric ---------------------------------------------------------------------------------------------


def test_metric_computes_the_delta_against_previous():
    out = processors.metric({"value": 1234.5, "previous": 1000, "label": "Revenue", "format": "currency"}, {})
    assert out["value"] == 1234.5 and out["delta"] == 234.5 and out["deltaDirection"] == "up"
    assert out["formatted"] == "$1,234.50" and out["formattedDelta"] == "+$234.50"


def test_metric_percent_and_numeric_strings():
    out = processors.metric({"value": "0.125", "delta": -0.02, "format": "percent"}, {})
    assert out["formatted"] == "12.5%" and out["deltaDirection"] == "down" and out["formattedDelta"] == "−2.0%"


def test_metric_without_a_value_shows_a_dash():
    out = processors.metric({"value": None, "label": "Pending"}, {})
    assert out["formatted"] == "—" and out["delta"] is None


def test_metric_rejects_non_numbers_and_bad_formats():
    with pytest.raises(ValueError):
        processors.metric({"value": "lots"}, {})
    with pytest.raises(ValueError):
        processors.metric({"value": True}, {})
    with pytest.raises(ValueError):
        processors.metric({"value": 1, "format": "roman"}, {})


# --- text and markdown ------------------------------------------------------------------------------------


def test_text_renders_markdown():
    out = processors.text({"markdown": "# Title\n\nSome **bold** and *it* and `code`\n\n- a\n- b"}, {})
    assert out["html"] == (
        "<h1>Title</h1>\n<p>Some <strong>bold</strong> and <em>it</em> and <code>code</code></p>\n"
        "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"
    )


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '[x](http://a" onmouseover="alert(1))',
        "```\n<script>x</script>\n```",
    ],
)
def test_markdown_never_lets_html_or_scripts_through(source):
    html = render_markdown(source)
    tags = _tags(html)
    assert {tag for tag, _ in tags} <= {"p", "a", "pre", "code"}
    for _, attrs in tags:
        assert not [name for name in attrs if name.startswith("on")]
        assert not attrs.get("href") or attrs["href"].startswith("http://a")
    assert "javascript:" not in html.lower() and "data:" not in html


def _tags(html: str) -> list[tuple[str, dict]]:
    """The elements of `html` and their attributes, as a browser's parser sees them."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


def test_markdown_keeps_safe_links():
    assert render_markdown("[docs](https://example.com/a?b=1&c=2)") == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">docs</a></p>'
    )
    assert render_markdown("[home](/widgets/) [v](vbscript:x)") == (
        '<p><a href="/widgets/" rel="noopener noreferrer">home</a> <a rel="noopener noreferrer">v</a></p>'
    )


@pytest.mark.parametrize(
    "html",
    [
        "<p>hi<script>alert(1)</script></p>",
        '<p onclick="alert(1)">hi</p>',
        '<a href="javascript:alert(1)" onmouseover="alert(1)">hi</a>',
        '<img src="x" onerror="alert(1)">hi',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">hi</a>',
    ],
)
def test_sanitizer_drops_scripts_handlers_and_unsafe_urls_even_in_markup(html):
    clean = sanitize(html)
    assert "<script" not in clean and "alert" not in clean and "on" + "click" not in clean
    assert "javascript:" not in clean and "data:" not in clean and "<img" not in clean
    assert "hi" in clean


def test_vega_lite_leaves_out_rows_not_resolved_yet():
    config = {"mark": "bar", "data": {"values": ["{{ctx.W1}}", "{{ctx.W2}}"]}}
    out = processors.vega_lite(resolve_config(config, {"W1": {"week": 1}}), {})
    assert out["spec"]["data"]["values"] == [{"week": 1}] and out["count"] == 1
