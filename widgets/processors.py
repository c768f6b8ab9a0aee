"""Widget processors: pure functions `(resolved_config, context) -> processedData`.

Each turns a widget's config, whose `{{ctx.*}}` templates are already resolved, into the
data its renderer draws. They raise ValueError for unusable input; the pipeline in
widgets/processing.py turns that into `processedData: null`. More processors plug in
through settings.WIDGET_PROCESSORS (type name -> dotted path).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from .markdown import render_markdown

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_VIEW_KEYS = ("mark", "layer", "concat", "hconcat", "vconcat", "facet", "repeat", "spec")


def _as_rows(values: Any, *, what: str) -> list:
    if values is None:
        return []
    if isinstance(values, Mapping):
        return [dict(values)]
    if isinstance(values, list):
        return values
    raise ValueError(f"{what} must resolve to a list, got {type(values).__name__}")


def vega_lite(config: dict, context: dict) -> dict:
    """A Vega-Lite spec with its inline data filled (`data.values` always a list)."""
    if not isinstance(config, Mapping):
        raise ValueError("a vega-lite config must be an object (a Vega-Lite spec)")
    spec = copy.deepcopy(dict(config.get("spec", config)))
    if not any(key in spec for key in _VIEW_KEYS):
        raise ValueError("a Vega-Lite spec needs a mark (or layer, concat, facet, repeat)")
    spec.setdefault("$schema", VEGA_LITE_SCHEMA)
    data = spec.get("data")
    if data is None or isinstance(data, Mapping):
        data = dict(data or {})
        # Charts render offline from the context only: no URL data sources.
        data.pop("url", None)
        # Rows whose template is not resolved yet (their node has not run) are left out,
        # so a live chart grows as nodes complete.
        data["values"] = [row for row in _as_rows(data.get("values"), what="data.values") if row is not None]
        spec["data"] = data
    elif isinstance(data, list):
        spec["data"] = {"values": data}
    else:
        raise ValueError("data must be an object with values")
    return {"spec": spec, "count": len(spec["data"]["values"])}


def _column(spec: Any) -> dict:
    if isinstance(spec, str):
        return {"key": spec, "label": spec}
    if isinstance(spec, Mapping) and isinstance(spec.get("key"), str):
        return {"key": spec["key"], "label": str(spec.get("label") or spec["key"])}
    raise ValueError("each column is a key or {key, label}")


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    import json

    return json.dumps(value, default=str)


def table(config: dict, context: dict) -> dict:
    """Columns and rows (rows as lists of cells in column order), cut at `maxRows`."""
    if not isinstance(config, Mapping):
        raise ValueError("a table config must be an object")
    rows = [row for row in _as_rows(config.get("rows"), what="rows") if row is not None]
    max_rows = config.get("maxRows", 500)
    if not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError("maxRows must be a positive integer")
    columns = [_column(c) for c in config.get("columns") or []]
    if not columns:
        seen: dict[str, None] = {}
        for row in rows:
            if isinstance(row, Mapping):
                seen.update({str(k): None for k in row})
        if seen:
            columns = [{"key": k, "label": k} for k in seen]
        elif rows and isinstance(rows[0], list):
            columns = [{"key": str(i), "label": f"Column {i + 1}"} for i in range(len(rows[0]))]
    cells = []
    for row in rows[:max_rows]:
        if isinstance(row, Mapping):
            cells.append([_cell(row.get(c["key"])) for c in columns])
        elif isinstance(row, list):
            cells.append([_cell(v) for v in row])
        else:
            cells.append([_cell(row)])
    return {
        "title": config.get("title"),
        "columns": columns,
        "rows": cells,
        "total": len(rows),
        "truncated": len(rows) > max_rows,
    }


def _number(value: Any, *, what: str) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number")
    if isinstance(value, (int, float)):
        number = value
    else:
        try:
            number = float(str(value).replace(",", ""))
        except ValueError:
            raise ValueError(f"{what} must be a number, got {value!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{what} must be finite")
    return number


def format_number(
    value: float | int | None, *, fmt: str = "number", decimals: int | None = None, currency: str = ""
) -> str:
    """Format a metric the same way for every client: 1,234.5 / 12.5% / USD 9.99."""
    if value is None:
        return "—"
    if fmt == "percent":
        places = 1 if decimals is None else decimals
        return f"{value * 100:,.{places}f}%"
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    text = f"{value:,.{decimals}f}"
    if fmt == "currency":
        return f"{currency or '$'} {text}".strip() if currency else f"${text}"
    return text


def metric(config: dict, context: dict) -> dict:
    """One value with a label, an optional delta (given, or against `previous`) and a format."""
    if not isinstance(config, Mapping):
        raise ValueError("a metric config must be an object")
    fmt = config.get("format", "number")
    if fmt not in ("number", "percent", "currency"):
        raise ValueError("format must be number, percent or currency")
    decimals = config.get("decimals")
    if decimals is not None and (not isinstance(decimals, int) or not 0 <= decimals <= 10):
        raise ValueError("decimals must be an integer from 0 to 10")
    value = _number(config.get("value"), what="value")
    delta = _number(config.get("delta"), what="delta")
    previous = _number(config.get("previous"), what="previous")
    if delta is None and previous is not None and value is not None:
        delta = value - previous
    currency = str(config.get("currency") or "")
    direction = None if delta is None else "up" if delta > 0 else "down" if delta < 0 else "flat"
    formatted_delta = None
    if delta is not None:
        sign = "+" if delta > 0 else "−" if delta < 0 else "±"
        formatted_delta = sign + format_number(abs(delta), fmt=fmt, decimals=decimals, currency=currency)
    return {
        "label": str(config.get("label") or ""),
        "value": value,
        "formatted": format_number(value, fmt=fmt, decimals=decimals, currency=currency),
        "delta": delta,
        "deltaDirection": direction,
        "formattedDelta": formatted_delta,
        "format": fmt,
    }


def text(config: dict, context: dict) -> dict:
    """Markdown (`markdown` or `content`) rendered to safe HTML."""
    if isinstance(config, str):
        source = config
    elif isinstance(config, Mapping):
        source = config.get("markdown", config.get("content", ""))
    else:
        raise ValueError("a text config must be an object with markdown")
    if source is None:
        source = ""
    if not isinstance(source, str):
        import json

        source = json.dumps(source, default=str)
    return {"markdown": source, "html": render_markdown(source)}


DEFAULT_PROCESSORS = {
    "vega-lite": "widgets.processors.vega_lite",
    "table": "widgets.processors.table",
    "metric": "widgets.processors.metric",
    "text": "widgets.processors.text",
}
