"""A demo workflow with a Request Approval node, for `manage.py seed_demo`."""

from __future__ import annotations

from workflows import services
from workflows.models import Execution, Tenant, Workflow

DEMO_NAME = "Expense approval"

DEMO_DEFINITION = {
    "nodes": [
        {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}, "position": {"x": 0, "y": 120}},
        {
            "id": "approval",
            "type": "approvals/request",
            "label": "Request Approval",
            "position": {"x": 240, "y": 120},
            "config": {
                "title": "Expense {{Trigger.expenseId}}: {{Trigger.amount}} EUR",
                "description": "{{Trigger.employee}} asks to be reimbursed for: {{Trigger.reason}}",
                "approvalType": "single",
                "approvers": "demo",
                "expiresIn": "7d",
                "onRejection": "continue",
                "onExpiration": "continue",
                "contextData": {
                    "employee": "{{Trigger.employee}}",
                    "amount": "{{Trigger.amount}}",
                    "reason": "{{Trigger.reason}}",
                },
                "sendNotification": True,
                "emailSubject": "Please approve: {{title}}",
                "formFields": [
                    {
                        "key": "costCenter",
                        "label": "Cost center",
                        "type": "select",
                        "required": True,
                        "options": ["Sales", "Engineering", "Operations"],
                    },
                    {"key": "note", "label": "Note for accounting", "type": "template-textarea"},
                ],
            },
        },
        {
            "id": "record",
            "type": "set",
            "label": "Record Decision",
            "position": {"x": 480, "y": 120},
            "config": {
                "values": {
                    "expenseId": "{{Trigger.expenseId}}",
                    "decision": "{{Request Approval.decision}}",
                    "decisions": "{{Request Approval.decisions}}",
                }
            },
        },
    ],
    "edges": [{"source": "trigger", "target": "approval"}, {"source": "approval", "target": "record"}],
}

DEMO_INPUT = {"expenseId": "EXP-1001", "amount": 240, "employee": "demo", "reason": "Conference train tickets"}


def seed_approval_demo(*, tenant: Tenant, user) -> Workflow:
    """Create the demo approval workflow once, and start one execution so the inbox has a request."""
    workflow = Workflow.objects.filter(tenant=tenant, name=DEMO_NAME).first()
    if workflow is None:
        workflow = services.create_workflow(
            tenant=tenant,
            name=DEMO_NAME,
            description="Asks the demo user to approve an expense, then records the decision.",
            definition=DEMO_DEFINITION,
            user=user,
        )
    if not Execution.objects.filter(workflow=workflow).exists():
        services.trigger_workflow(workflow_id=workflow.pk, user_name=user.get_username(), input=DEMO_INPUT)
    return workflow
