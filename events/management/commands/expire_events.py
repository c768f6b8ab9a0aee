"""Expire due waits and purge stale buffered signals once (workers also do it periodically)."""

import json

from django.core.management.base import BaseCommand

from events import services


class Command(BaseCommand):
    help = "Fire the deadlines of due waits, close orphaned waits and delete expired buffered signals."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(services.expire_and_purge()))
