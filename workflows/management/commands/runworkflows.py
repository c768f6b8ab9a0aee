"""Run a workflow worker until SIGTERM or SIGINT."""

import os
import signal
from pathlib import Path

from django.core.management.base import BaseCommand

from workflows import health
from workflows.worker import Worker


class Command(BaseCommand):
    help = "Run a workflow worker: claims ready node runs, fires deadlines, renews leases."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=None, help="step threads (default WORKFLOW_WORKER_CONCURRENCY)"
        )
        parser.add_argument("--name", default=None, help="lease owner name (default host:pid:random)")
        parser.add_argument("--until-idle", action="store_true", help="run ready work in this thread, then exit")
        parser.add_argument(
            "--health-file",
            default=None,
            help="touch this file after every heartbeat that reached the database (a liveness probe checks its age)",
        )
        parser.add_argument("--health-port", type=int, default=None, help="serve GET /healthz and /readyz on this port")
        parser.add_argument("--health-host", default="0.0.0.0", help="address of the health port (default all)")

    def handle(
        self,
        *args,
        concurrency=None,
        name=None,
        until_idle=False,
        health_file=None,
        health_port=None,
        health_host="0.0.0.0",
        **options,
    ):
        worker = Worker(concurrency=concurrency, name=name)
        if until_idle:
            steps = worker.run_until_idle()
            self.stdout.write(f"ran {steps} step(s)")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop())
        if health_file:
            path = Path(health_file)
            worker.heartbeat_hooks.append(path.touch)
        if health_port is not None:
            server = health.serve_probes(host=health_host, port=health_port, alive=worker.alive)
            self.stdout.write(f"health probes on http://{health_host}:{server.server_address[1]}/healthz and /readyz")
        self.stdout.write(f"worker {worker.owner} running with concurrency {worker.concurrency}; SIGTERM stops it")
        self.stdout.flush()
        try:
            worker.run()
        finally:
            if health_file:
                Path(health_file).unlink(missing_ok=True)  # a stopped worker is not healthy
        if worker.abandoned:
            # Steps given back still run in this process's threads; end them with it, so a
            # released attempt never runs here and on another worker at the same time.
            self.stdout.write(f"gave back {worker.abandoned} unfinished step(s)")
            self.stdout.flush()
            os._exit(0)
