"""The table printed at the end of a run, and the plot (matplotlib, from the bench extra)."""

from __future__ import annotations

from pathlib import Path

# (key, label, unit, format); a key missing from the results prints as n/a.
ROWS = [
    ("floor_tps", "floor: INSERT+COMMIT, logged table, 1 connection", "commits/s", "{:,.0f}"),
    ("floor_tps_4", "floor: the same on 4 connections", "commits/s", "{:,.0f}"),
    ("steps_per_s", "engine, 2 workers, Redis on, starts included", "steps/s", "{:,.0f}"),
    ("steps_per_s_steps_only", "engine, the same, executions made before the clock", "steps/s", "{:,.0f}"),
    ("dbos_steps_per_s", "DBOS queue, 2 processes, enqueued while the clock runs", "steps/s", "{:,.0f}"),
    ("ratio_vs_dbos", "engine / DBOS, starts included, per round", "x", "{:.2f}"),
    ("floor_commits_per_step", "a step in floor commits (floor_tps / steps only)", "commits", "{:.2f}"),
    ("floor4_commits_per_step", "  against the 4-connection floor", "commits", "{:.2f}"),
    ("start_cost_steps", "starting an execution, in steps' worth", "steps", "{:.1f}"),
    ("worker_cpu_ms_per_step", "worker CPU per step, Redis on (steps only)", "ms", "{:.3f}"),
    ("worker_cpu_ms_per_step_no_redis", "worker CPU per step, in-memory layer (no Redis)", "ms", "{:.3f}"),
    ("redis_cpu_overhead_pct", "worker CPU added by publishing to Redis", "%", "{:+.0f}"),
    ("pg_cpu_ms_per_step", "PostgreSQL CPU per step (steps only)", "ms", "{:.3f}"),
    ("dbos_pg_cpu_ms_per_step", "PostgreSQL CPU per DBOS step", "ms", "{:.3f}"),
    ("trigger_http_p50_ms", "POST trigger -> first node committed, p50", "ms", "{:.1f}"),
    ("trigger_http_p99_ms", "  p99", "ms", "{:.1f}"),
    ("trigger_http_answer_p50_ms", "  its answer alone, p50", "ms", "{:.1f}"),
    ("signal_http_to_successor_p50_ms", "POST signal -> successor committed, p50", "ms", "{:.1f}"),
    ("signal_http_to_successor_p99_ms", "  p99", "ms", "{:.1f}"),
    ("signal_http_answer_p50_ms", "  its answer alone, p50", "ms", "{:.1f}"),
    ("decision_http_to_successor_p50_ms", "POST decision -> successor committed, p50", "ms", "{:.1f}"),
    ("decision_http_to_successor_p99_ms", "  p99", "ms", "{:.1f}"),
    ("decision_http_answer_p50_ms", "  its answer alone, p50", "ms", "{:.1f}"),
    ("fanout_1000_reach_all_p50_ms", "widget fan-out: commit -> every socket has it, p50", "ms", "{:,.0f}"),
    ("fanout_1000_reach_all_p99_ms", "  p99", "ms", "{:,.0f}"),
    ("fanout_bare_reach_all_p50_ms", "bare group send -> every socket has it, p50", "ms", "{:,.0f}"),
    ("fanout_bare_reach_all_p99_ms", "  p99", "ms", "{:,.0f}"),
    ("fanout_p99_vs_bare", "widget p99 / bare p99, per round", "x", "{:.2f}"),
    ("fanout_frames_per_socket_step", "frames each socket receives per step", "frames", "{:.1f}"),
    ("fanout_kib_per_socket_step", "bytes each socket receives per step", "KiB", "{:.2f}"),
    ("kib_per_connected_socket", "daphne memory per connected socket", "KiB", "{:.1f}"),
    ("kib_per_idle_widget", "daphne memory per subscribed idle widget", "KiB", "{:.1f}"),
]


def _fmt(fmt: str, value) -> str:
    return "n/a" if value is None else fmt.format(value)


