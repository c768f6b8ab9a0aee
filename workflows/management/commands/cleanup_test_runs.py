"""Delete finished test runs older than a duration (default settings.WORKFLOW_TEST_RUN_MAX_AGE)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.durations import parse_duration
from workflows.testruns import cleanup_test_runs


class Command(BaseCommand):
    help = "Delete finished test executions older than --older-than (e.g. 12h, 7d), and unused test drafts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", default=None, help=f"a duration (default {settings.WORKFLOW_TEST_RUN_MAX_AGE})"
        )
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args, older_than=None, dry_run=False, **options):
        try:
            age = parse_duration(older_than or settings.WORKFLOW_TEST_RUN_MAX_AGE)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from exc
        count = cleanup_test_runs(older_than=age, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {count} test execution(s) older than {older_than or settings.WORKFLOW_TEST_RUN_MAX_AGE}."
        )
