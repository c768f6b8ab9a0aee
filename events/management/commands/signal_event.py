"""Send a signal to the execution waiting on NAMESPACE / KEY, as an operator would."""

import json

from django.core.management.base import BaseCommand, CommandError

from events import services
from events.serializers import SignalAnswerSerializer
from workflows.exceptions import WorkflowError
from workflows.models import Tenant


def tenant_from(slug: str | None) -> Tenant:
    """The tenant named by slug, or the only one there is."""
    if slug:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        return tenant
    tenants = list(Tenant.objects.all()[:2])
    if len(tenants) != 1:
        raise CommandError("--tenant SLUG is required when there is not exactly one tenant")
    return tenants[0]


class Command(BaseCommand):
    help = "Deliver an event to the execution waiting on NAMESPACE / KEY (or buffer it)."

    def add_arguments(self, parser):
        parser.add_argument("namespace")
        parser.add_argument("key")
        parser.add_argument("--payload", default="{}", help="JSON object delivered as the event's payload")
        parser.add_argument("--tenant", help="Tenant slug (needed when there are several tenants)")
        parser.add_argument("--idempotency-key", help="Retries with the same key get the first answer")
        parser.add_argument("--source", default="manage.py signal_event", help="Recorded as receivedFrom")

    def handle(self, *args, **options):
        try:
            payload = json.loads(options["payload"])
        except ValueError as exc:
            raise CommandError(f"--payload is not valid JSON: {exc}") from None
        tenant = tenant_from(options["tenant"])
        try:
            result = services.signal_event(
                tenant_id=tenant.pk,
                namespace=options["namespace"],
                key=options["key"],
                payload=payload,
                source=options["source"],
                idempotency_key=options["idempotency_key"],
            )
        except WorkflowError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(SignalAnswerSerializer(result).data))
