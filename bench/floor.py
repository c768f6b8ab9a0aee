"""The floor: single-row INSERT+COMMIT round trips into a logged table, so each commit waits
for its WAL flush as the engine's do, on one or several connections (one process each).

    python -m bench.floor postgresql://postgres@127.0.0.1/workflows_bench --connections 4 --seconds 3
prints the commits per second of all connections together.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

TABLE = "bench_floor"


def prepare(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, v int)")
        conn.execute(f"TRUNCATE {TABLE}")


def _commit_loop(url: str, start_at: float, seconds: float, results) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        while time.time() < start_at:
            time.sleep(0.001)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            with conn.transaction():
                conn.execute(f"INSERT INTO {TABLE} (v) VALUES (%s)", (count,))
            count += 1
        results.put(count / (time.perf_counter() - started))


def commits_per_second(url: str, *, connections: int = 1, seconds: float = 3.0) -> float:
    """Commits per second of `connections` processes committing at the same time."""
    prepare(url)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 1.0  # every process connected before the clock runs
    procs = [context.Process(target=_commit_loop, args=(url, start_at, seconds, results)) for _ in range(connections)]
    for proc in procs:
        proc.start()
    rates = [results.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    return sum(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{commits_per_second(args.url, connections=args.connections, seconds=args.seconds):.0f}")


if __name__ == "__main__":
    main()
