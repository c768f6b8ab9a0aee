"""Properties of duration parsing over generated text and numbers (hypothesis)."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.durations import parse_duration

# Derandomized: the suite explores the same examples on every run, so CI never flakes on a new one.
EXAMPLES = settings(max_examples=200, deadline=None, derandomize=True)
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@EXAMPLES
@given(st.integers(0, 10**7) | st.floats(0, 10**7, allow_nan=False))
def test_a_bare_number_is_seconds(number):
    assert parse_duration(number) == timedelta(seconds=number)
    assert parse_duration(f"{number:.3f}") == timedelta(seconds=float(f"{number:.3f}"))


@EXAMPLES
@given(st.lists(st.tuples(st.integers(0, 1000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4), st.booleans())
def test_parts_add_up_in_any_case_and_spacing(parts, upper):
    text = " ".join(f"{n}{unit.upper() if upper else unit}" for n, unit in parts)
    expected = sum(n * UNITS[unit] for n, unit in parts)
    assert parse_duration(text).total_seconds() == pytest.approx(expected)


@EXAMPLES
@given(st.integers(-(10**6), -1) | st.floats(max_value=-0.001, min_value=-(10**6)))
def test_negative_numbers_are_refused(number):
    with pytest.raises(ValueError):
        parse_duration(number)


@EXAMPLES
@given(st.text(max_size=30))
def test_any_text_is_a_non_negative_duration_or_a_value_error(text):
    try:
        duration = parse_duration(text)
    except ValueError:
        return
    assert duration >= timedelta(0)


@EXAMPLES
@given(
    st.integers(36501, 10**30).map(lambda days: f"{days}d")
    | st.just(10**400)
    | st.just(float("inf"))
    | st.just(float("nan"))
    | st.just("9" * 400)
)
def test_a_duration_past_a_hundred_years_is_a_value_error_not_an_overflow(value):
    with pytest.raises(ValueError):
        parse_duration(value)
