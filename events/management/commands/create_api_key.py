"""Create a workflow API key and print it once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from events import services
from events.management.commands.signal_event import tenant_from
from workflows.models import Membership


class Command(BaseCommand):
    help = "Create a workflow API key for a tenant; the key is printed once and stored only as a hash."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'Stripe webhook'")
        parser.add_argument("--tenant", help="Tenant slug (needed when there are several tenants)")
        parser.add_argument("--user", required=True, help="Username the key belongs to (webhooks run as this user)")

    def handle(self, *args, **options):
        tenant = tenant_from(options["tenant"])
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"unknown user {options['user']!r}")
        if not Membership.objects.filter(tenant=tenant, user=user).exists():
            raise CommandError(f"user {user.username!r} is not a member of tenant {tenant.slug!r}")
        api_key, raw = services.create_api_key(tenant=tenant, name=options["name"], user=user)
        self.stderr.write(f"Created API key {api_key.name!r} ({api_key.prefix}) for {tenant.slug}; copy it now:")
        self.stdout.write(raw)
