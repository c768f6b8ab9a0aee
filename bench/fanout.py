"""Widget fan-out: many sockets on several daphne processes subscribed to one execution.

Reach-all is the time from a node's commit until every socket has its update; beside it, a
bare Channels group send to the same sockets (bench.asgi), at the same moments relative to
each other as the nodes' commits, measures what the channel layer alone costs. Memory per
socket is the daphne processes' resident memory before and after the sockets, divided.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync

from .common import LOG_DIR, ROOT, rss_kib

BARE_PAD = "x" * 240  # a bare frame about the size of one small node update


@dataclass
class Round:
    reach_ms: list[float] = field(default_factory=list)
    bare_reach_ms: list[float] = field(default_factory=list)
    frames_per_socket_step: float = 0.0
    bytes_per_socket_step: float = 0.0
    bare_frames_per_socket_step: float = 0.0
    missing: int = 0  # (socket, update) pairs that never arrived
    incomplete: int = 0  # updates that never reached every socket (no reach-all time)


class Clients:
    """The socket-holding processes (bench.fanout_client), driven line by line."""

    def __init__(self, *, ws_urls: list[str], token: str, sockets: int, processes: int, env: dict):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        share = [sockets // processes + (1 if i < sockets % processes else 0) for i in range(processes)]
        offsets = [sum(share[:i]) for i in range(processes)]
        self.sockets = sockets
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.fanout_client",
                    "--urls",
                    ",".join(ws_urls),
                    "--token",
                    token,
                    "--count",
                    str(n),
                    "--offset",
                    str(off),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=open(LOG_DIR / f"fanout-client-{i}.log", "w"),
                text=True,
            )
            for i, (n, off) in enumerate(zip(share, offsets))
        ]
        self._read_all()  # {"connected": n} from each

    def _read_all(self) -> list[dict]:
        answers = []
        for proc in self.procs:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a fan-out client exited (code {proc.poll()}): see {LOG_DIR}/fanout-client-*.log")
            answers.append(json.loads(line))
        return answers

    def command(self, **command) -> list[dict]:
        for proc in self.procs:
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()
        return self._read_all()

    def close(self) -> None:
        for proc in self.procs:
            try:
                proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def memory_kib(pids: list[int]) -> int:
    return sum(rss_kib(pid) for pid in pids)


def _merge(answers: list[dict], section: str, key: str) -> tuple[float | None, int]:
    latest, count = None, 0
    for answer in answers:
        at, n = answer[section][key]
        count += n
        if at is not None:
            latest = at if latest is None else max(latest, at)
    return latest, count


async def _send_bare(group: str, seqs: list[str], offsets: list[float]) -> list[float]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    start, sent = time.time() + 0.05, []
    for seq, offset in zip(seqs, offsets):
        delay = start + offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.time())
        text = json.dumps({"event": "bench_bare", "data": {"seq": seq, "pad": BARE_PAD}})
        await layer.group_send(group, {"type": "bench.bare", "text": text})
    return sent


def measure_round(
    clients: Clients,
    watcher,
    *,
    fixtures,
    execution_id,
    segment: int,
    steps: int,
    bare_group: str,
    timeout: float = 120,
) -> Round:
    """Release one segment of the widget chain, then replay its commit times as bare sends."""
    from widgets.services import send_input

    nodes = [f"mark_{segment}_{i}" for i in range(steps)]
    send_input(user=fixtures.user, instance_id=execution_id, widget_id="w0", input_type=f"go{segment}", data=segment)
    answers = clients.command(cmd="expect", nodes=nodes, timeout=timeout)
    commits = [watcher.wait(execution_id, node, timeout=timeout) for node in nodes]
    result = Round()
    for node, committed in zip(nodes, commits):
        latest, count = _merge(answers, "nodes", node)
        result.missing += clients.sockets - count
        if count == clients.sockets:
            result.reach_ms.append(1000 * (latest - committed))
        else:
            result.incomplete += 1
    per = clients.sockets * steps
    result.frames_per_socket_step = sum(a["frames"] for a in answers) / per
    result.bytes_per_socket_step = sum(a["bytes"] for a in answers) / per

    seqs = [f"{segment}-{i}" for i in range(steps)]
    sent = async_to_sync(_send_bare)(bare_group, seqs, [c - commits[0] for c in commits])
    answers = clients.command(cmd="expect", bare=seqs, timeout=timeout)
    for seq, at in zip(seqs, sent):
        latest, count = _merge(answers, "bare", seq)
        result.missing += clients.sockets - count
        if count == clients.sockets:
            result.bare_reach_ms.append(1000 * (latest - at))
        else:
            result.incomplete += 1
    result.bare_frames_per_socket_step = sum(a["frames"] for a in answers) / per
    return result
