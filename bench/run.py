"""make bench: what a user of the engine pays, against the commit floor and DBOS, in one run.

    python -m bench.run            # the full run (the README's figures)
    python -m bench.run --quick    # a smoke run for CI: small sizes, never fails on timing

On the local PostgreSQL (a database of its own, recreated: BENCH_DATABASE_URL) and Redis
(BENCH_REDIS_URL, with a channel prefix of its own). Throughput rounds interleave the
floor, DBOS and the engine, in a rotating order, so noise hits all alike; then HTTP latency
and widget fan-out on an idle server; then the apps' own benchmarks; then steps/s against
a growing number of paused executions. Prints a table, writes bench/results.json (every
figure as the median of the rounds with min and max) and a plot, bench/results.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import traceback
import uuid
from pathlib import Path

from .common import (
    ROOT,
    Rounds,
    bench_environment,
    database_name,
    free_port,
    libpq,
    machine,
    migrated_template,
    percentile,
    raise_open_files_limit,
    recreate_database,
    start,
    start_workers,
    stop,
    wait_for_port,
    with_database,
)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/workflows_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run; never fails on timing")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
        help="a database of the benchmark's own (its name must contain 'bench'; it is recreated)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--rounds", type=int, help="interleaved throughput rounds (default 5, quick 2)")
    parser.add_argument("--executions", type=int, help="chains of 10 steps per throughput measurement (400, quick 100)")
    parser.add_argument("--starters", type=int, default=2, help="threads starting executions while the clock runs")
    parser.add_argument("--workers", type=int, default=2, help="runworkflows processes (and DBOS processes)")
    parser.add_argument("--concurrency", type=int, default=None, help="step threads per worker (default: the setting)")
    parser.add_argument("--floor-seconds", type=float, help="length of each floor measurement (3, quick 1)")
    parser.add_argument("--latency-samples", type=int, help="requests of each kind per round (100, quick 20)")
    parser.add_argument("--sockets", type=int, help="widget sockets for the fan-out (1000, quick 200)")
    parser.add_argument("--fanout-steps", type=int, help="steps per fan-out round (20, quick 5)")
    parser.add_argument(
        "--paused", help="paused-execution levels, comma-separated (0,1000,10000,100000; quick 0,300,1000)"
    )
    parser.add_argument(
        "--dbos-concurrency", type=int, default=None, help="DBOS workflows at once per process (default: no limit)"
    )
    parser.add_argument("--dbos-poll", type=float, default=0.1, help="DBOS queue polling interval, seconds")
    parser.add_argument(
        "--execution-rows", type=int, help="executions in the table for the executions-list part (1000000, quick 20000)"
    )
    parser.add_argument("--skip", default="", help="parts to leave out: throughput,dbos,http,fanout,apps,paused")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)
    full = {
        "rounds": 5,
        "executions": 400,
        "floor_seconds": 3.0,
        "latency_samples": 100,
        "sockets": 1000,
        "fanout_steps": 20,
        "paused": "0,1000,10000,100000",
        "execution_rows": 1_000_000,
    }
    quick = {
        "rounds": 2,
        "executions": 100,
        "floor_seconds": 1.0,
        "latency_samples": 20,
        "sockets": 200,
        "fanout_steps": 5,
        "paused": "0,300,1000",
        "execution_rows": 20_000,
    }
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.paused = [int(x) for x in str(args.paused).split(",") if x.strip()]
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.url = args.database_url
        self.pg_url = libpq(self.url)
        self.datname = database_name(self.url)
        self.dbos_url = libpq(with_database(self.url, f"{self.datname}_dbos_sys"))
        self.prefix = f"bench{uuid.uuid4().hex[:8]}"
        self.env = bench_environment(database_url=self.url, redis_url=args.redis_url, channel_prefix=self.prefix)
        self.rounds = Rounds()
        self.results: dict = {"unavailable": {}}
        self.procs: list = []

    # --- Set-up ---------------------------------------------------------------------------

    def setup(self) -> None:
        if not self.url.startswith(("postgres://", "postgresql://")):
            raise SystemExit("the benchmark runs on PostgreSQL: BENCH_DATABASE_URL=postgres://...")
        recreate_database(self.url, template=migrated_template(self.url, self.env))
        recreate_database(with_database(self.url, f"{self.datname}_dbos_sys"))
        os.environ.update(self.env)
        import django

        django.setup()
        import psycopg
        from django.conf import settings

        from . import fixtures

        self.pg = psycopg.connect(self.pg_url, autocommit=True)
        self.concurrency = self.args.concurrency or settings.WORKFLOW_WORKER_CONCURRENCY
        self.fx = fixtures.create()
        self.chain = fixtures.workflow(self.fx, "chain", fixtures.chain())

    # --- Throughput rounds ------------------------------------------------------------------

    def throughput(self) -> None:
        from . import floor

        parts = ["floor", "dbos", "engine"]
        for r in range(self.args.rounds):
            order = parts[r % 3 :] + parts[: r % 3]
            figures = {}
            for part in order:
                if part == "floor":
                    figures["floor_tps"] = floor.commits_per_second(self.pg_url, seconds=self.args.floor_seconds)
                    figures["floor_tps_4"] = floor.commits_per_second(
                        self.pg_url, connections=4, seconds=self.args.floor_seconds
                    )
                elif part == "dbos":
                    figures.update(self._dbos_round())
                else:
                    figures.update(self._engine_round())
            if figures.get("dbos_steps_per_s"):
                figures["ratio_vs_dbos"] = figures["steps_per_s"] / figures["dbos_steps_per_s"]
            # A step in single durable commits (one connection; four, nearer the workers' eight).
            figures["floor_commits_per_step"] = figures["floor_tps"] / figures["steps_per_s_steps_only"]
            figures["floor4_commits_per_step"] = figures["floor_tps_4"] / figures["steps_per_s_steps_only"]
            # Time of one execution with its start against without, in steps' worth.
            figures["start_cost_steps"] = 10 * (figures["steps_per_s_steps_only"] / figures["steps_per_s"] - 1)
            if figures.get("worker_cpu_ms_per_step_no_redis"):
                figures["redis_cpu_overhead_pct"] = 100 * (
                    figures["worker_cpu_ms_per_step"] / figures["worker_cpu_ms_per_step_no_redis"] - 1
                )
            for key, value in figures.items():
                self.rounds.add(key, value)
            shown = ", ".join(
                f"{k} {v:,.1f}"
                for k, v in figures.items()
                if k
                in (
                    "floor_tps",
                    "floor_tps_4",
                    "steps_per_s",
                    "steps_per_s_steps_only",
                    "dbos_steps_per_s",
                    "ratio_vs_dbos",
                )
            )
            print(f"round {r + 1}/{self.args.rounds} ({' '.join(order)}): {shown}", flush=True)

    def _engine_round(self) -> dict:
        from . import throughput

        n = self.args.executions
        sizes = dict(executions=n, starters=self.args.starters, pg_conn=self.pg, datname=self.datname)
        workers = start_workers(self.args.workers, env=self.env, concurrency=self.concurrency, tag="redis")
        try:
            with_starts = throughput.engine(self.fx, self.chain, workers=workers, **sizes)
            steps_only = throughput.engine(self.fx, self.chain, workers=workers, starts_included=False, **sizes)
        finally:
            stop(workers)
        # The same on the in-memory channel layer (the embedded default's publishing): what Redis adds.
        quiet_env = {**self.env, "REDIS_URL": ""}
        workers = start_workers(self.args.workers, env=quiet_env, concurrency=self.concurrency, tag="noredis")
        try:
            no_redis = throughput.engine(self.fx, self.chain, workers=workers, starts_included=False, **sizes)
        finally:
            stop(workers)
        return {
            "steps_per_s": with_starts.steps_per_s,
            "steps_per_s_steps_only": steps_only.steps_per_s,
            "steps_per_s_steps_only_no_redis": no_redis.steps_per_s,
            "worker_cpu_ms_per_step_with_starts": with_starts.worker_cpu_ms_per_step,
            "worker_cpu_ms_per_step": steps_only.worker_cpu_ms_per_step,
            "worker_cpu_ms_per_step_no_redis": no_redis.worker_cpu_ms_per_step,
            "pg_cpu_ms_per_step": steps_only.pg_cpu_ms_per_step,
            "pg_cpu_ms_per_step_with_starts": with_starts.pg_cpu_ms_per_step,
        }

    def _dbos_round(self) -> dict:
        if "dbos" in self.args.skip or self.results["unavailable"].get("dbos_steps_per_s"):
            return {}
        from . import dbos_peer, throughput

        workers = []
        try:
            workers = dbos_peer.start_workers(
                self.args.workers,
                system_database_url=self.dbos_url,
                env=self.env,
                concurrency=self.args.dbos_concurrency,
                poll=self.args.dbos_poll,
            )
            peer = dbos_peer.Peer(self.dbos_url)
        except Exception as exc:  # no dbos package, or it cannot start: say why, never a number
            stop(workers)
            reason = f"DBOS could not run: {type(exc).__name__}: {exc}".splitlines()[0][:200]
            self.results["unavailable"].update(dbos_steps_per_s=reason, ratio_vs_dbos=reason)
            print(reason, file=sys.stderr)
            return {}
        try:
            run = throughput.dbos(
                peer,
                executions=self.args.executions,
                starters=self.args.starters,
                workers=workers,
                pg_conn=self.pg,
                datname=database_name(self.dbos_url),
            )
        finally:
            peer.close()
            stop(workers)
        return {
            "dbos_steps_per_s": run.steps_per_s,
            "dbos_pg_cpu_ms_per_step": run.pg_cpu_ms_per_step,
            "dbos_worker_cpu_ms_per_step": run.worker_cpu_ms_per_step,
        }

    # --- Latency on an idle server: HTTP, then fan-out -------------------------------------------

    def latency(self) -> None:
        from . import fixtures
        from .latency import CommitWatcher

        servers, ports = [], []
        for i in range(2):
            port = free_port()
            env = {**self.env, "BENCH_BARE_GROUP": f"{self.prefix}-bare"}
            proc = start(
                f"daphne-{i}",
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "bench.asgi:application"],
                env,
            )
            servers.append(proc)
            ports.append(port)
        self.procs += servers
        workers = start_workers(self.args.workers, env=self.env, concurrency=self.concurrency, tag="latency")
        self.procs += workers
        watcher = CommitWatcher(self.pg_url)
        try:
            for proc, port in zip(servers, ports):
                wait_for_port(proc, port)
            if "http" not in self.args.skip:
                self._http(ports[0], watcher, fixtures)
            if "fanout" not in self.args.skip:
                self._fanout(servers, ports, watcher, fixtures)
        finally:
            watcher.close()
            stop(workers + servers)

    def _http(self, port: int, watcher, fixtures) -> None:
        from .latency import Client, measure_round, prepare_paused

        fx = self.fx
        triggered = fixtures.workflow(fx, "http trigger", fixtures.trigger_then_mark())
        signalled = fixtures.workflow(fx, "http signal", fixtures.signal_then_mark())
        decided = fixtures.workflow(fx, "http decision", fixtures.decision_then_mark(fx.user.username))
        client = Client(port)
        try:
            # Warm the server (imports, first connections): not measured.
            keys, approvals = prepare_paused(
                fx, signal_workflow=signalled, decision_workflow=decided, count=3, tag="warm"
            )
            measure_round(fx, watcher, client, trigger_workflow=triggered, keys=keys, approvals=approvals)
            for r in range(self.args.rounds):
                keys, approvals = prepare_paused(
                    fx,
                    signal_workflow=signalled,
                    decision_workflow=decided,
                    count=self.args.latency_samples,
                    tag=f"r{r}",
                )
                time.sleep(0.5)
                samples = measure_round(fx, watcher, client, trigger_workflow=triggered, keys=keys, approvals=approvals)
                names = {
                    "trigger": "trigger_http",
                    "signal": "signal_http_to_successor",
                    "decision": "decision_http_to_successor",
                }
                for kind, name in names.items():
                    values = samples.to_commit[kind]
                    self.rounds.add(f"{name}_p50_ms", percentile(values, 0.5))
                    self.rounds.add(f"{name}_p99_ms", percentile(values, 0.99))
                    self.rounds.add(f"{kind}_http_answer_p50_ms", percentile(samples.to_answer[kind], 0.5))
                    self.rounds.add(f"{kind}_http_answer_p99_ms", percentile(samples.to_answer[kind], 0.99))
                    self.rounds.extend(f"{kind}_http_to_commit_ms", values)
                    self.rounds.extend(f"{kind}_http_answer_ms", samples.to_answer[kind])
                print(
                    f"http round {r + 1}/{self.args.rounds}: "
                    + ", ".join(
                        f"{kind} p50 {percentile(samples.to_commit[kind], 0.5):.1f} ms "
                        f"p99 {percentile(samples.to_commit[kind], 0.99):.1f} ms"
                        for kind in names
                    ),
                    flush=True,
                )
            self.results["http_requests_per_connection"] = client.requests / max(1, client.connections)
        finally:
            client.close()

    def _fanout(self, servers, ports, watcher, fixtures) -> None:
        from websockets.sync.client import connect

        from workflows.models import Execution
        from workflows.services import trigger_workflow

        from .fanout import Clients, measure_round, memory_kib

        fx, steps, rounds = self.fx, self.args.fanout_steps, self.args.rounds
        workflow = fixtures.workflow(fx, "fan-out", fixtures.widget_segments(rounds, steps))
        execution_id = trigger_workflow(workflow_id=workflow.pk, user_name=fx.user.username).execution_id
        deadline = time.monotonic() + 60
        while Execution.objects.get(pk=execution_id).status != "paused":
            if time.monotonic() > deadline:
                raise RuntimeError("the fan-out execution did not reach its first widget input")
            time.sleep(0.1)
        frame = {
            "workflowID": str(workflow.pk),
            "mode": "subscribe",
            "instanceID": str(execution_id),
            "widgetType": "metric",
            "widgetConfig": {"value": "{{ctx.R0 S0.i}}", "label": "bench"},
        }
        ws_urls = [f"ws://127.0.0.1:{p}" for p in ports]
        # Warm each server's socket path once (imports, first connections): not measured.
        for url in ws_urls:
            with connect(f"{url}/ws/widgets/?token={fx.token}") as ws:
                ws.send(json.dumps({"event": "widget_workflow_connect", "data": {**frame, "widgetID": "warm"}}))
                while json.loads(ws.recv(timeout=30))["event"] not in (
                    "widget_workflow_connected",
                    "widget_workflow_error",
                ):
                    pass
        time.sleep(2)
        pids = [s.pid for s in servers]
        base = memory_kib(pids)
        sockets = self.args.sockets
        clients = Clients(ws_urls=ws_urls, token=fx.token, sockets=sockets, processes=2, env=self.env)
        try:
            time.sleep(2)
            connected = memory_kib(pids)
            answer = clients.command(cmd="subscribe", frame=frame)
            failed = sum(a["failed"] for a in answer)
            if failed:
                raise RuntimeError(f"{failed} of {sockets} widgets could not subscribe: see bench/logs/")
            time.sleep(2)
            subscribed = memory_kib(pids)
            # Measured once (sockets stay open for the rounds), kept in the same shape as the rest.
            self.rounds.add("kib_per_connected_socket", (connected - base) / sockets)
            self.rounds.add("kib_per_idle_widget", (subscribed - base) / sockets)
            missing = incomplete = 0
            for r in range(rounds):
                result = measure_round(
                    clients,
                    watcher,
                    fixtures=fx,
                    execution_id=execution_id,
                    segment=r,
                    steps=steps,
                    bare_group=f"{self.prefix}-bare",
                )
                missing += result.missing
                incomplete += result.incomplete
                self.rounds.extend("fanout_reach_all_ms", result.reach_ms)
                self.rounds.extend("fanout_bare_reach_all_ms", result.bare_reach_ms)
                widget_p99, bare_p99 = percentile(result.reach_ms, 0.99), percentile(result.bare_reach_ms, 0.99)
                self.rounds.add("fanout_1000_reach_all_p50_ms", percentile(result.reach_ms, 0.5))
                self.rounds.add("fanout_1000_reach_all_p99_ms", widget_p99)
                self.rounds.add("fanout_bare_reach_all_p50_ms", percentile(result.bare_reach_ms, 0.5))
                self.rounds.add("fanout_bare_reach_all_p99_ms", bare_p99)
                self.rounds.add("fanout_p99_vs_bare", widget_p99 / bare_p99 if bare_p99 else None)
                self.rounds.add("fanout_frames_per_socket_step", result.frames_per_socket_step)
                self.rounds.add("fanout_kib_per_socket_step", result.bytes_per_socket_step / 1024)
                print(
                    f"fan-out round {r + 1}/{rounds}: reach all p50 {percentile(result.reach_ms, 0.5):,.0f} ms "
                    f"p99 {widget_p99:,.0f} ms; bare p50 {percentile(result.bare_reach_ms, 0.5):,.0f} ms "
                    f"p99 {bare_p99:,.0f} ms; {result.frames_per_socket_step:.1f} frames per socket per step",
                    flush=True,
                )
            self.results.update(
                fanout_sockets=sockets,
                fanout_steps=steps,
                fanout_daphnes=len(servers),
                fanout_missing=missing,
                fanout_incomplete=incomplete,
            )
        finally:
            clients.close()

    # --- The apps' own benchmarks -----------------------------------------------------------------

    def apps(self) -> None:
        quick = self.args.quick
        runs = {
            "events": ["bench/events_bench.py", "20" if quick else "50"],
            "approvals": ["bench/approvals_bench.py", "30" if quick else "100"],
            "widgets": [
                "bench/widgets_bench.py",
                "--widgets",
                "10" if quick else "20",
                "--steps",
                "5" if quick else "20",
            ],
            "builder": ["bench/builder_bench.py", "--repeat", "10" if quick else "50"],
            "inputs": ["bench/inputs_bench.py", "100" if quick else "500"],
            # A database of its own, so the million rows never weigh on the paused-executions part.
            "executions": [
                "bench/executions_bench.py",
                "--rows",
                str(self.args.execution_rows),
                "--samples",
                "30" if quick else "100",
            ],
        }
        self.results["apps"] = {}
        for name, argv in runs.items():
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, *argv], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=900
            )
            out = done.stdout.strip()
            if done.returncode:
                out += (
                    f"\n(exit {done.returncode}) " + done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
                )
            self.results["apps"][name] = out
            last = out.splitlines()[-1] if out else ""
            if last.startswith("{"):  # a part that ends with its figures as JSON
                self.results.update(json.loads(last))
            print(f"--- {name} ({time.monotonic() - started:.0f}s)\n{out}", flush=True)
            if done.returncode:
                raise RuntimeError(f"bench/{name}_bench.py failed:\n{done.stderr[-2000:]}")

    # --- Paused executions ----------------------------------------------------------------------

    def paused(self) -> None:
        from . import fixtures, throughput

        fx = self.fx
        waiting = fixtures.workflow(fx, "paused", fixtures.paused_forever())
        workers = start_workers(self.args.workers, env=self.env, concurrency=self.concurrency, tag="paused")
        levels, have = [], 0
        try:
            for level in self.args.paused:
                started = time.monotonic()
                while have < level:  # in chunks, saying how far it got: 100k takes minutes
                    chunk = min(10_000, level - have)
                    throughput.add_paused(fx, waiting, count=chunk, offset=have, starters=self.args.starters)
                    have += chunk
                    print(f"paused executions: {have:,} ({time.monotonic() - started:.0f}s)", flush=True)
                self.pg.execute("VACUUM ANALYZE")
                runs = [
                    throughput.engine(
                        fx,
                        self.chain,
                        executions=self.args.executions,
                        starters=self.args.starters,
                        workers=workers,
                        pg_conn=self.pg,
                        datname=self.datname,
                    )
                    for _ in range(1 if self.args.quick else 2)
                ]
                rate = sorted(r.steps_per_s for r in runs)[len(runs) // 2]
                duties = throughput.duty_costs()
                levels.append(
                    {
                        "paused": level,
                        "steps_per_s": rate,
                        "steps_per_s_runs": [r.steps_per_s for r in runs],
                        "worker_cpu_ms_per_step": runs[0].worker_cpu_ms_per_step,
                        "duties_ms": duties,
                    }
                )
                print(f"  {level:,} paused: {rate:,.0f} steps/s; duties (ms): {duties}", flush=True)
        finally:
            stop(workers)
        self.results["paused"] = levels

    # --- Results ------------------------------------------------------------------------------------

    def finish(self, started: float) -> dict:
        from . import report

        results = {
            "mode": "quick" if self.args.quick else "full",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "rounds": self.args.rounds,
            "machine": self.machine_start,
            "machine_end": machine(),
            "cores": self.machine_start["cores"],
            "load_avg": [
                self.machine_start["load_avg_1m"],
                self.machine_start["load_avg_5m"],
                self.machine_start["load_avg_15m"],
            ],
            "settings": {
                "executions": self.args.executions,
                "steps": 10,
                "workers": self.args.workers,
                "concurrency": self.concurrency,
                "starters": self.args.starters,
                "latency_samples_per_round": self.args.latency_samples,
                "dbos_concurrency": self.args.dbos_concurrency,
                "dbos_poll_seconds": self.args.dbos_poll,
            },
            **self.rounds.summary(),
            **self.results,
            "seconds": round(time.monotonic() - started),
            "samples": {k: [round(v, 3) for v in vals] for k, vals in self.rounds.samples.items()},
        }
        for key in ("dbos_steps_per_s", "ratio_vs_dbos"):
            results.setdefault(key, {"median": None, "min": None, "max": None, "rounds": []})
        output = Path(self.args.output)
        output.write_text(json.dumps(results, indent=1) + "\n")
        png = report.plot(results, output.with_suffix(".png"))
        print()
        print(report.table(results))
        print(
            f"\nwrote {output}"
            + (f" and {png}" if png else " (no plot: matplotlib is not installed)")
            + f"; {results['seconds']}s"
        )
        return results


def main(argv=None) -> int:
    args = options(argv)
    raise_open_files_limit()
    bench = Bench(args)
    started = time.monotonic()
    bench.machine_start = machine()
    print(f"make bench ({'quick' if args.quick else 'full'}) on {bench.datname}: {bench.machine_start}", flush=True)
    phases = [
        ("setup", bench.setup, True),
        ("throughput", bench.throughput, "throughput" not in args.skip),
        ("latency", bench.latency, not {"http", "fanout"} <= args.skip),
        ("apps", bench.apps, "apps" not in args.skip),
        ("paused", bench.paused, "paused" not in args.skip),
    ]
    try:
        for name, run, wanted in phases:
            if wanted:
                begun = time.monotonic()
                print(f"[{begun - started:.0f}s] {name}", flush=True)
                run()
                bench.results.setdefault("phase_seconds", {})[name] = round(time.monotonic() - begun)
        bench.finish(started)
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        stop(bench.procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
