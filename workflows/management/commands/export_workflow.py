"""Write a workflow (name, description, latest definition) to a JSON file."""

import json

from django.core.management.base import BaseCommand, CommandError

from workflows.editor import export_document
from workflows.ids import as_uuid
from workflows.models import Workflow


class Command(BaseCommand):
    help = "Export a workflow's latest version as JSON (to a file or stdout)."

    def add_arguments(self, parser):
        parser.add_argument("workflow_id")
        parser.add_argument("--output", "-o", default="-", help="file path, or - for stdout")

    def handle(self, workflow_id, output, **options):
        pk = as_uuid(workflow_id)
        workflow = Workflow.objects.filter(pk=pk).first() if pk else None
        if workflow is None:
            raise CommandError(f"Workflow not found: {workflow_id}")
        document = export_document(workflow, workflow.latest_version)
        text = json.dumps(document, indent=2)
        if output == "-":
            self.stdout.write(text)
        else:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(f"wrote {output}")
