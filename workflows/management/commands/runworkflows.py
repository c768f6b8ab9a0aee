"""Run a workflow worker until SIGTERM or SIGINT."""
import os
import signal

from django.core.management.base import BaseCommand

from workflows.worker import Worker


class Command(BaseCommand):
    help = "Run a workflow worker: claims ready node runs, fires deadlines, renews leases."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="step threads (default WORKFLOW_WORKER_CONCURRENCY)")
        parser.add_argument("--name", default=None, help="lease owner name (default host:pid:random)")
        parser.add_argument("--until-idle", action="store_true", help="run ready work in this thread, then exit")

    def handle(self, *args, concurrency=None, name=None, until_idle=False, **options):
        worker = Worker(concurrency=concurrency, name=name)
        if until_idle:
            steps = worker.run_until_idle()
            self.stdout.write(f"ran {steps} step(s)")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop())
        self.stdout.write(f"worker {worker.owner} running with concurrency {worker.concurrency}; SIGTERM stops it")
        worker.run()
        if worker.abandoned:
            # Steps given back still run in this process's threads; end them with it, so a
            # released attempt never runs here and on another worker at the same time.
            self.stdout.write(f"gave back {worker.abandoned} unfinished step(s)")
            self.stdout.flush()
            os._exit(0)
