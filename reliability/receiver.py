"""A local HTTP receiver of the workflow's effects that deduplicates as a careful service does.

Each POST is one delivery of an effect. The receiver keys it by its `Idempotency-Key` header
(or, from a sender without one, by the logical effect, the body's `run` and `node`) and
applies an effect once per key: a repeated key gets the first answer again. An effect
*applied* twice is a logical effect (run, node) applied under two different keys: the
duplicate a receiver cannot catch, and the figure that must be 0.

Some first deliveries answer 503 (the step is retried with the same key) and some take a
while (a worker stopped mid-step is stopped inside one).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


@dataclass
class Ledger:
    deliveries: int = 0
    applied: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (run, node)
    failed_first: set[str] = field(default_factory=set)
    keyed_by_header: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, key: str, logical: tuple[str, str], *, flaky: bool) -> int:
        """Record one delivery; the HTTP status to answer."""
        with self.lock:
            self.deliveries += 1
            if key in self.applied:
                return 200
            if flaky and key not in self.failed_first:
                self.failed_first.add(key)
                return 503
            self.applied[key] = logical
            return 200

    def effects_by_run(self) -> dict[str, int]:
        with self.lock:
            return Counter(run for run, _ in self.applied.values())

    def repeated_deliveries(self) -> int:
        """Deliveries beyond the first per key (at-least-once made visible), 503s included."""
        with self.lock:
            return self.deliveries - len(self.applied)

    def duplicates(self, runs: Collection[str] | None = None) -> list[tuple[tuple[str, str], list[str]]]:
        """Logical effects (of `runs`, or all) applied more than once, under different keys."""
        keys: dict[tuple[str, str], list[str]] = defaultdict(list)
        with self.lock:
            for key, logical in self.applied.items():
                if runs is None or logical[0] in runs:
                    keys[logical].append(key)
        return [(logical, found) for logical, found in keys.items() if len(found) > 1]


class Receiver:
    """The receiver on a spare port, in threads of this process."""

    def __init__(self):
        self.ledger = Ledger()
        ledger = self.ledger

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                logical = (str(body.get("run")), str(body.get("node")))
                header = self.headers.get("Idempotency-Key")
                if header:
                    with ledger.lock:
                        ledger.keyed_by_header += 1
                key = header or f"{logical[0]}:{logical[1]}"
                if body.get("slow"):
                    time.sleep(float(body["slow"]))
                status = ledger.deliver(key, logical, flaky=bool(body.get("flaky")))
                answer = json.dumps({"key": key, "applied": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a worker killed mid-request leaves a broken pipe: that is the point

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/effect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
