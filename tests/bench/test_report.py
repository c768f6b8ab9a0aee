"""The printed table: figures with their spread, and a reason where a figure is missing."""

from bench.report import table


def results(**figures):
    machine = {"cores": 2, "load_avg_1m": 0.5, "load_avg_5m": 0.4, "load_avg_15m": 0.3}
    return {"mode": "quick", "rounds": 2, "machine": machine, "machine_end": machine, **figures}


def test_a_figure_prints_its_median_min_and_max():
    text = table(results(steps_per_s={"median": 1500.0, "min": 1400.0, "max": 1600.0}))
    assert "1,500     1,400     1,600  steps/s" in text


def test_a_missing_peer_says_why_instead_of_a_number():
    why = "DBOS could not run: ModuleNotFoundError: No module named 'dbos'"
    text = table(results(dbos_steps_per_s={"median": None}, unavailable={"dbos_steps_per_s": why}))
    line = next(row for row in text.splitlines() if row.startswith("DBOS queue"))
    assert "n/a" in line and why in line


def test_paused_levels_are_compared_with_none_paused():
    paused = [
        {"paused": 0, "steps_per_s": 1000.0, "duties_ms": {"d": 2.0}},
        {"paused": 100000, "steps_per_s": 950.0, "duties_ms": {"d": 3.0}},
    ]
    text = table(results(paused=paused))
    assert "100,000" in text and "0.95" in text


def test_the_executions_list_figures_print_per_filter():
    listing = {
        "rows": 1_000_000,
        "target_p95_ms": 50.0,
        "worst_p95_ms": 31.2,
        "filters": {"status": {"p50_ms": 11.4, "p95_ms": 27.6}, "input": {"p50_ms": 5.8, "p95_ms": 12.3}},
    }
    text = table(results(executions_list=listing))
    assert "1,000,000 executions (target p95 < 50 ms)" in text
    assert any(row.strip().startswith("by input") and "12.3 ms" in row for row in text.splitlines())
