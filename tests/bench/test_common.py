"""The harness's summaries: percentiles by nearest rank, rounds as median with min and max."""

import math

from bench.common import Rounds, percentile, spread


def test_percentile_is_the_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_of_nothing_is_nan():
    assert math.isnan(percentile([], 0.5))


def test_spread_gives_median_min_max_and_each_round():
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "rounds": [3.0, 1.0, 2.0]}


def test_spread_leaves_out_rounds_without_a_figure():
    assert spread([math.nan, None, 4.0])["median"] == 4.0
    assert spread([])["median"] is None


def test_rounds_summarise_every_key():
    rounds = Rounds()
    for value in (10.0, 30.0, 20.0):
        rounds.add("steps_per_s", value)
    rounds.add("ratio_vs_dbos", None)
    assert rounds.summary() == {"steps_per_s": {"median": 20.0, "min": 10.0, "max": 30.0, "rounds": [10.0, 30.0, 20.0]}}