def table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"make bench ({results['mode']}): {results['rounds']} interleaved rounds, median [min - max] of the rounds; "
        f"{m['cores']} cores, load average {m['load_avg_1m']} {m['load_avg_5m']} {m['load_avg_15m']} at the start, "
        f"{results['machine_end']['load_avg_1m']} at the end",
        f"{'figure':<56}{'median':>10}{'min':>10}{'max':>10}  unit",
    ]
    for key, label, unit, fmt in ROWS:
        entry = results.get(key)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            lines.append(f"{label:<56}{_fmt(fmt, entry):>10}{'':>20}  {unit}")
            continue
        if entry.get("median") is None:
            why = results.get("unavailable", {}).get(key, "not measured")
            lines.append(f"{label:<56}{'n/a':>10}  ({why})")
            continue
        lines.append(
            f"{label:<56}{_fmt(fmt, entry['median']):>10}{_fmt(fmt, entry['min']):>10}"
            f"{_fmt(fmt, entry['max']):>10}  {unit}"
        )
    fan = results.get("fanout_sockets")
    if fan:
        lines.append(
            f"(fan-out: {fan} sockets over {results.get('fanout_daphnes', 2)} daphne processes, "
            f"{results.get('fanout_steps')} steps a round; updates that never reached every socket, "
            f"left out of reach-all: {results.get('fanout_incomplete', 0)}, "
            f"frames lost: {results.get('fanout_missing', 0)})"
        )
    paused = results.get("paused") or []
    if paused:
        lines.append("")
        lines.append(f"{'paused executions':<20}{'steps/s':>10}{'vs 0':>8}  slowest duty (ms)")
        base = paused[0]["steps_per_s"]
        for level in paused:
            duties = level.get("duties_ms") or {}
            slowest = max(duties.items(), key=lambda kv: kv[1], default=("", 0))
            lines.append(
                f"{level['paused']:<20,}{level['steps_per_s']:>10,.0f}{level['steps_per_s'] / base:>8.2f}"
                f"  {slowest[1]:.1f} {slowest[0]}"
            )
    listing = results.get("executions_list")
    if listing:
        lines.append("")
        lines.append(
            f"GET /api/executions/ first page, {listing['rows']:,} executions (target p95 < "
            f"{listing['target_p95_ms']:.0f} ms)"
        )
        for kind, figures in listing["filters"].items():
            lines.append(f"  by {kind:<36}p50 {figures['p50_ms']:>7.1f} ms   p95 {figures['p95_ms']:>7.1f} ms")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> Path | None:
    """Latency distributions and steps/s against paused executions, as one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        return None
    samples = results.get("samples", {})
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
    for key, label in (("trigger", "trigger"), ("signal", "signal"), ("decision", "decision")):
        values = sorted(samples.get(f"{key}_http_to_commit_ms", []))
        if values:
            left.plot(values, [i / len(values) for i in range(1, len(values) + 1)], label=label)
    left.set(title="HTTP request -> node committed", xlabel="ms (log scale)", ylabel="share of requests", xscale="log")
    left.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    left.xaxis.set_minor_formatter(NullFormatter())
    for key, label in (("fanout_reach_all_ms", "widget updates"), ("fanout_bare_reach_all_ms", "bare group send")):
        values = sorted(samples.get(key, []))
        if values:
            middle.plot(values, [i / len(values) for i in range(1, len(values) + 1)], label=label)
    middle.set(
        title=f"fan-out to {results.get('fanout_sockets', '?')} sockets: reach all",
        xlabel="ms",
        ylabel="share of updates",
    )
    for axes in (left, middle):
        if axes.lines:
            axes.legend()
    paused = results.get("paused") or []
    if paused:
        xs = [max(1, p["paused"]) for p in paused]
        right.plot(xs, [p["steps_per_s"] for p in paused], marker="o", label="engine, starts included")
        right.set(xscale="log", ylim=(0, None))
        right.set_xticks(xs, [f"{p['paused']:,}" for p in paused])
        right.xaxis.set_minor_formatter(NullFormatter())
    right.set(title="steps/s against paused executions", xlabel="paused executions", ylabel="steps/s")
    fig.suptitle(f"make bench ({results['mode']}), {results['machine']['cores']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
