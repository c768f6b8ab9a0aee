"""Remove widget registrations not seen for a while (left by closed or crashed servers)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from widgets.registry import cleanup_stale


class Command(BaseCommand):
    help = "Delete widget connections whose last activity is older than --max-age seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help=f"seconds (default WIDGET_STALE_SECONDS, now {settings.WIDGET_STALE_SECONDS:g})",
        )

    def handle(self, *args, max_age=None, **options):
        removed = cleanup_stale(max_age_seconds=max_age)
        self.stdout.write(f"Removed {removed} stale widget connection(s).")
