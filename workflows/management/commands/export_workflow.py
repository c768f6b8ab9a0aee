"""Write a workflow (name, description, latest definition) to a JSON file."""
import json

from django.core.management.base import BaseCommand, CommandError

from workflows.models import Workflow


class Command(BaseCommand):
    help = "Export a workflow's latest version as JSON (to a file or stdout)."

    def add_arguments(self, parser):
        parser.add_argument("workflow_id")
        parser.add_argument("--output", "-o", default="-", help="file path, or - for stdout")

    def handle(self, workflow_id, output, **options):
        workflow = Workflow.objects.filter(pk=workflow_id).first() if _is_uuid(workflow_id) else None
        if workflow is None:
            raise CommandError(f"Workflow not found: {workflow_id}")
        version = workflow.latest_version
        document = {
            "format": "workflow/v1",
            "name": workflow.name,
            "description": workflow.description,
            "isActive": workflow.is_active,
            "version": version.number if version else None,
            "definition": version.definition if version else None,
        }
        text = json.dumps(document, indent=2)
        if output == "-":
            self.stdout.write(text)
        else:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(f"wrote {output}")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
