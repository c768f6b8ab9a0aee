"""Load a demo tenant, user and workflows (idempotent): what `make run` shows."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from workflows import services
from workflows.models import Membership, Tenant, Workflow

DEMO_WORKFLOWS = {
    "Tell ops about a failure": {
        "description": "The error workflow of Order processing: one e-mail naming what failed (the console backend prints it).",
        "definition": {
            "nodes": [
                {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}, "position": {"x": 0, "y": 40}},
                {
                    "id": "mail",
                    "type": "send-email",
                    "label": "Tell ops",
                    "position": {"x": 220, "y": 40},
                    "config": {
                        "to": "ops@example.com",
                        "subject": "{{Trigger.workflow.name}} failed at {{Trigger.failedNode.label}}",
                        "body": "{{Trigger.error.message}}\n\nInput: {{Trigger.input}}\n{{Trigger.executionUrl}}",
                    },
                },
            ],
            "edges": [{"source": "trigger", "target": "mail"}],
        },
    },
    "Order processing": {
        "description": "Sets an order total, branches on it, sleeps a little and finishes.",
        "errorWorkflow": "Tell ops about a failure",
        "definition": {
            "nodes": [
                {
                    "id": "trigger",
                    "type": "trigger",
                    "label": "Trigger",
                    "position": {"x": 0, "y": 120},
                    "config": {
                        "inputSchema": [
                            {
                                "name": "orderId",
                                "type": "integer",
                                "required": True,
                                "description": "The order's number",
                            },
                            {
                                "name": "amount",
                                "type": "number",
                                "required": True,
                                "description": "Over 100 goes to manual review",
                            },
                        ]
                    },
                },
                {
                    "id": "total",
                    "type": "set",
                    "label": "Compute Total",
                    "position": {"x": 220, "y": 120},
                    "config": {"values": {"orderId": "{{Trigger.orderId}}", "total": "{{Trigger.amount}}"}},
                },
                {
                    "id": "big",
                    "type": "condition",
                    "label": "Big Order",
                    "position": {"x": 440, "y": 120},
                    "config": {"left": "{{Compute Total.total}}", "operator": "gt", "right": 100},
                },
                {
                    "id": "review",
                    "type": "sleep",
                    "label": "Manual Review",
                    "config": {"duration": "5s"},
                    "position": {"x": 660, "y": 40},
                },
                {
                    "id": "fast",
                    "type": "set",
                    "label": "Fast Track",
                    "config": {"values": {"lane": "fast"}},
                    "position": {"x": 660, "y": 200},
                },
                {
                    "id": "done",
                    "type": "set",
                    "label": "Done",
                    "position": {"x": 880, "y": 120},
                    "config": {"values": {"message": "Order {{Trigger.orderId}} processed"}},
                },
            ],
            "edges": [
                {"source": "trigger", "target": "total"},
                {"source": "total", "target": "big"},
                {"source": "big", "target": "review", "branch": "true"},
                {"source": "big", "target": "fast", "branch": "false"},
                {"source": "review", "target": "done"},
                {"source": "fast", "target": "done"},
            ],
        },
    },
}


# Each app's demo: a function called with (tenant=, user=) that is safe to run again.
DEMO_LOADERS = [
    "events.demo.ensure_payment_demo",
    "approvals.demo.seed_approval_demo",
    "widgets.demo.ensure_widget_demo",
]


class Command(BaseCommand):
    help = "Create the demo tenant, the user demo/demo (staff) and the demo workflows."

    def handle(self, *args, **options):
        tenant, _ = Tenant.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
        User = get_user_model()
        user = User.objects.filter(username="demo").first()
        if user is None:
            user = User.objects.create_superuser("demo", "demo@example.com", "demo")
        Membership.objects.get_or_create(tenant=tenant, user=user)
        for loader in DEMO_LOADERS:
            import_string(loader)(tenant=tenant, user=user)
        for name, spec in DEMO_WORKFLOWS.items():
            if not Workflow.objects.filter(tenant=tenant, name=name).exists():
                handler = Workflow.objects.filter(tenant=tenant, name=spec.get("errorWorkflow") or "").first()
                services.create_workflow(
                    tenant=tenant,
                    name=name,
                    description=spec["description"],
                    definition=spec["definition"],
                    user=user,
                    error_workflow_id=handler.pk if handler else None,
                )
        self.stdout.write("demo tenant ready: log in as demo / demo")
