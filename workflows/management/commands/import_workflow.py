"""Create (or update with --workflow) a workflow from an exported JSON file."""

import json

from django.core.management.base import BaseCommand, CommandError

from workflows import services
from workflows.exceptions import InvalidDefinition
from workflows.models import Tenant, Workflow


class Command(BaseCommand):
    help = "Import a workflow JSON file into a tenant (new workflow, or a new version of --workflow)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--workflow", default=None, help="id of an existing workflow to add a version to")

    def handle(self, path, tenant, workflow, **options):
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("definition"), dict):
            raise CommandError("the file must be an object with a 'definition' object")
        target_tenant = Tenant.objects.filter(slug=tenant).first()
        if target_tenant is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        try:
            if workflow:
                existing = Workflow.objects.filter(pk=workflow, tenant=target_tenant).first()
                if existing is None:
                    raise CommandError(f"Workflow not found in tenant {tenant}: {workflow}")
                result = services.update_workflow(existing, definition=document["definition"])
            else:
                result = services.create_workflow(
                    tenant=target_tenant,
                    name=document.get("name") or "Imported workflow",
                    description=document.get("description", ""),
                    is_active=document.get("isActive", True),
                    definition=document["definition"],
                )
        except InvalidDefinition as exc:
            lines = [f"  {e['nodeId'] or '-'} {e['field']}: {e['message']}" for e in exc.errors]
            raise CommandError("invalid definition:\n" + "\n".join(lines)) from exc
        self.stdout.write(f"{result.pk} v{result.latest_version.number}")
