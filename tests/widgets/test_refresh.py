"""widgets.services.refreshed_spec: a refresh of a connected widget, tested without a socket."""

from __future__ import annotations

import pytest

from widgets.exceptions import InvalidConfig
from widgets.services import WidgetSpec, refreshed_spec


def test_a_refresh_puts_new_input_params_over_the_old():
    spec = WidgetSpec(widget_id="w", input_params={"a": 1, "b": 2})
    assert refreshed_spec(spec, {"b": 3}).input_params == {"a": 1, "b": 3}
    assert refreshed_spec(spec, None) == spec and refreshed_spec(spec, None) is not spec
    with pytest.raises(InvalidConfig):
        refreshed_spec(spec, [1])
