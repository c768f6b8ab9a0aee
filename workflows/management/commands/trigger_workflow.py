"""Trigger a workflow from the shell and print the execution id."""

import json

from django.core.management.base import BaseCommand, CommandError

from workflows.exceptions import WorkflowError
from workflows.services import trigger_workflow


class Command(BaseCommand):
    help = "Start an execution of a workflow; prints its id."

    def add_arguments(self, parser):
        parser.add_argument("workflow_id")
        parser.add_argument("--user", required=True, help="username to run as")
        parser.add_argument("--input", default="{}", help="JSON object")
        parser.add_argument(
            "--workflow-version", dest="workflow_version", default=None, help="version number (default: latest)"
        )
        parser.add_argument("--idempotency-key", default=None)

    def handle(self, workflow_id, user, input, workflow_version, idempotency_key, **options):
        try:
            payload = json.loads(input)
        except ValueError as exc:
            raise CommandError(f"--input is not valid JSON: {exc}") from exc
        try:
            result = trigger_workflow(
                workflow_id=workflow_id,
                user_name=user,
                input=payload,
                version=workflow_version,
                idempotency_key=idempotency_key,
            )
        except WorkflowError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(str(result.execution_id))
