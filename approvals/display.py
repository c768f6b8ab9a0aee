"""Show context data readably (pure): scalars as text, structures as indented JSON."""

from __future__ import annotations

import json


def readable_items(data) -> list[tuple[str, str, bool]]:
    """Context data as (key, text, structured) rows: scalars as text, the rest as indented JSON."""
    if not isinstance(data, dict):
        return []
    rows = []
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            rows.append((str(key), json.dumps(value, indent=2, default=str), True))
        elif value is None:
            rows.append((str(key), "—", False))
        elif isinstance(value, bool):
            rows.append((str(key), "yes" if value else "no", False))
        else:
            rows.append((str(key), str(value), False))
    return rows
