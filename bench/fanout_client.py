"""One process holding many widget sockets for the fan-out benchmark.

It connects its sockets (round robin over the daphne URLs), then obeys one JSON command
per line on stdin and answers one JSON line on stdout:

    {"cmd": "subscribe", "frame": {...}}    every socket subscribes a widget (its own widgetID)
    {"cmd": "expect", "nodes": [...], "bare": [...], "timeout": 60}
        wait until every socket has the success update of every node (the last frame that
        says so) and every bare frame; answer, per node and per bare frame, the latest
        arrival over the sockets and how many sockets got it, and the frames received
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect

FINAL = {None, "success", "error"}


def node_updates(frame: dict) -> list[str]:
    """The node ids whose final (success or error) update this frame carries, wherever a
    frame puts them: `data`, `data.update`, `data.lastNode` (the node that ended the
    execution, in its final status), or a list of updates under `data`."""
    data = frame.get("data")
    if not isinstance(data, dict):
        return []
    found = []
    candidates = [data, data.get("update"), data.get("lastNode")]
    for value in data.values():
        if isinstance(value, list):
            candidates += [v for v in value if isinstance(v, dict)]
    for item in candidates:
        if isinstance(item, dict):
            node = item.get("nodeID") or item.get("nodeId")
            if isinstance(node, str) and item.get("status") in FINAL:
                found.append(node)
    return found


class Sockets:
    def __init__(self, urls: list[str], token: str, count: int, offset: int):
        self.urls, self.token, self.count, self.offset = urls, token, count, offset
        self.sockets = []
        self.node_seen: dict[str, dict[int, float]] = {}
        self.bare_seen: dict[str, dict[int, float]] = {}
        self.frames = 0
        self.bytes = 0
        self.last_frame = 0.0
        self.replies: dict[int, asyncio.Future] = {}

    async def open(self) -> None:
        limit = asyncio.Semaphore(50)

        async def one(i):
            async with limit:
                url = f"{self.urls[(self.offset + i) % len(self.urls)]}/ws/widgets/?token={self.token}"
                return await connect(url, ping_interval=None, max_size=None, open_timeout=60)

        self.sockets = await asyncio.gather(*(one(i) for i in range(self.count)))
        for i, ws in enumerate(self.sockets):
            asyncio.get_running_loop().create_task(self._read(i, ws))

    async def _read(self, i: int, ws) -> None:
        async for message in ws:
            arrived = time.time()
            self.frames += 1
            self.bytes += len(message)
            self.last_frame = arrived
            frame = json.loads(message)
            event = frame.get("event")
            if event == "bench_bare":
                self.bare_seen.setdefault(frame["data"]["seq"], {})[i] = arrived
                continue
            if event in ("widget_workflow_connected", "widget_workflow_error") and i in self.replies:
                future = self.replies.pop(i)
                if not future.done():
                    future.set_result(event == "widget_workflow_connected")
            for node in node_updates(frame):
                self.node_seen.setdefault(node, {})[i] = arrived

    async def subscribe(self, frame: dict) -> dict:
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(20)

        async def one(i, ws):
            async with limit:
                self.replies[i] = loop.create_future()
                data = {**frame, "widgetID": f"w{self.offset + i}"}
                await ws.send(json.dumps({"event": "widget_workflow_connect", "data": data}))
                return await asyncio.wait_for(self.replies[i], 120)

        results = await asyncio.gather(*(one(i, ws) for i, ws in enumerate(self.sockets)), return_exceptions=True)
        ok = sum(1 for r in results if r is True)
        self.reset()
        return {"subscribed": ok, "failed": len(results) - ok}

    def reset(self) -> None:
        self.node_seen.clear()
        self.bare_seen.clear()
        self.frames = self.bytes = 0

    async def expect(self, nodes: list[str], bare: list[str], timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        everyone = len(self.sockets)

        def complete() -> bool:
            return all(len(self.node_seen.get(n, ())) == everyone for n in nodes) and all(
                len(self.bare_seen.get(s, ())) == everyone for s in bare
            )

        while not complete() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        # A node may come in several frames, and what is late must not spill into the next
        # measurement: wait for the stream to go quiet (a while longer after a timeout).
        drain = time.monotonic() + max(5.0, timeout / 2)
        while time.time() - self.last_frame < 0.3 and time.monotonic() < drain:
            await asyncio.sleep(0.05)
        answer = {
            "nodes": {n: _latest(self.node_seen.get(n, {})) for n in nodes},
            "bare": {s: _latest(self.bare_seen.get(s, {})) for s in bare},
            "frames": self.frames,
            "bytes": self.bytes,
            "sockets": everyone,
        }
        self.reset()
        return answer

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


def _latest(arrivals: dict[int, float]) -> list:
    return [max(arrivals.values()) if arrivals else None, len(arrivals)]


async def serve(args) -> None:
    sockets = Sockets(args.urls.split(","), args.token, args.count, args.offset)
    await sockets.open()
    print(json.dumps({"connected": len(sockets.sockets)}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["cmd"] == "subscribe":
            answer = await sockets.subscribe(command["frame"])
        elif command["cmd"] == "expect":
            answer = await sockets.expect(command.get("nodes", []), command.get("bare", []), command.get("timeout", 60))
        elif command["cmd"] == "quit":
            break
        else:
            answer = {"error": f"unknown command {command['cmd']!r}"}
        print(json.dumps(answer), flush=True)
    await sockets.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True, help="comma-separated ws://host:port of the daphne processes")
    parser.add_argument("--token", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
